"""The service started in this process, which the DBOS workflow hands attempts to.

A module of its own so the workflow (``_workflow.py``) and the worker
(``_worker.py``) do not import each other: the worker installs itself here when it
starts, the workflow looks it up here.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import ServiceError

__all__ = ["AttemptRunner", "current_worker", "install", "uninstall"]


class AttemptRunner(Protocol):
    """What the workflow needs of a worker (``Service`` is the one)."""

    async def run_attempt(self, spec_json: str, workflow_id: str) -> str: ...


_current: AttemptRunner | None = None


def install(worker: AttemptRunner) -> None:
    global _current
    _current = worker


def uninstall(worker: AttemptRunner) -> None:
    """Forget ``worker`` if it is the current one (a later service may have started)."""
    global _current
    if _current is worker:
        _current = None


def current_worker() -> AttemptRunner:
    if _current is None:
        raise ServiceError("no service is started in this process")
    return _current
