"""Bounded load: 200 concurrent SSE clients on loopback, one run each.

Each client must receive every event of its own run, in order, and none of
another's: the first event names its thread, every event carries its run's
id, the indices count up from 0 without a gap, and the run's end is last.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph_sdk import get_client

from .server_harness import Live

CLIENTS = 200
PER_HTTP_CLIENT = 50  # httpx pools 100 connections per client
TARGET = 3
EVENTS_PER_RUN = 2 + TARGET * 9  # run_started, per step 9 (a token and custom
# data included), run_finished


async def one(client: Any, n: int) -> tuple[str, list[dict[str, Any]]]:
    tid = f"load-{n}"
    await client.threads.create(thread_id=tid)
    got = [
        p
        async for p in client.runs.stream(
            tid, "steps", input={"target": TARGET}, stream_mode="events"
        )
    ]
    assert got[0].event == "metadata"
    return tid, [p.data for p in got if p.event == "events"]


def test_200_concurrent_streams_each_get_exactly_their_own_run(live: Live) -> None:
    async def go() -> list[tuple[str, list[dict[str, Any]]]]:
        clients = [
            get_client(url=live.url, api_key=None)
            for _ in range(CLIENTS // PER_HTTP_CLIENT)
        ]
        try:
            jobs = [one(clients[n % len(clients)], n) for n in range(CLIENTS)]
            return await asyncio.wait_for(asyncio.gather(*jobs), timeout=240)
        finally:
            for c in clients:
                await c.aclose()

    results = asyncio.run(go())
    assert len(results) == CLIENTS
    seen_runs: set[str] = set()
    for tid, events in results:
        assert events[0]["kind"] == "run_started"
        assert events[0]["thread_id"] == tid
        run_id = events[0]["run_id"]
        assert run_id not in seen_runs
        seen_runs.add(run_id)
        assert {e["run_id"] for e in events} == {run_id}
        assert [e["index"] for e in events] == list(range(EVENTS_PER_RUN))
        assert events[-1]["kind"] == "run_finished"
