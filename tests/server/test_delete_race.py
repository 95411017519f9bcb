"""``DELETE /threads/{id}`` against a run being created for the same thread, on a
live server (uvicorn on 127.0.0.1, embedded worker, real httpx clients).

The run's creation is held inside its submit (after it read the thread's record,
before its run row exists). Without the thread lock the delete saw no run,
deleted the thread, and the run then wrote checkpoints under the deleted id,
which no new thread could take again (a 409 for ever). With it, the delete waits
for the creation (the guard counts it), then sees the queued run and answers 409;
once the run ends the delete goes through and the id starts afresh.

The other way round, a delete is held between its store delete and its record
delete; a thread created with the same id, a state update, a copy and a run with
``if_not_exists="create"`` wait for it, then meet no thread (without the lock:
the old record, and writes under a deleted id). Two resumes of one interrupt
exclude each other the same way. Each test runs on embedded SQLite and on a
database of its own on the test PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from _gates import holds_soon

from .guard_support import advisory_locks, fresh_database
from .server_graphs import GATES, REACHED
from .server_harness import Live, start_server

WAIT = 60.0


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str | None]:
    """``None`` (embedded SQLite), or a fresh database on the test PostgreSQL."""
    if kind == "sqlite":
        yield None
        return
    with fresh_database() as url:
        yield url


class Served:
    """A live server, its backend, and how to see that two requests meet at a
    thread's lock: the guard's count here, ``pg_locks`` on PostgreSQL."""

    def __init__(self, live: Live, backend: Any, database_url: str | None) -> None:
        self.live, self.backend, self.database_url = live, backend, database_url

    def contended(self, thread_id: str) -> bool:
        if self.database_url is None:
            return bool(self.backend.guard.waiters(thread_id) == 2)
        locks = advisory_locks(self.database_url, thread_id)
        return len(locks) == 2 and any(not granted for _, granted in locks)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with _database(request.param) as url:
        data = tmp_path_factory.mktemp("serve")
        handle, server, thread = start_server(data, database_url=url)
        try:
            yield Served(handle, server.config.app.state.backend, url)
        finally:
            server.should_exit = True
            thread.join(60)


def _held(
    queue: Callable[..., Awaitable[str]], entered: threading.Event, go: threading.Event
) -> Callable[..., Awaitable[str]]:
    """The client's ``queue`` call, held at its start until ``go`` (after it
    set ``entered``): the request stays inside its lock meanwhile."""

    async def held(*args: Any, **kwargs: Any) -> str:
        entered.set()
        assert await asyncio.to_thread(go.wait, WAIT)
        return await queue(*args, **kwargs)

    return held


def _delete(http: httpx.Client, tid: str) -> httpx.Response:
    return http.delete(f"/threads/{tid}")


def _update_state(http: httpx.Client, tid: str) -> httpx.Response:
    return http.post(f"/threads/{tid}/state", json={"values": {"count": 9}})


def _reject(http: httpx.Client, tid: str) -> httpx.Response:
    run = {"assistant_id": "steps", "input": {"target": 2}}
    return http.post(
        f"/threads/{tid}/runs", json={**run, "multitask_strategy": "reject"}
    )


@pytest.mark.parametrize("check", [_delete, _update_state, _reject])
def test_a_check_waits_for_a_run_being_created_and_then_refuses(
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    check: Callable[[httpx.Client, str], httpx.Response],
) -> None:
    """A delete, a state update or a ``reject`` run (each a check that no run is
    in flight, then a write), against a run whose creation is under way."""
    live, backend = served.live, served.backend
    tid = f"race{check.__name__}-{uuid.uuid4().hex[:8]}"
    GATES[tid], REACHED[tid] = threading.Event(), threading.Event()
    in_submit, go = threading.Event(), threading.Event()
    held_submit = _held(backend.client.submit, in_submit, go)
    monkeypatch.setattr(backend.client, "submit", held_submit)
    with (
        httpx.Client(base_url=live.url, timeout=WAIT) as http,
        ThreadPoolExecutor(2) as pool,
    ):
        made = {"thread_id": tid, "metadata": {"graph_id": "steps"}}
        assert http.post("/threads", json=made).status_code == 200
        run_body = {"assistant_id": "steps", "input": {"target": 3, "hold_step": 1}}
        creating = pool.submit(http.post, f"/threads/{tid}/runs", json=run_body)
        assert in_submit.wait(WAIT)
        deleting = pool.submit(check, http, tid)
        try:
            holds_soon(
                lambda: served.contended(tid) or deleting.done(),
                "the check to wait",
            )
            assert not deleting.done(), deleting.result().text
        finally:
            go.set()  # a failure above must not leave the run's creation waiting
        created = creating.result()
        assert created.status_code == 200, created.text
        run_id = created.json()["run_id"]
        refused = deleting.result()
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["code"] == "server-thread-busy"
        assert problem["culprit"]["run_ids"] == [run_id]
        monkeypatch.undo()

        assert REACHED[tid].wait(WAIT)  # the run is there, the thread intact
        assert http.get(f"/threads/{tid}").json()["status"] == "busy"
        GATES[tid].set()
        joined = http.get(f"/threads/{tid}/runs/{run_id}/join")
        assert joined.json()["seen"] == [1, 2, 3]
        assert http.delete(f"/threads/{tid}").status_code == 204
        assert backend.guard.waiters(tid) == 0
        if served.database_url is not None:
            assert advisory_locks(served.database_url, tid) == []
        again = http.post("/threads", json={"thread_id": tid})
        assert again.status_code == 200, again.text
        assert again.json()["values"] is None or again.json()["values"] == {}
        history = http.post(f"/threads/{tid}/history", json={})
        assert history.json() == []


def _ran(http: httpx.Client, tid: str) -> None:
    body = {"thread_id": tid, "metadata": {"graph_id": "steps", "v": 1}}
    assert http.post("/threads", json=body).status_code == 200
    run = {"assistant_id": "steps", "input": {"target": 2}}
    done = http.post(f"/threads/{tid}/runs/wait", json=run)
    assert done.json()["seen"] == [1, 2], done.text


def _create(http: httpx.Client, tid: str) -> None:
    got = http.post("/threads", json={"thread_id": tid, "metadata": {"v": 2}})
    assert got.status_code == 200, got.text
    assert got.json()["metadata"] == {"v": 2}
    assert http.post(f"/threads/{tid}/history", json={}).json() == []


def _update(http: httpx.Client, tid: str) -> None:
    got = http.post(f"/threads/{tid}/state", json={"values": {"count": 9}})
    assert got.status_code == 404, got.text
    assert got.json()["code"] == "server-thread-not-found"
    assert http.get(f"/threads/{tid}").status_code == 404


def _copy(http: httpx.Client, tid: str) -> None:
    got = http.post(f"/threads/{tid}/copy", json={})
    assert got.status_code == 404, got.text  # not a copy of a deleted thread
    listed = http.post("/threads/search", json={"metadata": {"v": 1}}).json()
    assert [t for t in listed if t["thread_id"] != tid] == []


def _run_creating(http: httpx.Client, tid: str) -> None:
    run = {"assistant_id": "steps", "input": {"target": 2}, "if_not_exists": "create"}
    got = http.post(f"/threads/{tid}/runs/wait", json=run)
    assert got.status_code == 200, got.text
    assert got.json()["seen"] == [1, 2]  # a fresh thread, not the deleted one's
    assert http.get(f"/threads/{tid}").status_code == 200
    assert len(http.post(f"/threads/{tid}/history", json={}).json()) >= 1


@pytest.mark.parametrize("change", [_create, _update, _copy, _run_creating])
def test_a_change_waits_for_a_delete_in_flight_then_finds_no_thread(
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[httpx.Client, str], None],
) -> None:
    live, backend = served.live, served.backend
    tid = f"race-{change.__name__.strip('_')}-{uuid.uuid4().hex[:8]}"
    in_delete, go = threading.Event(), threading.Event()
    delete_record = backend.db.delete_thread

    def held_delete(thread_id: str) -> None:  # after the store's delete
        in_delete.set()
        assert go.wait(WAIT)
        delete_record(thread_id)

    with (
        httpx.Client(base_url=live.url, timeout=WAIT) as http,
        ThreadPoolExecutor(2) as pool,
    ):
        _ran(http, tid)
        monkeypatch.setattr(backend.db, "delete_thread", held_delete)
        deleting = pool.submit(http.delete, f"/threads/{tid}")
        try:
            assert in_delete.wait(WAIT)
            changing = pool.submit(change, http, tid)
            holds_soon(
                lambda: served.contended(tid) or changing.done(),
                "the change to wait",
            )
            assert not changing.done(), changing.result()
        finally:
            go.set()  # a failure above must not leave the delete waiting
        assert deleting.result().status_code == 204
        changing.result()


def test_two_resumes_of_one_interrupt_give_one_run_and_one_409(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume checks that no run is in flight, then queues one: the second of
    two resumes waits for the first (held inside its queueing), then is refused."""
    live, backend = served.live, served.backend
    tid = f"race-resume-{uuid.uuid4().hex[:8]}"
    in_resume, go = threading.Event(), threading.Event()
    held_resume = _held(backend.client.resume, in_resume, go)
    answer = {"assistant_id": "approval", "command": {"resume": {"approved": True}}}
    with (
        httpx.Client(base_url=live.url, timeout=WAIT) as http,
        ThreadPoolExecutor(2) as pool,
    ):
        asked = {"assistant_id": "approval", "input": {"amount": 5}}
        assert http.post("/threads", json={"thread_id": tid}).status_code == 200
        paused = http.post(f"/threads/{tid}/runs/wait", json=asked)
        assert paused.json()["__interrupt__"], paused.text
        monkeypatch.setattr(backend.client, "resume", held_resume)
        first = pool.submit(http.post, f"/threads/{tid}/runs", json=answer)
        assert in_resume.wait(WAIT)
        second = pool.submit(http.post, f"/threads/{tid}/runs", json=answer)
        try:
            holds_soon(
                lambda: served.contended(tid) or second.done(), "the second to wait"
            )
            assert not second.done(), second.result().text
        finally:
            go.set()
        accepted = first.result()
        assert accepted.status_code == 200, accepted.text
        refused = second.result()
        assert refused.status_code == 409, refused.text
        assert refused.json()["culprit"]["run_ids"] == [accepted.json()["run_id"]]
        monkeypatch.undo()
        run_id = accepted.json()["run_id"]
        done = http.get(f"/threads/{tid}/runs/{run_id}/join").json()
        assert done["status"] == "approved: "
        runs = http.get(f"/threads/{tid}/runs").json()
        assert len(runs) == 2  # the question and one answer
