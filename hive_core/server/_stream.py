"""A run's stream parts, from the service's events table.

A stream opens with ``metadata`` (the run id), then one part per event in the
requested modes (``events``: Hive's events as plain JSON; ``debug``: the same
wrapped as ``{"type", "step", "payload"}``), and ends with what the run's end
tells: the last ``values`` (with ``__interrupt__`` when it interrupted) or an
``error`` part. See ``docs/http-api.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from ..service import RunResult
from ._backend import Backend
from ._pump import RunEnded

__all__ = ["final_values", "run_parts", "wait_result"]


def _event_json(event: Any) -> dict[str, Any]:
    raw: dict[str, Any] = msgspec.to_builtins(event)
    return raw


def error_json(result: RunResult) -> dict[str, Any]:
    text = result.error or f"the run ended {result.status}"
    kind, sep, message = text.partition(": ")
    if not sep:
        kind, message = result.status, text
    return {"error": kind, "message": message}


def final_values(result: RunResult) -> dict[str, Any]:
    values = dict(result.output)
    if result.status == "interrupted" and result.interrupt_id is not None:
        values["__interrupt__"] = [
            {"id": result.interrupt_id, "value": result.interrupt_payload}
        ]
    return values


def _failed(result: RunResult) -> bool:
    return result.status in ("failed", "timed_out", "out_of_steps")


async def run_parts(
    backend: Backend, run_id: str, modes: tuple[str, ...]
) -> AsyncIterator[tuple[str, Any]]:
    yield "metadata", {"run_id": run_id, "attempt": 1}
    async for item in backend.pump.follow(run_id):
        if isinstance(item, RunEnded):
            break
        data = _event_json(item)
        if "events" in modes:
            yield "events", data
        if "debug" in modes:
            yield "debug", {"type": data["kind"], "step": item.step, "payload": data}
    result = await backend.result(run_id)
    if _failed(result):
        yield "error", error_json(result)
    elif "values" in modes:
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
