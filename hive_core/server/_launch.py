"""Creating a run: check everything first, then hand it to the service.

A run with ``command={"resume": ...}`` answers the thread's pending interrupt (its
payload converted to the schema's resume type first: a wrong one is a 422 and
nothing is queued); any other run starts from its input (checked against the
channels' types first). ``multitask_strategy`` decides what happens when the
thread is busy: ``enqueue`` waits its turn, ``reject`` is a 409, ``interrupt``
stops the running attempt at its next step boundary first. See
``docs/http-api.md``.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from ..errors import (
    InterruptPendingError,
    NoCheckpointToResumeError,
    NoInterruptToResumeError,
    RequestError,
    ResumeInterruptMismatchError,
    ThreadBusyError,
    UnsupportedOptionError,
)
from ..runtime._loop import INPUT_WRITER, apply_input_writes
from ..runtime._payload import convert_resume_payload
from ..state._schema import InputContext
from ..state._store import InitialCache
from ._backend import Backend
from ._records import RunRecord, ThreadRecord
from ._requests import RunCreate

__all__ = ["STREAM_MODES", "launch", "stream_modes"]

STREAM_MODES = frozenset(
    {"values", "updates", "messages-tuple", "custom", "events", "debug"}
)
"""The modes a run may be streamed in (``docs/http-api.md``)."""


_INTERRUPT_ID = re.compile(r"[0-9a-f]{64}")
"""What an interrupt id looks like (``hive_core.ids.interrupt_id``)."""


def stream_modes(requested: str | list[str]) -> tuple[str, ...]:
    modes = [requested] if isinstance(requested, str) else list(requested)
    unknown = sorted(set(modes) - STREAM_MODES)
    if unknown:
        raise UnsupportedOptionError(
            f"stream mode `{unknown[0]}` is not supported",
            field="stream_mode",
            fix=f"use one of {', '.join(sorted(STREAM_MODES))}",
        )
    return tuple(dict.fromkeys(modes))


def _refuse_unsupported(body: RunCreate) -> None:
    options = {
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "checkpoint_id": body.checkpoint_id,
        "checkpoint": body.checkpoint,
        "webhook": body.webhook,
        "after_seconds": body.after_seconds,
    }
    if body.command is not None:
        options["command.update"] = body.command.update
        options["command.goto"] = body.command.goto
        if body.command.resume is not None and body.input is not None:
            raise UnsupportedOptionError(
                "a run with `command.resume` takes no `input`", field="input",
                fix="resume with the payload alone; it runs on from the checkpoint "
                "(change channels first with POST /threads/{id}/state)",
            )  # fmt: skip
    if body.multitask_strategy == "rollback":
        options["multitask_strategy"] = "rollback"
    for name, value in options.items():
        if value is not None:
            raise UnsupportedOptionError(
                f"`{name}` is not supported by Hive's server",
                field=name,
                fix="see docs/http-api.md for what Hive does instead (interrupts "
                "come from nodes; a past checkpoint is forked with threads.copy)",
            )


def _check_input(backend: Backend, graph: str, thread_id: str, input: Any) -> None:
    """The input's writes against the channels' types (nothing is applied)."""
    g = backend.graphs[graph]
    ctx = InputContext(thread_id=thread_id, run_id="", step_index=0)
    writes = g.schema.input_writes(input, ctx)
    initial = InitialCache(g.schema).values
    values = {cid: initial[cid] for cid in g.schema.global_ids}
    apply_input_writes(g, values, writes, writer=INPUT_WRITER, step=0)


def _check_graph(record: ThreadRecord, graph: str) -> None:
    if record.graph is not None and record.graph != graph:
        raise RequestError(
            f"thread `{record.thread_id}` runs graph `{record.graph}`, not `{graph}`",
            field="assistant_id",
            fix="use the thread's own assistant, or a new thread",
        )


async def _start(
    backend: Backend,
    record: ThreadRecord,
    graph: str,
    body: RunCreate,
    run_id: str,
    modes: tuple[str, ...],
) -> None:
    thread_id = record.thread_id
    active = await backend.active(thread_id)
    if not active:
        view = await backend.view(record)
        if view is not None and view.interrupt is not None:
            raise InterruptPendingError(thread_id, view.interrupt.id)
    elif body.multitask_strategy == "reject":
        raise ThreadBusyError(thread_id, [r.run_id for r in active])
    elif body.multitask_strategy == "interrupt":
        for run in active:
            await backend.client.cancel(run.run_id, at_step_boundary=True)
    await backend.client.submit(
        graph, thread_id, body.input, request_id=run_id,
        stream_modes=recorded_modes(modes),
    )  # fmt: skip


def recorded_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    """The modes whose data the worker's events must carry (the others are in
    every run's events already)."""
    return tuple(m for m in ("values", "updates") if m in modes)


async def _resume(
    backend: Backend,
    record: ThreadRecord,
    graph: str,
    payload: Any,
    run_id: str,
    modes: tuple[str, ...],
) -> None:
    await backend.require_idle(record.thread_id)
    view = await backend.view(record)
    if view is None:
        raise NoCheckpointToResumeError(record.thread_id)
    pending = view.interrupt
    if pending is None:
        raise NoInterruptToResumeError(record.thread_id)
    if isinstance(payload, dict) and len(payload) == 1:
        [key] = payload
        if key == pending.id:
            payload = payload[pending.id]  # the {interrupt_id: value} form
        elif _INTERRUPT_ID.fullmatch(key):  # an answer to an older interrupt
            raise ResumeInterruptMismatchError(expected=pending.id, found=key)
    tp = backend.graphs[graph].schema.resume_payload
    convert_resume_payload(tp, payload)  # ResumePayloadError: 422, nothing queued
    await backend.client.resume(
        record.thread_id, pending.id, payload, request_id=run_id, graph=graph,
        stream_modes=recorded_modes(modes),
    )  # fmt: skip


async def launch(
    backend: Backend, record: ThreadRecord, body: RunCreate, *, new: bool = False
) -> RunRecord:
    """Validate, apply the multitask strategy, submit; the run's record.

    ``new``: the thread is not recorded yet (``if_not_exists="create"``, or a
    threadless run); it is recorded once the run has passed its checks.
    """
    graph = backend.graph_name(body.assistant_id)
    modes = stream_modes(body.stream_mode)
    _refuse_unsupported(body)
    run_id = str(uuid.uuid4())
    _check_graph(record, graph)
    payload = body.command.resume if body.command is not None else None
    if payload is not None and new:
        raise NoCheckpointToResumeError(record.thread_id)
    if payload is None:
        _check_input(backend, graph, record.thread_id, body.input)
    if new:
        added = await backend.new_thread(record.thread_id, None, {})
        record = added or await backend.thread(record.thread_id)
        _check_graph(record, graph)  # a concurrent create may have run another
    if payload is not None:
        await _resume(backend, record, graph, payload, run_id, modes)
    else:
        await _start(backend, record, graph, body, run_id, modes)
    run = RunRecord(
        run_id=run_id,
        thread_id=record.thread_id,
        assistant_id=body.assistant_id,
        metadata=dict(body.metadata or {}),
        multitask_strategy=body.multitask_strategy,
        stream_modes=modes,
        created_at=time.time(),
    )
    # the thread runs ``graph`` from its first run on (set with the run's record)
    first = graph if record.graph is None else None
    await asyncio.to_thread(backend.db.add_run, run, graph=first)
    return run
