"""A live ``hive serve`` app for the module: uvicorn on 127.0.0.1 (an ephemeral
port, a real socket) in a background thread, with an embedded worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("dbos", reason="the `service` extra (dbos) is not installed")
pytest.importorskip("starlette", reason="the `server` extra is not installed")
pytest.importorskip("langgraph_sdk", reason="langgraph-sdk (test extra) is missing")

from server_graphs import GRAPHS

from hive_core.server import ServerSettings
from hive_core.server._serve import make_server
from hive_core.service import RetryPolicy, ServiceConfig


class Live:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir


def start_server(
    data_dir: Path, **settings: object
) -> tuple[Live, object, threading.Thread]:
    config = ServiceConfig(
        data_dir=str(data_dir),
        polling_interval_s=0.01,
        retry=RetryPolicy(max_attempts=1),
        global_concurrency=8,
    )
    ready = threading.Event()
    found: list[str] = []

    def on_ready(url: str) -> None:
        found.append(url)
        ready.set()

    opts = ServerSettings(port=0, service=config, **settings)  # type: ignore[arg-type]
    server, sock = make_server(GRAPHS, opts, on_ready)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    assert ready.wait(60), "the server did not start"
    return Live(found[0], data_dir), server, thread


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    handle, server, thread = start_server(tmp_path_factory.mktemp("serve"))
    yield handle
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(60)
