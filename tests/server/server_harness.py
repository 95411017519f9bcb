"""A live ``hive serve`` app: uvicorn on 127.0.0.1 (an ephemeral port, a real
socket) in a background thread, with an embedded worker (or none)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from hive_core.server import ServerSettings
from hive_core.server._serve import make_server
from hive_core.service import RetryPolicy, ServiceConfig

from .server_graphs import GRAPHS


class Live:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir


def start_server(
    data_dir: Path, database_url: str | None = None, **settings: object
) -> tuple[Live, Any, threading.Thread]:
    config = ServiceConfig(
        data_dir=str(data_dir),
        database_url=database_url,
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
