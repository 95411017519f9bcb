"""Several observers as one: each hook is called on each observer in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, final

from .._observe import RunInfo, RunObserver

if TYPE_CHECKING:
    from ..models import ChatRequest, ChatResponse, ToolCall

__all__ = ["combine"]


def combine(*observers: RunObserver | None) -> RunObserver | None:
    """One observer calling each given one (``None`` entries are skipped).

    ``combine()`` of nothing is ``None``, so ``Environment(observer=combine(...))``
    still costs nothing when every part is disabled.
    """
    parts = tuple(o for o in observers if o is not None)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return _Fanout(parts)


def _scopes(scope: object, n: int) -> tuple[object, ...]:
    return scope if isinstance(scope, tuple) else (None,) * n


@final
class _Fanout:
    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[RunObserver, ...]) -> None:
        self._parts = parts

    def run_started(self, run: RunInfo) -> object:
        return tuple(p.run_started(run) for p in self._parts)

    def run_ended(self, run: object, status: str, error: BaseException | None) -> None:
        for p, s in zip(self._parts, _scopes(run, len(self._parts)), strict=True):
            p.run_ended(s, status, error)

    def step_started(self, run: object, step: int, nodes: Sequence[str]) -> object:
        scopes = _scopes(run, len(self._parts))
        return tuple(
            p.step_started(s, step, nodes)
            for p, s in zip(self._parts, scopes, strict=True)
        )

    def step_ended(self, step: object, *, failed: bool) -> None:
        for p, s in zip(self._parts, _scopes(step, len(self._parts)), strict=True):
            p.step_ended(s, failed=failed)

    def task_started(
        self, step: object, node: str, ordinal: int, task_id: str
    ) -> object:
        scopes = _scopes(step, len(self._parts))
        return tuple(
            p.task_started(s, node, ordinal, task_id)
            for p, s in zip(self._parts, scopes, strict=True)
        )

    def task_retried(self, task: object, attempt: int) -> None:
        for p, s in zip(self._parts, _scopes(task, len(self._parts)), strict=True):
            p.task_retried(s, attempt)

    def task_ended(
        self, task: object, error: BaseException | None, attempts: int
    ) -> None:
        for p, s in zip(self._parts, _scopes(task, len(self._parts)), strict=True):
            p.task_ended(s, error, attempts)

    def checkpoint_saved(self, run: object, seconds: float, size_bytes: int) -> None:
        for p, s in zip(self._parts, _scopes(run, len(self._parts)), strict=True):
            p.checkpoint_saved(s, seconds, size_bytes)

    def model_call_started(
        self, task: object, provider: str, request: ChatRequest
    ) -> object:
        scopes = _scopes(task, len(self._parts))
        return tuple(
            p.model_call_started(s, provider, request)
            for p, s in zip(self._parts, scopes, strict=True)
        )

    def model_call_ended(
        self, call: object, response: ChatResponse | None, error: BaseException | None
    ) -> None:
        for p, s in zip(self._parts, _scopes(call, len(self._parts)), strict=True):
            p.model_call_ended(s, response, error)

    def tool_call_started(self, task: object, call: ToolCall) -> object:
        scopes = _scopes(task, len(self._parts))
        return tuple(
            p.tool_call_started(s, call)
            for p, s in zip(self._parts, scopes, strict=True)
        )

    def tool_call_ended(
        self, call: object, content: str | None, error: BaseException | None
    ) -> None:
        for p, s in zip(self._parts, _scopes(call, len(self._parts)), strict=True):
            p.tool_call_ended(s, content, error)
