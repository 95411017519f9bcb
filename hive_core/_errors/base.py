"""The root of the tree and the helpers every family's messages use (``docs/errors.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = ["HiveError", "HiveInternalError"]


def _restore(cls: type[HiveError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


class HiveError(Exception):
    """Root of every error Hive raises deliberately.

    Subclasses set attributes first and then pass a finished message up; pickling
    goes through ``__reduce__`` so keyword-only constructors round-trip too.
    """

    code: ClassVar[str] = "hive-error"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _where(step: int | None = None, node: str | None = None) -> list[str]:
    parts = []
    if node is not None:
        parts.append(f"node `{node}`")
    if step is not None:
        parts.append(f"step {step}")
    return parts


def _with_context(message: str, parts: Sequence[str]) -> str:
    """``message`` with its ``- at node ..., step ...`` context.

    A one-line message ends with the context; a longer one (a ``Fix:`` line, a cause
    that has lines of its own) gets it on a line of its own right after the first
    line, so it is never glued to the end of a ``Fix:`` line (``docs/errors.md``).
    """
    if not parts:
        return message
    context = "- at " + ", ".join(parts)
    head, newline, rest = message.partition("\n")
    if not newline:
        return f"{message} {context}"
    return f"{head}\n{context}\n{rest}"


class HiveInternalError(HiveError):
    """An invariant inside Hive broke. This is a bug in Hive: please report it."""

    code = "internal-error"
