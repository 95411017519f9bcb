"""``hive state``, ``history``, ``mermaid``, ``trace show|diff|view`` and ``status``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from ..runtime import Runtime
from ..service._attempt import _builtins
from ._app import load_graphs, pick
from ._common import open_store, service_config, state_options
from ._output import emit_json

__all__ = ["history", "mermaid", "state", "status", "trace"]


def _graph_opts(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON only.")(fn)
    fn = click.option("--graph", "graph_name", default=None, help="Graph of APP.")(fn)
    return state_options(fn)


def _runtime_call(app: str, kw: dict[str, Any], call: Any) -> Any:
    _, graph = pick(load_graphs(app), kw["graph_name"])
    store = open_store(
        service_config(kw["config_path"], kw["data_dir"], kw["database_url"])
    )
    try:
        return asyncio.run(call(Runtime(graph, checkpoint_store=store)))
    finally:
        store.close()


@click.command()
@click.argument("app")
@click.argument("thread")
@_graph_opts
def state(app: str, thread: str, **kw: Any) -> None:
    """Show THREAD's committed state (exit 1 if it has none)."""

    async def call(rt: Runtime) -> dict[str, Any] | None:
        snap = await rt.get_state(thread)
        if snap is None:
            return None
        interrupt = None
        if snap.interrupt is not None:
            interrupt = {"id": snap.interrupt.id, "node": snap.interrupt.node,
                         "payload": _builtins(snap.interrupt.payload)}  # fmt: skip
        return {
            "thread_id": thread, "checkpoint_id": snap.checkpoint_id,
            "step": snap.step_index, "next": list(snap.next_nodes),
            "values": _builtins(snap.store.to_dict()), "interrupt": interrupt,
        }  # fmt: skip

    body = _runtime_call(app, kw, call)
    if body is None:
        click.echo(f"thread `{thread}` has no state", err=True)
        raise SystemExit(1)
    if kw["as_json"]:
        emit_json(body)
        return
    click.echo(f"thread {thread} at step {body['step']} ({body['checkpoint_id']})")
    click.echo(f"next: {', '.join(body['next']) or '-'}")
    for key in sorted(body["values"]):
        click.echo(f"  {key} = {json.dumps(body['values'][key], sort_keys=True)}")
    if body["interrupt"] is not None:
        i = body["interrupt"]
        click.echo(f"interrupt {i['id']} from {i['node']}: {json.dumps(i['payload'])}")


@click.command()
@click.argument("app")
@click.argument("thread")
@click.option("--limit", default=None, type=int)
@_graph_opts
def history(app: str, thread: str, limit: int | None, **kw: Any) -> None:
    """List THREAD's checkpoints, newest first."""

    async def call(rt: Runtime) -> list[dict[str, Any]]:
        found = await rt.get_checkpoint_history(thread, limit)
        return [{"checkpoint_id": c.id, "step": c.step_index, "run_id": c.run_id,
                 "interrupted": c.has_interruption} for c in found]  # fmt: skip

    rows = _runtime_call(app, kw, call)
    if kw["as_json"]:
        emit_json(rows)
        return
    for row in rows:
        mark = "  (interrupted)" if row["interrupted"] else ""
        click.echo(f"step {row['step']:>4}  {row['checkpoint_id']}{mark}")


@click.command()
@click.argument("app")
@click.option("--graph", "graph_name", default=None, help="Graph of APP.")
def mermaid(app: str, graph_name: str | None) -> None:
    """Print the graph as a Mermaid flowchart."""
    _, graph = pick(load_graphs(app), graph_name)
    click.echo(graph.to_mermaid())


@click.group()
def trace() -> None:
    """Show and compare trace files (JSON lines, as ``hive run --trace`` saves)."""


@trace.command("show")
@click.argument("path", type=click.Path(path_type=Path))
def trace_show(path: Path) -> None:
    """Print a trace file one event per line."""
    from ..events import trace_to_builtins
    from ..testing import load_trace
    from ..testing._trace_text import event_line

    for ev in trace_to_builtins(load_trace(path)):
        click.echo(event_line(ev))


@trace.command("diff")
@click.argument("expected", type=click.Path(path_type=Path))
@click.argument("actual", type=click.Path(path_type=Path))
@click.option("--ignore", default="", help="Comma-separated event fields to skip.")
def trace_diff(expected: Path, actual: Path, ignore: str) -> None:
    """The first divergence; exit 0 if equal, 1 if not."""
    from ..testing import diff_traces, load_trace

    a, b = load_trace(expected), load_trace(actual)
    found = diff_traces(
        a, b, ignore=[f.strip() for f in ignore.split(",") if f.strip()]
    )
    if found is None:
        click.echo(f"traces are equal ({len(a)} events)")
        return
    click.echo(found.render())
    raise SystemExit(1)


@trace.command("view")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              metavar="HTML", help="Where to write the page.")  # fmt: skip
@click.option("--diff", type=click.Path(path_type=Path), default=None,
              metavar="OTHER", help="Show PATH and OTHER side by side.")  # fmt: skip
@click.option("--graph", "graph_spec", default=None, metavar="MODULE:NAME",
              help="Draw this CompiledGraph's edges.")  # fmt: skip
def trace_view(
    path: Path, output: Path, diff: Path | None, graph_spec: str | None
) -> None:
    """Write a self-contained HTML page of a trace file (exit 1 if unreadable)."""
    from ..testing._cli import _graph
    from ..viewer import write_view

    try:
        out = write_view(path, output, diff=diff, graph=_graph(graph_spec))
    except OSError as exc:  # the page could not be written
        raise click.FileError(str(output), hint=exc.strerror or str(exc)) from exc
    click.echo(f"wrote {out}")


@click.command()
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@state_options
def status(run_id: str | None, as_json: bool, **kw: Any) -> None:
    """The service's runs (or one run) and its workers."""
    import attrs

    from ..service import ServiceClient

    client = ServiceClient(
        service_config(kw["config_path"], kw["data_dir"], kw["database_url"])
    )
    try:
        runs = [client.status_sync(run_id)] if run_id else client.list_runs_sync()
        workers = client.workers_sync()
    finally:
        client.close()
    body = {"runs": [attrs.asdict(r) for r in runs],
            "workers": [attrs.asdict(w) for w in workers]}  # fmt: skip
    if as_json:
        emit_json(body)
        return
    for r in runs:
        click.echo(f"{r.run_id}  {r.status:<12} {r.graph}  thread {r.thread_id}")
    for w in workers:
        click.echo(f"worker {w.worker_id}  {w.state}  running {w.running}")
