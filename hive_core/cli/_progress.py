"""Live progress of a run: a rich display on a terminal, plain lines otherwise.

On a terminal: the step, the tasks running now, and the model tokens streaming
in, redrawn as events arrive. Otherwise one readable line per event (the
``.trace`` format's event line), so logs and pipes stay greppable.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

import click

from ..events import (
    Event,
    ModelToken,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    trace_to_builtins,
)
from ..testing._trace_text import event_line

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["Progress"]


class Progress:
    """``with Progress(quiet) as p: p.event(ev)`` for each event of a run."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live_mode = not quiet and sys.stdout.isatty()
        self.step: int | None = None
        self.running: dict[str, str] = {}
        self.tokens = ""
        self._live: object | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            from rich.live import Live

            live = Live(self._render(), refresh_per_second=20, transient=False)
            live.__enter__()
            self._live = live
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render())  # type: ignore[attr-defined]
            self._live.__exit__(kind, exc, tb)  # type: ignore[attr-defined]

    def _render(self) -> Text:
        from rich.text import Text

        text = Text()
        text.append(f"step {self.step if self.step is not None else '-'}", "bold")
        running = ", ".join(sorted(self.running.values())) or "-"
        text.append(f"  running: {running}")
        if self.tokens:
            text.append("\n" + self.tokens[-400:], "cyan")
        return text

    def event(self, ev: Event) -> None:
        if self.quiet:
            return
        if ev.step is not None:
            self.step = ev.step
        if isinstance(ev, TaskStarted):
            self.running[ev.task_id] = ev.node
        elif isinstance(ev, TaskFinished | TaskFailed):
            self.running.pop(ev.task_id, None)
        elif isinstance(ev, ModelToken):
            self.tokens += ev.text
        if self._live is not None:
            self._live.update(self._render())  # type: ignore[attr-defined]
        else:
            click.echo(event_line(trace_to_builtins([ev])[0]))
