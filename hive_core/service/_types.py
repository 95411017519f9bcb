"""What the service reports: runs, their results and attempts, and workers."""

from __future__ import annotations

import json
from typing import Any, Literal

import attrs

__all__ = ["AttemptInfo", "RunInfo", "RunResult", "RunStatus", "WorkerInfo"]

RunStatus = Literal[
    "queued",
    "running",
    "finished",
    "interrupted",
    "cancelled",
    "timed_out",
    "out_of_steps",
    "failed",
]
"""``failed``: retries exhausted, the run is in the dead-letter list."""


@attrs.frozen(kw_only=True)
class RunResult:
    """How a run ended. ``output`` holds plain values (JSON-compatible)."""

    run_id: str
    status: RunStatus
    output: dict[str, Any]
    checkpoint_id: str | None = None
    interrupt_id: str | None = None
    interrupt_payload: Any = None
    error: str | None = None

    @classmethod
    def from_json(cls, run_id: str, text: str) -> RunResult:
        data = json.loads(text)
        return cls(run_id=run_id, **data)


@attrs.frozen(kw_only=True)
class AttemptInfo:
    """One workflow execution of a run: who ran it, when, how it ended."""

    n: int
    workflow_id: str
    worker_id: str
    started_at: float
    ended_at: float | None
    result: str | None
    """An outcome status, ``failed``, ``lost_ownership`` or ``handed_back``;
    ``None`` while running (or when its worker died)."""
    error: str | None


@attrs.frozen(kw_only=True)
class RunInfo:
    """A run as the service tracks it (``client.status`` / ``client.list``)."""

    run_id: str
    graph: str
    thread_id: str
    kind: str
    status: RunStatus
    attempts: int
    failures: int
    last_error: str | None
    worker_id: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunInfo:
        return cls(**{f.name: row[f.name] for f in attrs.fields(cls)})


@attrs.frozen(kw_only=True)
class WorkerInfo:
    """One worker in the registry; ``alive`` is judged against the lease."""

    worker_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    capacity: int | None
    running: int
    version: str
    state: str
    """``alive``, ``draining``, ``stopped`` or ``dead`` (taken over, or silent for
    longer than the lease)."""
    alive: bool
