"""The runtime's observation hook: what metrics and tracing see of a run.

An ``Environment`` may carry one ``RunObserver``; without one the runtime makes no
call and allocates nothing for observation (one ``is None`` check per step and per
task), which is how "no cost when not enabled" is kept. Each ``*_started`` hook
returns an opaque scope the matching ``*_ended`` hook gets back, so an observer can
keep spans or start times without a lookup table. Model and tool calls find their
task's scope through :data:`current_task`, a context variable the step runner sets
while a task runs (each asyncio task has its own copy). See
``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from .models._chat import ChatRequest, ChatResponse, ToolCall

__all__ = ["RunInfo", "RunObserver", "TaskScope", "current_task"]


@attrs.frozen(kw_only=True)
class RunInfo:
    """Deterministic facts about one attempt, fixed when it starts."""

    graph_version: str
    """The compiled graph's version hash (``CompiledGraph.graph_version``)."""
    thread_id: str
    run_id: str
    attempt_id: str


@runtime_checkable
class RunObserver(Protocol):
    """Receives a run's structure and timings as they happen.

    Hooks are called on the run's own task (tasks' hooks on the task's), never
    concurrently for one scope; they must not raise and should return quickly.
    ``hive_core.observability`` has the Prometheus and OpenTelemetry observers and
    ``combine`` to use several.
    """

    def run_started(self, run: RunInfo) -> object: ...

    def run_ended(self, run: object, status: str, error: BaseException | None) -> None:
        """``status`` is the outcome's status, or ``"error"`` when the run raised
        ``error``."""

    def step_started(self, run: object, step: int, nodes: Sequence[str]) -> object: ...

    def step_ended(self, step: object, *, failed: bool) -> None: ...

    def task_started(
        self, step: object, node: str, ordinal: int, task_id: str
    ) -> object: ...

    def task_retried(self, task: object, attempt: int) -> None:
        """Attempt ``attempt`` failed and the retry policy will run the task again."""

    def task_ended(
        self, task: object, error: BaseException | None, attempts: int
    ) -> None: ...

    def checkpoint_saved(self, run: object, seconds: float, size_bytes: int) -> None:
        """A checkpoint was written: how long the store took and its data size."""

    def model_call_started(
        self, task: object, provider: str, request: ChatRequest
    ) -> object: ...

    def model_call_ended(
        self,
        call: object,
        response: ChatResponse | None,
        error: BaseException | None,
    ) -> None: ...

    def tool_call_started(self, task: object, call: ToolCall) -> object: ...

    def tool_call_ended(
        self, call: object, content: str | None, error: BaseException | None
    ) -> None: ...


@attrs.frozen
class TaskScope:
    """The observer and task scope a model or tool call reports to."""

    observer: RunObserver
    scope: object


current_task: ContextVar[TaskScope | None] = ContextVar(
    "hive_current_task", default=None
)
"""Set by the step runner while an observed task runs; ``None`` otherwise."""
