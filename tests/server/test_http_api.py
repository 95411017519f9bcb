"""End to end: the real ``langgraph-sdk`` client (async and sync) against a live
``hive serve`` app on 127.0.0.1 (a real socket), its embedded worker running the
runs. Long runs are held at a step by a gate the test opens (``server_graphs``)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import APIStatusError

from .server_graphs import GATES, REACHED
from .server_harness import Live

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def run_client(live: Live, body: Callable[[Any], Awaitable[None]]) -> None:
    async def go() -> None:
        async with get_client(url=live.url, api_key=None) as client:
            await body(client)

    asyncio.run(go())


@pytest.fixture
def sync_client(live: Live) -> Iterator[Any]:
    client = get_sync_client(url=live.url, api_key=None)
    yield client
    client.close()


def gate(thread_id: str) -> threading.Event:
    GATES[thread_id] = threading.Event()
    REACHED[thread_id] = threading.Event()
    return GATES[thread_id]


async def reached(thread_id: str) -> None:
    assert await asyncio.to_thread(REACHED[thread_id].wait, 60)


async def stop_requested() -> None:
    """Until the embedded worker's running attempt has a stop request (a condition
    the test waits for, not a guess at timing)."""
    from hive_core.service._current import current_worker

    service: Any = current_worker()  # the embedded Service
    for _ in range(6000):
        if any(stop.reason == "cancelled" for stop in list(service._stops)):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the stop never reached the worker")


def problem(exc: BaseException) -> dict[str, Any]:
    assert isinstance(exc, httpx.HTTPStatusError)
    assert exc.response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = exc.response.json()
    assert body["status"] == exc.response.status_code
    assert body["type"] == f"urn:hive:error:{body['code']}"
    return body


class TestAssistants:
    def test_one_per_graph_with_stable_ids_and_shape(self, live: Live) -> None:
        async def go(client: Any) -> None:
            found = await client.assistants.search()
            assert [a["graph_id"] for a in found] == ["approval", "steps"]
            by_id = await client.assistants.get(found[1]["assistant_id"])
            by_name = await client.assistants.get("steps")
            assert by_id == by_name == found[1]
            shape = await client.assistants.get_graph("steps")
            ids = [n["id"] for n in shape["nodes"]]
            assert ids == ["__start__", "tick", "__end__"]
            assert {"source": "__start__", "target": "tick"} in shape["edges"]
            with pytest.raises(APIStatusError) as info:
                await client.assistants.get("nope")
            assert info.value.status_code == 404
            assert problem(info.value)["code"] == "server-assistant-not-found"

        run_client(live, go)
        text = httpx.get(f"{live.url}/assistants/steps/graph?format=mermaid").text
        assert text.startswith("flowchart LR")

    def test_ok_and_info(self, live: Live) -> None:
        assert httpx.get(f"{live.url}/ok").json() == {"ok": True}
        info = httpx.get(f"{live.url}/info").json()
        assert info["graphs"] == ["approval", "steps"]
        assert "events" in info["stream_modes"]


class TestStreams:
    def test_stream_opens_with_metadata_and_delivers_events_in_order(
        self, live: Live
    ) -> None:
        async def go(client: Any) -> None:
            tid = f"any string: ü {uuid.uuid4().hex[:6]}"
            thread = await client.threads.create(thread_id=tid, metadata={"k": 1})
            assert thread["thread_id"] == tid and thread["metadata"] == {"k": 1}
            assert thread["status"] == "idle"
            parts = [
                p
                async for p in client.runs.stream(
                    tid,
                    "steps",
                    input={"target": 3},
                    stream_mode=["events", "debug", "values"],
                )
            ]
            assert parts[0].event == "metadata"
            run_id = parts[0].data["run_id"]
            events = [p.data for p in parts if p.event == "events"]
            debug = [p.data for p in parts if p.event == "debug"]
            assert events[0]["kind"] == "run_started"
            assert events[0]["thread_id"] == tid
            assert events[-1]["kind"] == "run_finished"
            assert [e["index"] for e in events] == list(range(len(events)))
            assert [e["kind"] for e in events].count("step_started") == 3
            assert [d["payload"] for d in debug] == events
            assert [d["type"] for d in debug] == [e["kind"] for e in events]
            values = [p.data for p in parts if p.event == "values"]
            assert len(values) == 3  # one per committed step
            assert values[-1] == {
                "count": 3, "hold_step": -1, "seen": [1, 2, 3], "target": 3
            }  # fmt: skip
            assert [e["kind"] for e in events].count("step_values") == 3
            got = await client.runs.get(tid, run_id)
            assert got["status"] == "success" and got["thread_id"] == tid
            assert [r["run_id"] for r in await client.runs.list(tid)] == [run_id]
            # join_stream replays the finished run's events from the first
            again = [
                p
                async for p in client.runs.join_stream(
                    tid, run_id, stream_mode="events"
                )
            ]
            assert [p.data for p in again if p.event == "events"] == events

        run_client(live, go)

    def test_values_updates_messages_and_custom_modes(self, live: Live) -> None:
        async def go(client: Any) -> None:
            tid = (await client.threads.create())["thread_id"]
            modes = ["values", "updates", "messages-tuple", "custom"]
            parts = [
                p
                async for p in client.runs.stream(
                    tid, "steps", input={"target": 3}, stream_mode=modes
                )
            ]
            assert parts[0].event == "metadata"
            kinds = [p.event for p in parts[1:]]
            assert kinds == ["messages", "custom", "updates", "values"] * 3
            values = [p.data for p in parts if p.event == "values"]
            assert [v["seen"] for v in values] == [[1], [1, 2], [1, 2, 3]]
            assert values[-1] == (await client.threads.get_state(tid))["values"]
            updates = [p.data for p in parts if p.event == "updates"]
            assert updates[1] == {"tick": {"count": 2, "seen": [2]}}
            messages = [p.data for p in parts if p.event == "messages"]
            chunk, meta = messages[2]
            assert chunk["content"] == "t3" and chunk["type"] == "AIMessageChunk"
            assert meta["langgraph_node"] == "tick" and meta["langgraph_step"] == 2
            custom = [p.data for p in parts if p.event == "custom"]
            assert custom == [{"count": 1}, {"count": 2}, {"count": 3}]
            # an interrupted run: values end with __interrupt__, updates too
            tid2 = (await client.threads.create())["thread_id"]
            asked = [
                p
                async for p in client.runs.stream(
                    tid2,
                    "approval",
                    input={"amount": 1},
                    stream_mode=["updates", "values"],
                )
            ]
            (pending,) = (await client.threads.get_state(tid2))["interrupts"]
            last_values = [p.data for p in asked if p.event == "values"][-1]
            assert last_values["__interrupt__"] == [pending]
            assert asked[-1].event == "updates"
            assert asked[-1].data == {"__interrupt__": [pending]}
            resumed = [
                p
                async for p in client.runs.stream(
                    tid2,
                    "approval",
                    stream_mode="values",
                    command={"resume": {"approved": True, "note": "ok"}},
                )
            ]
            assert resumed[-1].data == {"amount": 1, "status": "approved: ok"}

        run_client(live, go)

    def test_sync_client_waits_creates_and_joins(self, sync_client: Any) -> None:
        client = sync_client
        thread = client.threads.create()
        tid = thread["thread_id"]
        values = client.runs.wait(tid, "steps", input={"target": 2})
        assert values["count"] == 2 and values["seen"] == [1, 2]
        created = client.runs.create(tid, "steps", input={"target": 4})
        assert created["status"] in ("pending", "running", "success")
        assert client.runs.join(tid, created["run_id"])["seen"] == [1, 2, 3, 4]
        assert client.runs.get(tid, created["run_id"])["status"] == "success"
        listed = client.runs.list(tid)
        assert next(r["run_id"] for r in listed) == created["run_id"]  # newest first
        state = client.threads.get_state(tid)
        assert state["values"]["count"] == 4 and state["next"] == []
        streamed = list(client.runs.stream(tid, "steps", input={"target": 6},
                                           stream_mode="updates"))  # fmt: skip
        assert [p.data for p in streamed[1:]][-1] == {"tick": {"count": 6, "seen": [6]}}
        found = client.threads.search(metadata={}, limit=100)
        assert tid in [t["thread_id"] for t in found]


class TestInterrupts:
    def test_interrupt_resume_state_history_and_fork(self, live: Live) -> None:
        async def go(client: Any) -> None:
            tid = (await client.threads.create())["thread_id"]
            parts = [
                p
                async for p in client.runs.stream(tid, "approval", input={"amount": 7})
            ]
            last = parts[-1]
            assert last.event == "values"
            (interrupt,) = last.data["__interrupt__"]
            assert interrupt["value"] == "approve 7?"
            state = await client.threads.get_state(tid)
            assert state["interrupts"] == [interrupt]
            assert state["next"] == ["review"]
            assert state["tasks"][0]["name"] == "review"
            assert state["tasks"][0]["interrupts"] == [interrupt]
            thread = await client.threads.get(tid)
            assert thread["status"] == "interrupted"
            assert list(thread["interrupts"].values()) == [[interrupt]]
            # fork: the copy stands at the same interrupt
            copy = await client.threads.copy(tid)
            assert copy["thread_id"] != tid
            assert copy["status"] == "interrupted"
            assert copy["values"] == state["values"]
            yes = {"approved": True, "note": "fine"}
            done = await client.runs.wait(tid, "approval", command={"resume": yes})
            assert done["status"] == "approved: fine"
            no = {interrupt["id"]: {"approved": False, "note": "too much"}}
            other = await client.runs.wait(
                copy["thread_id"], "approval", command={"resume": no}
            )
            assert other["status"] == "rejected: too much"
            assert (await client.threads.get_state(tid))["values"]["status"] == (
                "approved: fine"
            )
            history = await client.threads.get_history(tid)
            steps = [h["metadata"]["step"] for h in history]
            assert steps == sorted(steps, reverse=True) and len(steps) >= 2
            assert (
                history[0]["checkpoint"]
                == (await client.threads.get_state(tid))["checkpoint"]
            )
            assert history[0]["parent_checkpoint"] == history[1]["checkpoint"]
            older = await client.threads.get_history(
                tid, before={"checkpoint_id": history[0]["checkpoint"]["checkpoint_id"]}
            )
            assert older == history[1:]
            past = await client.threads.get_state(
                tid, checkpoint_id=history[-1]["checkpoint"]["checkpoint_id"]
            )
            assert past["interrupts"] == [interrupt]

        run_client(live, go)

    def test_update_state_is_an_external_write(self, live: Live) -> None:
        async def go(client: Any) -> None:
            tid = (await client.threads.create())["thread_id"]
            await client.runs.wait(tid, "steps", input={"target": 1})
            done = await client.threads.update_state(tid, {"target": 9})
            state = await client.threads.get_state(tid)
            assert state["values"]["target"] == 9
            assert state["checkpoint"] == done["checkpoint"]
            with pytest.raises(APIStatusError) as info:
                await client.threads.update_state(tid, {"target": "nine"})
            assert info.value.status_code == 422
            assert problem(info.value)["code"] == "channel-type-mismatch"
            assert (await client.threads.get_state(tid)) == state  # unchanged

        run_client(live, go)


class TestCancelAndBusyThreads:
    def test_cancel_a_long_run_mid_step(self, live: Live) -> None:
        async def go(client: Any) -> None:
            tid = (await client.threads.create())["thread_id"]
            opened = gate(tid)
            created = await client.runs.create(
                tid, "steps", input={"target": 5, "hold_step": 2}
            )
            await reached(tid)
            await client.runs.cancel(tid, created["run_id"], wait=True)
            opened.set()
            got = await client.runs.get(tid, created["run_id"])
            assert got["status"] == "interrupted" and got["hive_status"] == "cancelled"
            state = await client.threads.get_state(tid)
            assert state["values"]["seen"] == [1, 2]  # step 2 never committed
            assert state["next"] == ["tick"]

        run_client(live, go)

    def test_multitask_reject_enqueue_and_interrupt(self, live: Live) -> None:
        async def go(client: Any) -> None:
            tid = (await client.threads.create())["thread_id"]
            opened = gate(tid)
            first = await client.runs.create(
                tid, "steps", input={"target": 3, "hold_step": 1}
            )
            await reached(tid)
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(
                    tid, "steps", input={"target": 3}, multitask_strategy="reject"
                )
            assert info.value.status_code == 409
            body = problem(info.value)
            assert body["code"] == "server-thread-busy"
            assert body["culprit"]["run_ids"] == [first["run_id"]]
            queued = await client.runs.create(tid, "steps", input={"target": 4})
            assert (await client.runs.get(tid, queued["run_id"]))["status"] == "pending"
            opened.set()
            assert (await client.runs.join(tid, queued["run_id"]))["seen"] == [
                1, 2, 3, 4
            ]  # fmt: skip
            assert (await client.runs.get(tid, first["run_id"]))["status"] == "success"

            tid2 = (await client.threads.create())["thread_id"]
            held = gate(tid2)
            slow = await client.runs.create(
                tid2, "steps", input={"target": 5, "hold_step": 1}
            )
            await reached(tid2)
            fresh = await client.runs.create(
                tid2, "steps", input={"target": 3}, multitask_strategy="interrupt"
            )
            await stop_requested()  # the worker got the stop while step 1 waits
            held.set()  # the step in flight finishes and commits, then it stops
            await client.runs.join(tid2, fresh["run_id"])
            stopped = await client.runs.get(tid2, slow["run_id"])
            assert stopped["hive_status"] == "cancelled"
            state = await client.threads.get_state(tid2)
            assert state["values"]["seen"] == [1, 2, 3]
            assert state["values"]["target"] == 3

        run_client(live, go)


class TestProblems:
    def test_typed_4xx_for_bad_input_change_nothing(self, live: Live) -> None:
        async def go(client: Any) -> None:
            with pytest.raises(APIStatusError) as info:
                await client.threads.get("no-such-thread")
            body = problem(info.value)
            assert body["status"] == 404 and body["code"] == "server-thread-not-found"
            assert body["culprit"] == {"thread_id": "no-such-thread"}
            with pytest.raises(APIStatusError) as info:
                await client.runs.create("no-such-thread", "steps")
            assert problem(info.value)["code"] == "server-thread-not-found"
            tid = (await client.threads.create())["thread_id"]
            with pytest.raises(APIStatusError) as info:
                await client.threads.create(thread_id=tid)
            assert problem(info.value)["code"] == "thread-exists"
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid, "steps", input={"target": "five"})
            body = problem(info.value)
            assert body["status"] == 422 and body["code"] == "channel-type-mismatch"
            assert body["culprit"]["channel_id"] == "target"
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid, "steps", input={"nope": 1})
            assert problem(info.value)["code"] == "unknown-channel"
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid, "steps", stream_mode="tasks")
            assert problem(info.value)["code"] == "server-unsupported"
            assert await client.runs.list(tid) == []  # nothing was queued
            assert (await client.threads.get(tid))["values"] is None

            await client.runs.wait(tid2 := (await client.threads.create())["thread_id"],
                                   "approval", input={"amount": 3})  # fmt: skip
            before = await client.threads.get_state(tid2)
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid2, "approval", input={"amount": 4})
            assert problem(info.value)["status"] == 409
            assert problem(info.value)["code"] == "interrupt-pending"
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(
                    tid2, "approval", command={"resume": {"approved": "yes"}}
                )
            body = problem(info.value)
            assert body["status"] == 422 and body["code"] == "resume-payload-invalid"
            assert "Fix" not in body["culprit"]
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid2, "steps", input={})
            assert problem(info.value)["code"] == "server-invalid-request"
            assert await client.threads.get_state(tid2) == before
            assert len(await client.runs.list(tid2)) == 1
            with pytest.raises(APIStatusError) as info:
                await client.runs.create(tid, "approval", command={"resume": True})
            assert problem(info.value)["status"] == 409

        run_client(live, go)

    def test_malformed_bodies(self, live: Live) -> None:
        url = f"{live.url}/threads"
        bad = httpx.post(
            url, content=b"{nope", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
        assert bad.json()["code"] == "server-malformed-json"
        text = httpx.post(url, content=b"{}", headers={"content-type": "text/plain"})
        assert text.status_code == 415
        assert text.json()["code"] == "server-unsupported-media-type"
        huge = httpx.post(url, json={"metadata": {"x": "y" * (2 << 20)}})
        assert huge.status_code == 413
        assert huge.json()["code"] == "server-body-too-large"
        typed = httpx.post(url, json={"thread_id": 5})
        assert typed.status_code == 422
        assert typed.json()["culprit"]["field"] == "$.thread_id"
        tid = httpx.post(url, json={}).json()["thread_id"]
        paged = httpx.get(f"{live.url}/threads/{tid}/runs?limit=ten")
        assert paged.status_code == 422 and paged.json()["culprit"]["field"] == "limit"
        searched = httpx.post(f"{live.url}/threads/search", json={"ids": ["none"]})
        assert searched.json() == []


def test_trace_of_a_thread_is_readable(live: Live, sync_client: Any) -> None:
    client = sync_client
    tid = client.threads.create()["thread_id"]
    client.runs.wait(tid, "steps", input={"target": 2})
    text = httpx.get(f"{live.url}/threads/{tid}/trace").text
    assert f"thread: {tid}" in text
    assert "events:" in text and "store:" in text
    assert "| run_started" in text and "count = 2" in text


def test_api_key_and_a_server_without_a_worker(live: Live) -> None:
    """A second server on the same state, with a key and no worker of its own:
    the first server's worker runs what it queues."""
    from .server_harness import start_server

    keyed, server, thread = start_server(live.data_dir, api_key="s3cret", worker=False)
    try:
        assert httpx.get(f"{keyed.url}/ok").status_code == 200  # health stays open
        denied = httpx.post(f"{keyed.url}/threads", json={})
        assert denied.status_code == 401
        assert denied.json()["code"] == "server-unauthorized"
        wrong = httpx.get(f"{keyed.url}/info", headers={"x-api-key": "nope"})
        assert wrong.status_code == 401
        bearer = httpx.get(
            f"{keyed.url}/info", headers={"Authorization": "Bearer s3cret"}
        )
        assert bearer.json()["worker"] is False
        client: Any = get_sync_client(url=keyed.url, api_key="s3cret")
        tid = client.threads.create()["thread_id"]
        assert client.runs.wait(tid, "steps", input={"target": 2})["count"] == 2
        client.close()
    finally:
        server.should_exit = True
        thread.join(60)
