"""Fixtures for the viewer tests: a run with streamed model tokens, an interrupt
and a resume, saved as a ``.jsonl`` trace with debug payloads (so the store after
each step is known), and the graph that produced it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hive_core import (
    CompiledGraph,
    Environment,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import Event
from hive_core.models import ChatMessage, ChatRequest, ScriptedModelClient, call_model
from hive_core.testing import SequentialIds, save_trace


class V(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


async def ask(inp: NodeInput) -> NodeOutput:
    client = ScriptedModelClient(["Hello there"])
    request = ChatRequest(model="tiny", messages=(ChatMessage.user("u", "hi"),))
    await call_model(request, client, "stream", inp.emit)
    return NodeOutput(writes=[Write(V.log, ["a"])])


def approve(inp: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(V.log, ["b"])], interrupt="approve?")


def done(inp: NodeInput) -> NodeOutput:
    answer = inp.resume.payload if inp.resume is not None else None
    return NodeOutput(writes=[Write(V.log, [f"approved={answer}"])])


def build() -> CompiledGraph:
    return (
        GraphBuilder(V, start=["ask"])
        .add_node("ask", ask)
        .add_node("approve", approve)
        .add_node("done", done)
        .add_edge("ask", "approve")
        .add_edge("approve", "done")
        .compile()
    )


OPTIONS = RunOptions(debug_payloads=True, deterministic_token_streaming=True)


async def _events(rt: Runtime, options: RunOptions) -> list[Event]:
    first = [ev async for ev in rt.run("t", {}, options).events]
    state = await rt.get_state("t")
    assert state is not None and state.interrupt is not None
    second = [
        ev async for ev in rt.resume("t", state.interrupt.id, "yes", options).events
    ]
    return first + second


@pytest.fixture
def agent_graph() -> CompiledGraph:
    return build()


@pytest.fixture
def agent_trace() -> Callable[..., Path]:
    """``agent_trace(path, options=OPTIONS)``: run the agent, save its trace."""

    def write(path: Path, options: RunOptions = OPTIONS) -> Path:
        rt = Runtime(
            build(),
            environment=Environment(),
            checkpoint_store=InMemoryCheckpointStore(),
            ids=SequentialIds(),
        )
        save_trace(path, asyncio.run(_events(rt, options)))
        return path

    return write


# ------------------------------------------------------------------ the browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "viewer"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def _need_browser() -> None:
    """Debian's chromium and chromium-driver (``.ci/run`` installs them); under
    CI=true a missing browser fails the test instead of skipping it."""
    import os

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the test extra)")
    if not missing:
        return
    why = f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    """A headless Chromium with a fresh profile; closed after the test."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(
        service=Service(executable_path=str(CHROMEDRIVER)), options=options
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save the browser's page as ``test-artifacts/viewer/<test>-<name>.png``."""

    def save(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        assert browser.save_screenshot(str(path))
        return path

    return save
