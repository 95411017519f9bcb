"""``hive run``, ``hive resume``, ``hive fork``, ``hive delete``: runs in this
process, over the service's checkpoint store (so ``hive serve`` and ``hive state``
see them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import click

from ..errors import NoCheckpointToResumeError, NoInterruptToResumeError
from ..run_types import CheckpointPolicy, Outcome, RunOptions
from ..runtime import RunHandle, Runtime
from ..service._attempt import _builtins
from ._app import load_graphs, pick
from ._common import open_store, service_config, state_options
from ._output import emit_json, exit_code
from ._progress import Progress

__all__ = ["delete", "fork", "resume", "run"]


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=what) from None


def _options(max_steps: int) -> RunOptions:
    return RunOptions(checkpoint_policy=CheckpointPolicy.every(1), max_steps=max_steps)


async def _drive(handle: RunHandle, progress: Progress, trace: str | None) -> Outcome:
    seen = []
    with progress:
        async for ev in handle.events:
            seen.append(ev)
            progress.event(ev)
    if trace is not None:
        from ..testing import save_trace

        save_trace(trace, seen)
    return await handle.outcome()


def _report(outcome: Outcome, as_json: bool) -> int:
    body: dict[str, Any] = {
        "status": outcome.status,
        "output": _builtins(dict(outcome.output)),
        "checkpoint_id": outcome.checkpoint_id,
        "interrupt": None,
    }
    if outcome.interrupt is not None:
        body["interrupt"] = {
            "id": outcome.interrupt.id,
            "node": outcome.interrupt.node,
            "payload": _builtins(outcome.interrupt.payload),
        }
    if as_json:
        emit_json(body)
    else:
        click.echo(f"{outcome.status}: {json.dumps(body['output'], sort_keys=True)}")
        if body["interrupt"] is not None:
            i = body["interrupt"]
            click.echo(
                f"interrupt {i['id']} from {i['node']}: {json.dumps(i['payload'])}"
            )
    return exit_code(outcome.status)


def _common(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON only.")(fn)
    fn = click.option("--graph", "graph_name", default=None, help="Graph of APP.")(fn)
    fn = click.option("--max-steps", default=100, show_default=True)(fn)
    fn = click.option("--trace", default=None, help="Save the events (JSON lines).")(fn)
    return state_options(fn)


@click.command()
@click.argument("app")
@click.argument("thread")
@click.option("--input", "input_json", default=None, help="The input, as JSON.")
@_common
def run(app: str, thread: str, input_json: str | None, **kw: Any) -> None:
    """Run APP's graph on THREAD until it finishes or interrupts."""
    value = _json_arg(input_json, "--input")

    async def start(rt: Runtime) -> RunHandle:
        return rt.run(thread, value, _options(kw["max_steps"]))

    raise SystemExit(_execute(app, start, kw))


@click.command()
@click.argument("app")
@click.argument("thread")
@click.argument("payload")
@click.option(
    "--interrupt", "interrupt_id", default=None, help="Default: the pending one."
)
@_common
def resume(
    app: str, thread: str, payload: str, interrupt_id: str | None, **kw: Any
) -> None:
    """Answer THREAD's pending interrupt with PAYLOAD (JSON) and continue."""
    value = _json_arg(payload, "PAYLOAD")

    async def start(rt: Runtime) -> RunHandle:
        pending = interrupt_id
        if pending is None:
            snap = await rt.get_state(thread)
            if snap is None or snap.interrupt is None:
                raise NoInterruptToResumeError(thread)
            pending = snap.interrupt.id
        return rt.resume(thread, pending, value, _options(kw["max_steps"]))

    raise SystemExit(_execute(app, start, kw))


def _execute(
    app: str,
    start: Callable[[Runtime], Awaitable[RunHandle]],
    kw: dict[str, Any],
) -> int:
    _, graph = pick(load_graphs(app), kw["graph_name"])
    config = service_config(kw["config_path"], kw["data_dir"], kw["database_url"])
    store = open_store(config)

    async def go() -> int:
        handle = await start(Runtime(graph, checkpoint_store=store))
        outcome = await _drive(handle, Progress(quiet=kw["as_json"]), kw["trace"])
        return _report(outcome, kw["as_json"])

    try:
        return asyncio.run(go())
    finally:
        store.close()


@click.command()
@click.argument("app")
@click.argument("thread")
@click.argument("new_thread")
@click.option(
    "--checkpoint", "checkpoint_id", default=None, help="Default: the latest."
)
@click.option("--graph", "graph_name", default=None, help="Graph of APP.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@state_options
def fork(
    app: str, thread: str, new_thread: str, checkpoint_id: str | None, **kw: Any
) -> None:
    """Branch NEW_THREAD from one of THREAD's checkpoints (nothing runs)."""
    _, graph = pick(load_graphs(app), kw["graph_name"])
    store = open_store(
        service_config(kw["config_path"], kw["data_dir"], kw["database_url"])
    )

    async def go() -> dict[str, Any]:
        rt = Runtime(graph, checkpoint_store=store)
        source = checkpoint_id
        if source is None:
            snap = await rt.get_state(thread)
            if snap is None or snap.checkpoint_id is None:
                raise NoCheckpointToResumeError(thread)
            source = snap.checkpoint_id
        made = await rt.fork(thread, source, into=new_thread)
        return {"thread_id": new_thread, "checkpoint_id": made.id, "from": source,
                "step": made.step_index, "interrupted": made.has_interruption}  # fmt: skip

    try:
        body = asyncio.run(go())
    finally:
        store.close()
    if kw["as_json"]:
        emit_json(body)
    else:
        click.echo(f"forked {thread}@{body['from'][:12]} into {new_thread}")


@click.command()
@click.argument("app")
@click.argument("thread")
@click.option("--graph", "graph_name", default=None, help="Graph of APP.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only.")
@state_options
def delete(app: str, thread: str, **kw: Any) -> None:
    """Delete THREAD's checkpoints from the store (exit 1 if it had none)."""
    _, graph = pick(load_graphs(app), kw["graph_name"])
    store = open_store(
        service_config(kw["config_path"], kw["data_dir"], kw["database_url"])
    )
    try:
        deleted = asyncio.run(
            Runtime(graph, checkpoint_store=store).delete_thread(thread)
        )
    finally:
        store.close()
    if kw["as_json"]:
        emit_json({"thread_id": thread, "deleted": deleted})
    elif deleted:
        click.echo(f"deleted thread {thread}")
    else:
        click.echo(f"thread `{thread}` has no checkpoints to delete", err=True)
    if not deleted:
        raise SystemExit(1)
