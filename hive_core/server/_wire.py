"""Hive's objects in the shapes ``langgraph-sdk`` reads: assistants, threads,
thread states, runs, interrupts. Pure functions of their inputs.

Mapping (``docs/http-api.md``): a thread's ``values`` are the store's output
channels as plain JSON; an interrupt is ``{"id", "value"}`` with Hive's interrupt
id; a state's ``tasks`` are the next frontier's nodes; run statuses map
``finished`` → ``success``, ``failed``/``out_of_steps`` → ``error``,
``timed_out`` → ``timeout``, ``cancelled`` → ``interrupted`` (``hive_status``
keeps Hive's own).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs

from ..run_types import Interruption
from ._records import RunRecord, ThreadRecord

__all__ = [
    "StateView",
    "assistant_id_of",
    "assistant_json",
    "interrupt_json",
    "iso",
    "run_json",
    "state_json",
    "thread_json",
]

_NAMESPACE = uuid.UUID("6f1b7c1e-6a0e-4c59-9d55-0c1a8c1f4a11")
RUN_STATUS = {
    "queued": "pending",
    "running": "running",
    "finished": "success",
    "interrupted": "interrupted",
    "cancelled": "interrupted",
    "timed_out": "timeout",
    "out_of_steps": "error",
    "failed": "error",
}


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def assistant_id_of(graph: str) -> str:
    """Stable per graph name (uuid5), the same on every server."""
    return str(uuid.uuid5(_NAMESPACE, graph))


def assistant_json(graph: str, started: float) -> dict[str, Any]:
    when = iso(started)
    return {
        "assistant_id": assistant_id_of(graph),
        "graph_id": graph,
        "name": graph,
        "description": None,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": when,
        "updated_at": when,
    }


@attrs.frozen(kw_only=True)
class StateView:
    """One checkpoint of a thread, decoded: what a state response shows."""

    thread_id: str
    checkpoint_id: str | None
    run_id: str
    step: int
    values: dict[str, Any]
    next: tuple[str, ...]
    interrupt: Interruption | None
    parent_id: str | None = None


def interrupt_json(interrupt: Interruption) -> dict[str, Any]:
    return {"id": interrupt.id, "value": interrupt.payload}


def _task_id(view: StateView, index: int, node: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{view.checkpoint_id}:{index}:{node}"))


def _tasks(view: StateView) -> list[dict[str, Any]]:
    tasks = []
    asked = view.interrupt.node if view.interrupt is not None else None
    for i, node in enumerate(view.next):
        pending = (
            [interrupt_json(view.interrupt)] if view.interrupt and node == asked else []
        )
        tasks.append({
            "id": _task_id(view, i, node), "name": node, "error": None,
            "interrupts": pending, "checkpoint": None, "state": None, "result": None,
        })  # fmt: skip
    if view.interrupt is not None and asked not in view.next:
        tasks.append({
            "id": _task_id(view, len(view.next), asked or ""), "name": asked or "",
            "error": None, "interrupts": [interrupt_json(view.interrupt)],
            "checkpoint": None, "state": None, "result": None,
        })  # fmt: skip
    return tasks


def _checkpoint(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id,
        "checkpoint_map": None,
    }


def state_json(view: StateView) -> dict[str, Any]:
    interrupts = [interrupt_json(view.interrupt)] if view.interrupt else []
    parent = _checkpoint(view.thread_id, view.parent_id) if view.parent_id else None
    return {
        "values": view.values,
        "next": list(view.next),
        "checkpoint": _checkpoint(view.thread_id, view.checkpoint_id),
        "metadata": {"step": view.step, "run_id": view.run_id, "source": "loop"},
        "created_at": None,
        "parent_checkpoint": parent,
        "tasks": _tasks(view),
        "interrupts": interrupts,
    }


def empty_state_json(thread_id: str) -> dict[str, Any]:
    return {
        "values": {}, "next": [], "checkpoint": _checkpoint(thread_id, None),
        "metadata": {}, "created_at": None, "parent_checkpoint": None,
        "tasks": [], "interrupts": [],
    }  # fmt: skip


def thread_json(
    record: ThreadRecord, view: StateView | None, status: str
) -> dict[str, Any]:
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if view is not None and view.interrupt is not None:
        for task in _tasks(view):
            if task["interrupts"]:
                interrupts[task["id"]] = task["interrupts"]
    return {
        "thread_id": record.thread_id,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "metadata": record.metadata,
        "status": status,
        "values": view.values if view is not None else None,
        "interrupts": interrupts,
        "config": {},
        "graph_id": record.graph,
    }


def run_json(
    record: RunRecord, status: str, created: float, updated: float
) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": record.assistant_id,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "status": RUN_STATUS.get(status, "error"),
        "hive_status": status,
        "metadata": record.metadata,
        "multitask_strategy": record.multitask_strategy,
        "kwargs": {"stream_mode": list(record.stream_modes)},
    }
