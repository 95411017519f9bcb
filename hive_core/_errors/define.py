"""Errors raised while declaring schemas and graphs, and compile's problem list."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .base import HiveError

__all__ = ["DefinitionError", "Problem", "CompilationError"]


class DefinitionError(HiveError, TypeError):
    """Raised while declaring a schema, channel or workflow that cannot work.

    The message shows the incorrect and the correct form where there is a usual fix.
    """

    code = "definition-error"

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        self.subject = subject
        super().__init__(message)


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a graph; compile collects all of them before raising."""

    code: str
    """Stable identifier, also a heading in ``docs/errors.md``."""
    message: str
    """One sentence naming the culprit."""
    subject: str = ""
    """The id (node, channel or join) the problem is about."""
    details: dict[str, str] = {}
    """Further facts, e.g. ``{"from": "A", "to": "B"}``."""


class CompilationError(HiveError, ValueError):
    """Raised by ``GraphBuilder.compile`` with every problem found, in a fixed order.

    Fix all listed problems; each has a ``code`` documented in ``docs/errors.md``.
    """

    code = "compilation-error"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        lines = [f"Graph failed to compile with {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  [{p.code}] {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> tuple[str, ...]:
        """The problem codes in order, handy in tests and logs."""
        return tuple(p.code for p in self.problems)
