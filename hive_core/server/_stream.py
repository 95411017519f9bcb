"""A run's stream parts, from the service's events table.

A stream opens with ``metadata`` (the run id), then the parts of the requested
modes in the run's order, projected from its persisted events by Hive's pure
projector (``hive_core.runtime.StreamProjector``, the same one ``Runtime.stream``
uses): ``values`` after each committed step (the last of an interrupted run with
``__interrupt__``), ``updates`` per task, ``messages-tuple`` per model token,
``custom`` per ``ctx.emit(CustomEvent(...))``, ``events`` (Hive's events as plain
JSON) and ``debug`` (the same wrapped as ``{"type", "step", "payload"}``). A run
that fails ends with an ``error`` part. See ``docs/http-api.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..runtime import StreamPart, StreamProjector
from ..service import RunResult
from ._backend import Backend
from ._pump import RunEnded

__all__ = ["final_values", "projector_modes", "run_parts", "wait_result"]

_TO_HIVE = {"messages-tuple": "messages", "debug": "events"}


def projector_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    """The projector's modes for the API's (``messages-tuple`` is ``messages``;
    ``debug`` is drawn from ``events``)."""
    return tuple(dict.fromkeys(_TO_HIVE.get(m, m) for m in modes))


def error_json(result: RunResult) -> dict[str, Any]:
    text = result.error or f"the run ended {result.status}"
    kind, sep, message = text.partition(": ")
    if not sep:
        kind, message = result.status, text
    return {"error": kind, "message": message}


def _interrupts(result: RunResult) -> list[dict[str, Any]]:
    if result.status != "interrupted" or result.interrupt_id is None:
        return []
    return [{"id": result.interrupt_id, "value": result.interrupt_payload}]


def final_values(result: RunResult) -> dict[str, Any]:
    values = dict(result.output)
    pending = _interrupts(result)
    if pending:
        values["__interrupt__"] = pending
    return values


def _failed(result: RunResult) -> bool:
    return result.status in ("failed", "timed_out", "out_of_steps")


def _wire(part: StreamPart, modes: tuple[str, ...]) -> list[tuple[str, Any]]:
    """One projected part as the SSE parts the client expects."""
    if part.mode == "messages":
        chunk = {"type": "AIMessageChunk", "content": part.data["text"],
                 "id": part.task_id}  # fmt: skip
        meta = {**part.data["metadata"], "langgraph_node": part.node,
                "langgraph_step": part.step, "langgraph_task_id": part.task_id}  # fmt: skip
        return [("messages", [chunk, meta])]
    if part.mode != "events":
        return [(part.mode, part.data)]
    out: list[tuple[str, Any]] = []
    if "events" in modes:
        out.append(("events", part.data))
    if "debug" in modes:
        out.append(("debug", {"type": part.data["kind"], "step": part.step,
                              "payload": part.data}))  # fmt: skip
    return out


async def run_parts(
    backend: Backend, run_id: str, modes: tuple[str, ...]
) -> AsyncIterator[tuple[str, Any]]:
    yield "metadata", {"run_id": run_id, "attempt": 1}
    projector = StreamProjector(projector_modes(modes))
    sent_values = False
    async for item in backend.pump.follow(run_id):
        if isinstance(item, RunEnded):
            break
        for part in projector.feed(item):
            sent_values |= part.mode == "values"
            for pair in _wire(part, modes):
                yield pair
    result = await backend.result(run_id)
    if _failed(result):
        yield "error", error_json(result)
        return
    if "updates" in modes and _interrupts(result):
        yield "updates", {"__interrupt__": _interrupts(result)}
    if "values" in modes and not sent_values:  # nothing ran (or not recorded)
        yield "values", final_values(result)


async def wait_result(backend: Backend, run_id: str) -> dict[str, Any]:
    """What ``runs.wait``/``join`` return: the final values, or ``__error__``."""
    async for item in backend.pump.follow(run_id):
        if isinstance(item, RunEnded):
            break
    result = await backend.result(run_id)
    if _failed(result):
        return {"__error__": error_json(result)}
    return final_values(result)
