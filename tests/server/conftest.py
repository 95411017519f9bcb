"""The module's live server (``server_harness.start_server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("dbos", reason="the `service` extra (dbos) is not installed")
pytest.importorskip("starlette", reason="the `server` extra is not installed")
pytest.importorskip("langgraph_sdk", reason="langgraph-sdk (test extra) is missing")

from .server_harness import Live, start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    handle, server, thread = start_server(tmp_path_factory.mktemp("serve"))
    yield handle
    server.should_exit = True
    thread.join(60)
