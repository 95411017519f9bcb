"""``hive serve`` (the HTTP server) and ``hive worker`` (a service worker)."""

from __future__ import annotations

import os
from typing import Any

import click

from ._app import load_graphs
from ._common import service_config, state_options

__all__ = ["serve", "worker"]


@click.command()
@click.argument("app")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2024, show_default=True, type=int)
@click.option("--api-key", envvar="HIVE_API_KEY", default=None,
              help="Required off loopback [HIVE_API_KEY].")  # fmt: skip
@click.option("--max-body", default=1 << 20, show_default=True, type=int,
              help="Largest request body in bytes.")  # fmt: skip
@click.option("--body-timeout", default=30.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request's body may take to arrive (then 408).")  # fmt: skip
@click.option("--no-worker", is_flag=True, help="Remote workers run the runs.")
@state_options
def serve(app: str, host: str, port: int, api_key: str | None, max_body: int,
          body_timeout: float, no_worker: bool, **kw: Any) -> None:  # fmt: skip
    """Serve APP's graphs over the LangGraph Platform HTTP API."""
    from ..server import ServerSettings
    from ..server import serve as run_server
    from ..server._app import build_app  # noqa: F401  (fail early on a missing extra)

    graphs = load_graphs(app)
    settings = ServerSettings(
        host=host, port=port, api_key=api_key, max_body_bytes=max_body,
        body_timeout_s=body_timeout,
        service=service_config(kw["config_path"], kw["data_dir"], kw["database_url"]),
        worker=not no_worker,
    )  # fmt: skip

    def ready(url: str) -> None:
        click.echo(f"hive serve: {', '.join(sorted(graphs))} on {url}", err=True)

    run_server(graphs, settings, on_ready=ready)


@click.command()
@click.argument("app")
@state_options
def worker(app: str, **kw: Any) -> None:
    """Run a service worker for APP's graphs until SIGTERM (then drain)."""
    from ..service import Service

    config_path = kw["config_path"]
    svc = Service(service_config(config_path, kw["data_dir"], kw["database_url"]),
                  config_path=config_path)  # fmt: skip
    for name, graph in load_graphs(app).items():
        svc.register(name, graph)

    def ready() -> None:
        click.echo(f"hive worker {svc.worker_id} ready (pid {os.getpid()})", err=True)

    raise SystemExit(svc.serve(on_ready=ready))
