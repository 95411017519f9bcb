"""Running the app under uvicorn, on a socket of its own (``port=0`` picks one)."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..graph import CompiledGraph
from ._app import ServerSettings, build_app

__all__ = ["make_server", "serve"]


def make_server(
    graphs: Mapping[str, CompiledGraph],
    settings: ServerSettings,
    on_ready: Callable[[str], None] | None = None,
) -> tuple[Any, socket.socket]:
    """A uvicorn server and its bound socket; ``server.run(sockets=[sock])``
    serves, ``server.should_exit = True`` stops it. ``on_ready`` gets the URL
    once the app started (the embedded worker included)."""
    import uvicorn

    app = build_app(graphs, settings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((settings.host, settings.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        host = f"[{settings.host}]" if family == socket.AF_INET6 else settings.host
        url = f"http://{host}:{port}"
        started = server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            await started(sockets)
            on_ready(url)

        server.startup = startup  # type: ignore[method-assign]
    return server, sock


def serve(
    graphs: Mapping[str, CompiledGraph],
    settings: ServerSettings | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (then drain the embedded worker). uvicorn
    re-raises the signal after its graceful shutdown; a clean stop then exits 0."""
    server, sock = make_server(graphs, settings or ServerSettings(), on_ready)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stopped)
    server.run(sockets=[sock])


def _stopped(signum: int, _frame: object) -> None:
    raise SystemExit(0)
