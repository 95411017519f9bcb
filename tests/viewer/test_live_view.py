"""The live view under uvicorn on 127.0.0.1: /ui lists threads, the thread page
receives a new step while the run goes (gate-ordered), /metrics alongside; checked
with a real HTTP client and in a real headless Chromium."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
import httpx
import uvicorn
from starlette.applications import Starlette

from hive_core import (
    Environment,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import RunStarted
from hive_core.observability import PrometheusMetrics, metrics_route
from hive_core.testing import SequentialIds
from hive_core.viewer import EventLog, live_routes

WAIT_S = 20


class L(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


class Gated:
    """A graph whose second step blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def first(self, inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(L.log, ["first"])])

    def second(self, inp: NodeInput) -> NodeOutput:
        self.entered.set()
        assert self.gate.wait(WAIT_S)
        return NodeOutput(writes=[Write(L.log, ["second"])])

    def third(self, inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(L.log, ["third"])])

    def graph(self) -> Any:
        return (
            GraphBuilder(L, start=["first"])
            .add_node("first", self.first)
            .add_node("second", self.second, blocking=True)
            .add_node("third", self.third)
            .add_edge("first", "second")
            .add_edge("second", "third")
            .compile()
        )


class Served:
    def __init__(self) -> None:
        self.gated = Gated()
        self.graph = self.gated.graph()
        self.log = EventLog()
        self.metrics = PrometheusMetrics()
        app = Starlette(
            routes=[
                *live_routes(self.log, graph=self.graph),
                metrics_route(self.metrics.registry),
            ]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
            )
        )
        # bound and listening before the server runs: clients connect at once and
        # wait in the backlog, so nothing has to poll for the server to be up
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.outcome: Any = None
        self.run_thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rt = Runtime(
            self.graph,
            environment=Environment(observer=self.metrics),
            ids=SequentialIds(),
        )
        self.outcome = asyncio.run(self.log.follow(rt.run("live-1", {})))

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    s.thread.start()
    try:
        s.run_thread.start()
        assert s.gated.entered.wait(WAIT_S)  # step 1 is running
        yield s
    finally:
        s.gated.gate.set()
        s.run_thread.join(WAIT_S)
        s.server.should_exit = True
        s.thread.join(WAIT_S)
        s.sock.close()


def steps_of(model: dict[str, Any]) -> list[tuple[int, list[str], bool]]:
    return [
        (s["step"], [t["node"] for t in s["tasks"]], s["finished"])
        for s in model["steps"]
    ]


def test_live_model_over_http(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        index = http.get("/ui")
        assert index.status_code == 200 and 'data-thread="live-1"' in index.text
        during = http.get("/ui/threads/live-1/model.json").json()
        assert steps_of(during) == [(0, ["first"], True), (1, ["second"], False)]
        assert http.get("/ui/threads/nope/model.json").status_code == 404
        assert http.get("/ui/threads/nope").status_code == 404
        odd = "team/a <b>"
        served.log.append(
            odd, RunStarted(run_id="r", attempt_id="a", index=0, thread_id=odd)
        )
        listing = http.get("/ui").text
        assert 'data-thread="team/a &lt;b&gt;"' in listing
        href = listing.split('data-thread="team/a &lt;b&gt;" href="')[1].split('"')[0]
        page = http.get(href)
        assert page.status_code == 200 and "<b>" not in page.text
        assert http.get(href + "/model.json").json()["title"] == f"thread {odd}"
        assert "hive_runs_active 1.0" in http.get("/metrics").text
        served.gated.gate.set()
        served.run_thread.join(WAIT_S)
        after = http.get("/ui/threads/live-1/model.json").json()
        assert steps_of(after) == [
            (0, ["first"], True),
            (1, ["second"], True),
            (2, ["third"], True),
        ]
        assert after["steps"][-1]["store"]["log"].startswith("(hash ")
        metrics = http.get("/metrics").text
        assert 'hive_runs_total{status="finished"} 1.0' in metrics
    assert served.outcome.status == "finished"


def test_live_page_receives_a_new_step(
    served: Served, browser: Any, screenshot: Any
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def wait(condition: Any) -> Any:
        return WebDriverWait(browser, WAIT_S).until(condition)

    browser.get(served.url + "/ui")
    link = wait(
        lambda b: b.find_element("css selector", 'a.thread[data-thread="live-1"]')
    )
    link.click()
    wait(
        lambda b: b.find_element("tag name", "body").get_attribute("data-steps") == "2"
    )
    assert browser.find_element("id", "step-title").text == "STEP 1 (RUNNING)"
    assert [
        g.get_attribute("data-node")
        for g in browser.find_elements("css selector", "#graph g.node.ran")
    ] == ["second"]
    screenshot("running")
    served.gated.gate.set()  # the run goes on while the page is open
    wait(
        lambda b: b.find_element("tag name", "body").get_attribute("data-steps") == "3"
    )
    wait(lambda b: b.find_element("id", "step-title").text == "STEP 2")
    ran = [
        g.get_attribute("data-node")
        for g in browser.find_elements("css selector", "#graph g.node.ran")
    ]
    assert ran == ["third"]
    assert "run_finished" in browser.find_element("id", "timeline").text
    screenshot("finished")
