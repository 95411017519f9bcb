"""The stack of open ``with`` builders: single use and properly nested.

Every context-manager builder (``Branch``, ``Chain``, ``FanOut``, ``Effects``) goes
through ``Scoped``: entering twice, closing a builder that is not the innermost open
one, or adding to an outer builder while an inner one is open raises a
``DefinitionError`` that says what usually causes it. The stack lives in a
``ContextVar`` (so concurrent asyncio tasks each see their own) and nothing outside
this module reads it.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from types import TracebackType
from typing import Self

from hive_core import DefinitionError

__all__ = ["CLOSED", "NEW", "OPEN", "Scoped", "State", "open_scopes"]


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


NEW, OPEN, CLOSED = State.NEW, State.OPEN, State.CLOSED
"""Module constants: member access through the Enum class is slow on hot paths."""

_STACK: ContextVar[tuple[Scoped, ...]] = ContextVar("hive_dsl_builders", default=())


def open_scopes() -> tuple[Scoped, ...]:
    """The builders open in the current context, outermost first (for tests)."""
    return _STACK.get()


class Scoped:
    """Base of the single-use ``with`` builders; subclasses implement ``_finish``."""

    __slots__ = ("_state",)

    _kind: str = "builder"
    """How messages name the builder class (``Branch``, ``Effects`` ...)."""

    def __init__(self) -> None:
        self._state = NEW

    def describe(self) -> str:
        """Name this builder in messages, e.g. ``Branch(after=classify)``."""
        return self._kind

    def _finish(self) -> None:
        """Validate and record the builder's content on a clean exit."""

    def __enter__(self) -> Self:
        if self._state is not NEW:
            what = self.describe()
            raise DefinitionError(
                f"{what} was already used; a builder is single-use\n\n"
                f"Incorrect: b = {what}; with b: ...; with b: ...\n"
                f"Correct:   with {what} as b: ...  # a new builder per block",
                subject=what,
            )
        self._state = OPEN
        _STACK.set((*_STACK.get(), self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _STACK.get()
        if exc_type is not None:
            # Unwinding an error: drop this builder wherever it is, validate nothing.
            _STACK.set(tuple(s for s in stack if s is not self))
            self._state = CLOSED
            return
        if not stack or stack[-1] is not self:
            inner = stack[-1].describe() if stack else "nothing"
            what = self.describe()
            raise DefinitionError(
                f"{what} was closed out of order: {inner} is still open inside it\n\n"
                "Incorrect: a.__enter__(); b.__enter__(); a.__exit__(...)\n"
                "Correct:   with a:\n"
                "               with b: ...",
                subject=what,
            )
        _STACK.set(stack[:-1])
        self._state = CLOSED
        self._finish()

    def _check_mutable(self, method: str) -> None:
        """Adding to a builder: not after it closed, not past an inner open one."""
        state = self._state
        if state is NEW:
            return
        if state is CLOSED:
            what = self.describe()
            raise DefinitionError(
                f"{what}.{method}() was called after its `with` block closed\n\n"
                f"Incorrect: with {what} as b: ...\n"
                f"           b.{method}(...)\n"
                f"Correct:   with {what} as b:\n"
                f"               b.{method}(...)",
                subject=what,
            )
        stack = _STACK.get()
        if stack and stack[-1] is not self:
            what = self.describe()
            inner = stack[-1].describe()
            raise DefinitionError(
                f"{what}.{method}() was called while {inner} is open inside it\n\n"
                f"Incorrect: with {what} as outer:\n"
                f"               with {inner}:\n"
                f"                   outer.{method}(...)\n"
                f"Correct:   with {what} as outer:\n"
                f"               outer.{method}(...)",
                subject=what,
            )

    def _require_open(self, method: str) -> None:
        """For builders whose methods only make sense inside their ``with`` block."""
        if self._state is NEW:
            what = self.describe()
            raise DefinitionError(
                f"{what}.{method}() was called outside a `with` block\n\n"
                f"Incorrect: b = {what}; b.{method}(...)\n"
                f"Correct:   with {what} as b:\n"
                f"               b.{method}(...)",
                subject=what,
            )
        self._check_mutable(method)
