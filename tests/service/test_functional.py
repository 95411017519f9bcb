"""What a user of the service sees, in one process: on the embedded default
(SQLite, no server) and on PostgreSQL, the same tests.

Ordering is by barriers (a file the node waits on, a ``.reached`` file it writes),
never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_core import CheckpointPolicy, RunOptions, Runtime
from hive_core.events import Event, trace_to_builtins
from hive_core.persistence import SQLiteCheckpointStore
from hive_core.service import (
    RetryPolicy,
    RunNotFoundError,
    Service,
    ServiceClient,
    ServiceConfig,
    UnknownGraphError,
)
from hive_core.testing import SequentialIds, Trace

from .conftest import start_service
from .service_graphs import counter

WAIT = 60.0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    fails = tmp_path_factory.mktemp("fails")
    os.environ["HIVE_TEST_FAILS"] = str(fails)
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database").url
    config = ServiceConfig(
        data_dir=str(tmp_path_factory.mktemp("svc")),
        database_url=url,
        executor_id=f"functional-{request.param}",
        retry=RetryPolicy(max_attempts=3, backoff_s=0.01),
        polling_interval_s=0.02,
    )
    svc = start_service(config, ids=SequentialIds)
    yield svc
    svc.shutdown()


@pytest.fixture
def client(service: Service) -> ServiceClient:
    return service.client


@pytest.fixture
def hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A barrier: the counter node waits at step 2 while this file exists."""
    gate = tmp_path / "hold"
    gate.write_text("")
    monkeypatch.setenv("HIVE_TEST_HOLD", str(gate))
    monkeypatch.setenv("HIVE_TEST_HOLD_STEP", "2")
    yield gate
    gate.unlink(missing_ok=True)


def wait_for(path: Path) -> None:
    """Block until ``path`` exists (written by a node at its barrier)."""
    for _ in range(int(WAIT / 0.005)):
        if path.exists():
            return
        asyncio.run(asyncio.sleep(0.005))
    raise AssertionError(f"{path} never appeared")


def events_of(client: ServiceClient, run_id: str) -> list[Event]:
    async def go() -> list[Event]:
        return [e async for e in client.events(run_id)]

    return asyncio.run(go())


def in_process(thread: str, input: Any, tmp: Path) -> Trace:
    with SQLiteCheckpointStore(tmp / "inproc.sqlite") as store:
        runtime = Runtime(counter, checkpoint_store=store, ids=SequentialIds())
        options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))

        async def go() -> Trace:
            handle = runtime.run(thread, input, options)
            evs = [e async for e in handle.events]
            outcome = await handle
            return Trace(events=evs, store=dict(outcome.output), outcome=outcome)

        return asyncio.run(go())


def test_a_run_gives_the_same_trace_as_in_process(
    client: ServiceClient, tmp_path: Path
) -> None:
    run_id = client.submit_sync("counter", "trace-1", {"target": 4})
    result = client.result_sync(run_id, timeout=WAIT)
    assert result.status == "finished"
    assert result.output == {"count": 4, "seen": [1, 2, 3, 4], "target": 4}
    served = events_of(client, run_id)
    local = in_process("trace-1", {"target": 4}, tmp_path)
    assert trace_to_builtins(served) == local.events
    assert Trace(
        events=served, store=result.output, outcome=local.outcome
    ).to_text() == (local.to_text())


def test_a_late_reader_replays_every_event_from_the_start(
    client: ServiceClient,
) -> None:
    run_id = client.submit_sync("counter", "late-1", {"target": 3})
    client.result_sync(run_id, timeout=WAIT)
    first = events_of(client, run_id)
    again = events_of(client, run_id)
    assert [e.index for e in first] == list(range(len(first)))
    assert again == first
    assert type(first[-1]).__name__ == "RunFinished"


def test_a_duplicate_submit_runs_once(client: ServiceClient) -> None:
    a = client.submit_sync("counter", "dup-1", {"target": 2}, request_id="req-dup-1")
    b = client.submit_sync("counter", "dup-1", {"target": 2}, request_id="req-dup-1")
    assert a == b == "req-dup-1"
    assert client.result_sync(a, timeout=WAIT).output["seen"] == [1, 2]
    assert len(client.attempts_sync(a)) == 1
    assert len(client.list_runs_sync(thread_id="dup-1")) == 1


def test_an_interrupted_run_is_resumed_with_a_payload(client: ServiceClient) -> None:
    first = client.submit_sync("approval", "exp-1", {"amount": 120})
    asked = client.result_sync(first, timeout=WAIT)
    assert asked.status == "interrupted"
    assert asked.interrupt_payload == "approve 120?"
    assert asked.interrupt_id is not None
    second = client.resume_sync("exp-1", asked.interrupt_id, "approved")
    done = client.result_sync(second, timeout=WAIT)
    assert done.status == "finished"
    assert done.output == {"amount": 120, "status": "approved"}


def test_a_run_over_its_timeout_ends_timed_out_and_resumes_later(
    client: ServiceClient, hold: Path
) -> None:
    run_id = client.submit_sync("counter", "slow-1", {"target": 4}, timeout_s=0.5)
    result = client.result_sync(run_id, timeout=WAIT)
    assert result.status == "timed_out", result.error
    assert result.output["seen"] == [1, 2]  # steps 0 and 1 committed; 2 held
    hold.unlink()
    client.retry_sync(run_id)
    again = client.result_sync(run_id, timeout=WAIT)
    assert again.status == "finished"
    assert again.output["seen"] == [1, 2, 3, 4]  # the input was not applied twice
    assert [a.result for a in client.attempts_sync(run_id)] == ["timed_out", "finished"]


def test_cancel_stops_a_running_run(client: ServiceClient, hold: Path) -> None:
    run_id = client.submit_sync("counter", "cancel-1", {"target": 5})
    wait_for(Path(f"{hold}.cancel-1.reached"))
    client.cancel_sync(run_id)
    result = client.result_sync(run_id, timeout=WAIT)
    assert result.status == "cancelled"
    assert result.output["seen"] == [1, 2]


def test_a_failing_run_is_retried_then_dead_lettered_then_retried_by_hand(
    client: ServiceClient,
) -> None:
    healed = client.submit_sync("flaky", "flaky-1", {"fail_times": 2})
    assert client.result_sync(healed, timeout=WAIT).status == "finished"
    assert client.status_sync(healed).failures == 2

    dead = client.submit_sync("flaky", "flaky-2", {"fail_times": 4})
    result = client.result_sync(dead, timeout=WAIT)
    assert result.status == "failed"
    assert "planned failure 3" in (result.error or "")
    letters = {r.run_id: r for r in client.dead_letters_sync()}
    assert "planned failure 3" in (letters[dead].last_error or "")
    client.retry_sync(dead)  # three more tries: the fourth failure, then success
    assert client.result_sync(dead, timeout=WAIT).output == {
        "done": True,
        "fail_times": 4,
    }
    assert [a.result for a in client.attempts_sync(dead)] == ["failed", "finished"]


def test_unknown_graphs_and_runs_are_typed_errors(client: ServiceClient) -> None:
    with pytest.raises(UnknownGraphError) as bad:
        client.submit_sync("nope", "t", None)
    assert bad.value.graph == "nope" and "counter" in bad.value.known
    with pytest.raises(RunNotFoundError) as missing:
        client.status_sync("no-such-run")
    assert missing.value.run_id == "no-such-run"


def test_the_worker_registry_shows_this_worker_alive(
    client: ServiceClient, service: Service
) -> None:
    (me,) = [w for w in client.workers_sync() if w.worker_id == service.worker_id]
    assert me.alive and me.pid == os.getpid() and me.version == "1"
    assert me.capacity == 4
    health = service.health()
    assert health["live"] and health["ready"]


def test_the_live_view_reads_a_running_thread_from_the_service(
    client: ServiceClient, hold: Path
) -> None:
    from hive_core.viewer import ServiceThreads
    from hive_core.viewer._live import _loaded
    from hive_core.viewer._model import build_view

    source = ServiceThreads(client)
    run_id = client.submit_sync("counter", "viewed-1", {"target": 4})
    wait_for(Path(f"{hold}.viewed-1.reached"))  # the node waits at step 2
    assert "viewed-1" in asyncio.run(source.threads())
    so_far = asyncio.run(source.thread_events("viewed-1"))
    assert so_far is not None
    running = build_view(_loaded(so_far), title="t")["steps"]
    assert [(s["step"], s["finished"]) for s in running][:2] == [(0, True), (1, True)]
    hold.unlink()
    assert client.result_sync(run_id, timeout=WAIT).status == "finished"
    viewed = asyncio.run(source.thread_events("viewed-1"))
    assert list(viewed or ()) == events_of(client, run_id)
    assert asyncio.run(source.thread_events("no-such-thread")) is None
