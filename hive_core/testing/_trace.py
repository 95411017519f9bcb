"""Traces as test artifacts: the ``Trace`` of one run, and diffs between traces.

A ``Trace`` is what ``hive_core.testing.Tracer`` (and the pytest ``hive_trace``
fixture) returns: the run's events as plain data in canonical order, the final
store, and the outcome. ``trace.to_text()`` is the readable form snapshot files use,
and ``diff_traces`` names the first event where two traces part ways. Trace files
(JSON lines) are read and written by ``_trace_files``; see ``docs/testing.md``.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterable, Mapping
from typing import Any, final

import msgspec

from ..events import Event, trace_to_builtins
from ..run_types import Interruption, Outcome
from ._trace_diff import TraceDiff, _diff_parts, _Parts, diff_texts
from ._trace_text import (
    event_line,
    format_value,
    parse_text,
    render_text,
)

__all__ = ["Trace", "TraceDiff", "diff_texts", "diff_traces"]


@final
class Trace:
    """One run as data: events, final store and outcome (or the error it raised).

    Compare two traces with ``==`` (events, store and outcome must all match), or a
    trace with a syrupy ``snapshot``: ``assert trace == snapshot`` stores
    ``to_text()`` in a readable ``.trace`` file next to the test.
    """

    __slots__ = ("_text", "error", "events", "outcome", "raw_events", "store")

    def __init__(
        self,
        *,
        events: Iterable[Event],
        store: Mapping[str, object],
        outcome: Outcome | None,
        error: BaseException | None = None,
    ) -> None:
        self.raw_events: tuple[Event, ...] = tuple(events)
        """The event structs, run and attempt ids included (for ``save_trace``)."""
        self.events: list[dict[str, Any]] = trace_to_builtins(self.raw_events)
        """Events as plain dicts in canonical order (``trace_to_builtins``)."""
        self.store: dict[str, object] = {k: store[k] for k in sorted(store)}
        """The thread's committed global store after the run, by channel id."""
        self.outcome = outcome
        """How the run ended; ``None`` if it raised."""
        self.error = error
        """The run's error, when it was captured instead of raised."""
        self._text: str | None = None

    # ------------------------------------------------------------- accessors

    @property
    def status(self) -> str:
        """``finished``, ``interrupted``, ``cancelled``, ``out_of_steps`` or
        ``error``."""
        return "error" if self.outcome is None else self.outcome.status

    @property
    def output(self) -> Mapping[str, Any]:
        """The outcome's (projected) output; empty when the run raised."""
        return {} if self.outcome is None else self.outcome.output

    @property
    def interrupt(self) -> Interruption | None:
        """The pending interrupt of an interrupted run."""
        return None if self.outcome is None else self.outcome.interrupt

    def kinds(self) -> list[str]:
        """Each event's kind, in order."""
        return [ev["kind"] for ev in self.events]

    def nodes_run(self) -> list[str]:
        """The node of every task that started, in step then ordinal order."""
        return [ev["node"] for ev in self.events if ev["kind"] == "task_started"]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The events of one kind, e.g. ``trace.of_kind("write_applied")``."""
        return [ev for ev in self.events if ev["kind"] == kind]

    # ------------------------------------------------------------- rendering

    def header_lines(self) -> list[str]:
        """The ``outcome:`` (and ``interrupt:``/``output:``/``error:``) lines."""
        err = self.error
        if err is not None or self.outcome is None:
            name = type(err).__name__ if err is not None else "unknown"
            return [
                f"outcome: error {name}",
                f"error: {_encoder.encode(str(err)).decode()}",
            ]
        out = self.outcome
        status: str = out.status
        if out.max_steps is not None:
            status += f" (max_steps={out.max_steps})"
        lines = [f"outcome: {status}"]
        if out.interrupt is not None:
            i = out.interrupt
            lines.append(
                f"interrupt: id={format_value(i.id)} node={format_value(i.node)} "
                f"payload={format_value(i.payload, short_hashes=False)}"
            )
        if sorted(out.output) != list(self.store):
            lines.append("output: " + ", ".join(sorted(out.output)))
        return lines

    def to_text(self) -> str:
        """The readable form: outcome header, one line per event, final store.

        ```text
        outcome: finished

        events:
        run    | run_started         | thread_id=test
        step 0 | step_started        | frontier_count=1
        step 0 | task_started        | ordinal=0 node=plan task_id=5f1c0e7a9d3b…
        ...
        store:
        topic = "tides"
        ```

        64-digit hex ids and hashes are cut to their first 12 digits; run and
        attempt ids and event indexes are left out (a line's position is its
        index).
        """
        if self._text is None:
            self._text = render_text(self.header_lines(), self.events, self.store)
        return self._text

    def _key(self) -> tuple[object, ...]:
        return (self.events, self.to_text())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trace):
            return self._key() == other._key()
        syrupy = sys.modules.get("syrupy.assertion")
        if syrupy is not None and isinstance(other, syrupy.SnapshotAssertion):
            from ._snapshot import compare_with_snapshot

            found: bool = compare_with_snapshot(self, other)
            return found
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Trace {self.status}, {len(self.events)} events>"


def _parts(source: Trace | Iterable[Event] | Iterable[Mapping[str, Any]]) -> _Parts:
    if isinstance(source, Trace):
        text = parse_text(source.to_text())
        return _Parts(source.events, text.event_lines, text.header, text.store, False)
    items = list(source)
    if all(isinstance(ev, Event) for ev in items):
        builtins = trace_to_builtins(typing.cast("list[Event]", items))
    elif all(isinstance(ev, Mapping) for ev in items):
        builtins = [dict(typing.cast("Mapping[str, Any]", ev)) for ev in items]
    else:
        raise TypeError(
            "expected a Trace, hive_core.events.Event structs or event dicts"
        )
    return _Parts(builtins, [event_line(ev) for ev in builtins], None, None, False)


def diff_traces(
    expected: Trace | Iterable[Event] | Iterable[Mapping[str, Any]],
    actual: Trace | Iterable[Event] | Iterable[Mapping[str, Any]],
    *,
    ignore: Iterable[str] = (),
) -> TraceDiff | None:
    """The first divergence between two traces, or ``None`` when they match.

    Events are compared first, in order, field by field (run and attempt ids are
    not compared; list more fields in ``ignore``, e.g. ``["task_id"]`` for traces
    of runs with random ids). When both sides are ``Trace`` objects, the outcome
    and then the final store are compared too.
    """
    return _diff_parts(_parts(expected), _parts(actual), frozenset(ignore))


_encoder = msgspec.json.Encoder()
