"""The errors of the testing tools, in the ``HiveError`` tree.

Each keeps the class it had before it joined the tree as a second base, so existing
``except ValueError`` / ``except AssertionError`` code keeps working, and pytest
reports a ``NondeterminismError`` or an ``UnexpectedCallError`` as a failed
assertion. Codes and fixes are listed in ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import HiveError
from ._trace import TraceDiff

__all__ = ["NondeterminismError", "TraceFileError", "UnexpectedCallError"]


class TraceFileError(HiveError, ValueError):
    """A trace file could not be read: missing, or a line is not an event."""

    code = "trace-file-unreadable"

    def __init__(
        self, path: str | Path, reason: str, *, line: int | None = None
    ) -> None:
        self.path = str(path)
        self.line = line
        """The 1-based line that is not an event, or ``None`` for the whole file."""
        self.reason = reason
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"cannot read trace {where}: {reason}")


class UnexpectedCallError(HiveError, AssertionError):
    """A ``ScriptedService`` was called more often than responses were scripted."""

    code = "unexpected-scripted-call"

    def __init__(
        self,
        *,
        method: str,
        call: str,
        number: int,
        overall: int,
        scripted: int,
        earlier: Sequence[str] = (),
    ) -> None:
        self.method = method
        """The scripted method, or ``""`` for a call of the service itself."""
        self.call = call
        """The unexpected call as text, e.g. ``search('moon')``."""
        self.number = number
        """Which call of ``method`` this was (1-based)."""
        self.overall = overall
        """Which call of the service, all methods counted (1-based)."""
        self.scripted = scripted
        """How many responses were scripted for ``method``."""
        self.earlier = tuple(earlier)
        """The earlier calls of ``method``, as text."""
        what = f"{method}()" if method else "the service"
        super().__init__(
            f"ScriptedService: unexpected call #{number} {call} (call {overall} "
            f"overall): {scripted} response{'' if scripted == 1 else 's'} scripted "
            f"for {what}"
            + (f"; earlier calls: {', '.join(self.earlier)}" if self.earlier else "")
        )


class NondeterminismError(HiveError, AssertionError):
    """A shuffled rerun of a graph produced a different trace than the first run."""

    code = "nondeterministic-trace"

    def __init__(
        self,
        *,
        seed: int,
        run: int,
        runs: int,
        diff: TraceDiff | None,
        error: BaseException | None = None,
        resume: int = 0,
        resumes: int = 0,
    ) -> None:
        self.seed = seed
        self.run = run
        """Which shuffled run differed (1-based)."""
        self.runs = runs
        self.diff = diff
        """The first divergence from the reference run."""
        self.error = error
        """The error the differing run raised, if it raised."""
        self.resume = resume
        """Where it differed: 0 in the run itself, ``k`` in the run the ``k``-th
        resume payload started."""
        self.resumes = resumes
        """How many resume payloads each run was answered with."""
        where = f" in resume {resume} of {resumes}" if resume else ""
        lines = [
            f"the graph is not deterministic: shuffled run {run} of {runs} "
            f"(seed={seed}) differs from the reference run{where}",
            diff.render() if diff is not None else "the traces differ",
        ]
        if error is not None:
            lines.append(f"shuffled run {run} raised {type(error).__name__}: {error}")
        lines.append(f"reproduce with seed={seed} (under pytest: --hive-seed={seed})")
        super().__init__("\n".join(lines))
