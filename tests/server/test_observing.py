"""``hive serve``'s ``/metrics`` and live viewer (``/ui``): runs driven through the
real ``langgraph-sdk`` client against uvicorn on 127.0.0.1 are counted at
``/metrics`` (parsed with prometheus_client's own text parser and checked against
the runs' events in the service's event table), and ``/ui/threads/{id}`` shows
their steps. Off loopback both need the API key, as the API does."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

pytest.importorskip("prometheus_client")
from _scrape import samples, value

from hive_core.events import Event
from hive_core.service import ServiceClient, ServiceConfig

from .server_harness import Live, start_server

RUNS = 3


async def stored_events(data_dir: Path, thread_id: str) -> list[Event]:
    """The thread's events as the service stored them (not through the server)."""
    client = ServiceClient(ServiceConfig(data_dir=str(data_dir)))
    try:
        out: list[Event] = []
        for run in await client.list_runs(thread_id=thread_id):
            out += await client.events_so_far(run.run_id)
        return out
    finally:
        client.close()


def page_model(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="hive-data">(.*?)</script>', html, re.S
    )
    assert found is not None, "the page carries no model"
    model: dict[str, Any] = json.loads(found.group(1))
    return model


def test_runs_through_the_sdk_are_counted_and_viewable(live: Live) -> None:
    async def go() -> tuple[list[str], str]:
        async with get_client(url=live.url, api_key=None) as client:
            tids = []
            for i in range(RUNS):
                tid = (await client.threads.create())["thread_id"]
                await client.runs.wait(tid, "steps", input={"target": i + 2})
                tids.append(tid)
        async with httpx.AsyncClient(base_url=live.url) as http:
            return tids, (await http.get("/metrics")).text

    tids, text = asyncio.run(go())
    got = samples(text)
    events = [ev for t in tids for ev in asyncio.run(stored_events(live.data_dir, t))]
    kinds = Counter(type(ev).__name__ for ev in events)
    assert kinds["RunFinished"] == RUNS
    assert value(got, "hive_runs_started_total") == kinds["RunStarted"] == RUNS
    assert value(got, "hive_runs_total", status="finished") == RUNS
    assert value(got, "hive_runs_active") == 0
    assert kinds["StepFinished"] == 2 + 3 + 4
    assert value(got, "hive_step_duration_seconds_count") == kinds["StepFinished"]
    tasks = kinds["TaskFinished"]
    assert value(got, "hive_task_duration_seconds_count", node="tick") == tasks == 9
    saved = kinds["CheckpointSaved"]
    assert value(got, "hive_checkpoint_save_duration_seconds_count") == saved > 0
    assert value(got, "hive_service_queue_wait_seconds_count") == RUNS

    with httpx.Client(base_url=live.url) as http:
        listing = http.get("/ui")
        assert listing.status_code == 200
        for tid in tids:
            assert f'data-thread="{tid}"' in listing.text
        page = http.get(f"/ui/threads/{tids[-1]}")
        assert page.status_code == 200
        model = page_model(page.text)
        assert [
            (s["step"], [t["node"] for t in s["tasks"]]) for s in model["steps"]
        ] == [(i, ["tick"]) for i in range(4)]
        assert all(s["finished"] for s in model["steps"])
        # the server serves two graphs: edges come from the trace, marked inferred
        assert model["graph_inferred"] is True
        assert model["svg"].count('data-node="tick"') == 1  # one element per node
        assert http.get(f"/ui/threads/{tids[-1]}/model.json").json() == model
        assert http.get("/ui/threads/no-such-thread").status_code == 404


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    handle, server, thread = start_server(
        tmp_path_factory.mktemp("keyed"), api_key="s3cret"
    )
    yield handle
    server.should_exit = True
    thread.join(60)


@pytest.mark.parametrize("path", ["/metrics", "/ui", "/ui/threads/x"])
def test_metrics_and_ui_need_the_api_key_as_the_api_does(
    keyed: Live, path: str
) -> None:
    with httpx.Client(base_url=keyed.url) as http:
        assert http.get("/ok").status_code == 200
        refused = http.get(path)
        assert refused.status_code == 401
        assert refused.json()["code"] == "server-unauthorized"
        wrong = http.get(path, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401
        ok = http.get(path, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == (404 if path == "/ui/threads/x" else 200)


def test_metrics_and_ui_can_be_left_out(tmp_path: Path) -> None:
    handle, server, thread = start_server(tmp_path, metrics=False, ui=False)
    try:
        with httpx.Client(base_url=handle.url) as http:
            assert http.get("/ok").status_code == 200
            assert http.get("/metrics").status_code == 404
            assert http.get("/ui").status_code == 404
    finally:
        server.should_exit = True
        thread.join(60)
