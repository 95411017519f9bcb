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
from typing import Any, Literal, final

import attrs
import msgspec

from ..events import Event, trace_to_builtins
from ..run_types import Interruption, Outcome
from ._trace_text import (
    HEX64 as _HEX64,
)
from ._trace_text import (
    TextParts,
    event_line,
    format_value,
    parse_text,
    render_text,
)

__all__ = ["Trace", "TraceDiff", "diff_texts", "diff_traces"]

_CONTEXT_BEFORE = 3
_CONTEXT_AFTER = 2
_SUMMARY_VALUE = 80


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


# ------------------------------------------------------------------- diffs


@final
@attrs.frozen(kw_only=True)
class TraceDiff:
    """Where two traces first differ, and how.

    For an event, ``index`` is its position (0-based, the event's ``index``), with
    its ``step``, task ``ordinal``, ``node`` and ``kind`` taken from the expected
    event; ``field`` names the first differing field, or is ``None`` when one trace
    simply has no event there. For the outcome or the store, ``field`` names the
    header line or the channel. ``expected`` and ``actual`` are shown as in a trace
    file.
    """

    section: Literal["events", "outcome", "store"]
    field: str | None
    expected: str
    actual: str
    index: int | None = None
    step: int | None = None
    ordinal: int | None = None
    node: str | None = None
    kind: str | None = None
    channel: str | None = None
    """The channel of a ``write_applied`` event."""
    context: tuple[str, ...] = ()
    """A few events around the divergence: ``  - `` expected, ``  + `` actual."""
    store_note: str | None = None
    """For an event divergence between full traces: the first store channel whose
    final value differs too, which shows *what* a differing payload hash means."""

    def summary(self) -> str:
        """One line naming the divergence."""
        exp, act = _clip(self.expected), _clip(self.actual)
        if self.section == "events":
            where = [f"step {self.step}"] if self.step is not None else ["run level"]
            if self.ordinal is not None:
                where.append(f"task ordinal {self.ordinal}")
            if self.node is not None:
                where.append(f"node `{self.node}`")
            if self.kind is not None:
                where.append(self.kind)
            if self.channel is not None:
                where.append(f"channel `{self.channel}`")
            head = f"first divergence at event {self.index} ({', '.join(where)})"
            if self.field is None:
                return f"{head}: expected {exp}, got {act}"
            return f"{head}: field `{self.field}` expected {exp}, got {act}"
        what = "outcome" if self.section == "outcome" else "store channel"
        return (
            f"events match; first divergence in the {what} `{self.field}`: "
            f"expected {exp}, got {act}"
        )

    def render(self) -> str:
        """The summary, expected and actual in full, then the context lines."""
        lines = [self.summary(), f"  expected: {self.expected}"]
        lines.append(f"  actual:   {self.actual}")
        if self.store_note is not None:
            lines.append(self.store_note)
        if self.context:
            lines.append("context (- expected, + actual):")
            lines += self.context
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _clip(text: str) -> str:
    if _HEX64.fullmatch(text):
        return format_value(text)
    text = text.replace("\n", " ")
    return text if len(text) <= _SUMMARY_VALUE else text[: _SUMMARY_VALUE - 1] + "…"


@attrs.frozen
class _Parts:
    """A trace reduced to what diffs compare, from a ``Trace``, events or text."""

    events: list[dict[str, Any]]
    lines: list[str]
    header: dict[str, str] | None
    store: dict[str, str] | None
    short: bool
    """Values are already display tokens (parsed from text)."""


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


def _text_parts(text: str) -> _Parts:
    parsed: TextParts = parse_text(text)
    return _Parts(
        events=parsed.events,
        lines=parsed.event_lines,
        header=parsed.header,
        store=parsed.store,
        short=True,
    )


def _show(value: object, short: bool) -> str:
    if short and isinstance(value, str):
        return value
    return format_value(value, short_hashes=False)


def _first_field(exp: Mapping[str, Any], act: Mapping[str, Any]) -> str:
    for key in [*exp, *(k for k in act if k not in exp)]:
        if key not in exp or key not in act or exp[key] != act[key]:
            return key
    return "kind"  # unreachable for unequal mappings


def _context(exp: _Parts, act: _Parts, i: int) -> tuple[str, ...]:
    out = [
        f"      {j:>3}  {exp.lines[j]}" for j in range(max(0, i - _CONTEXT_BEFORE), i)
    ]
    end = i + 1 + _CONTEXT_AFTER
    out += [f"    - {j:>3}  {exp.lines[j]}" for j in range(i, min(end, len(exp.lines)))]
    out += [f"    + {j:>3}  {act.lines[j]}" for j in range(i, min(end, len(act.lines)))]
    return tuple(out)


def _diff_events(exp: _Parts, act: _Parts, ignore: frozenset[str]) -> TraceDiff | None:
    short = exp.short or act.short
    for i in range(max(len(exp.events), len(act.events))):
        e = exp.events[i] if i < len(exp.events) else None
        a = act.events[i] if i < len(act.events) else None
        if e is not None and ignore:
            e = {k: v for k, v in e.items() if k not in ignore}
        if a is not None and ignore:
            a = {k: v for k, v in a.items() if k not in ignore}
        if e == a:
            continue
        ref: Mapping[str, Any] = e if e is not None else a  # type: ignore[assignment]
        if e is None or a is None:
            field = None
            expected = exp.lines[i] if e is not None else "<end of trace>"
            actual = act.lines[i] if a is not None else "<end of trace>"
        else:
            field = _first_field(e, a)
            expected = _show(e[field], short) if field in e else "<absent>"
            actual = _show(a[field], short) if field in a else "<absent>"
        node = ref.get("node")
        ordinal = ref.get("ordinal")
        step = ref.get("step")
        channel = ref.get("channel")
        return TraceDiff(
            section="events",
            index=i,
            step=step if isinstance(step, int) else None,
            ordinal=ordinal if isinstance(ordinal, int) else None,
            node=node if isinstance(node, str) else None,
            kind=str(ref["kind"]),
            channel=channel if isinstance(channel, str) else None,
            field=field,
            expected=expected,
            actual=actual,
            context=_context(exp, act, i),
        )
    return None


def _diff_mapping(
    section: Literal["outcome", "store"],
    exp: Mapping[str, str] | None,
    act: Mapping[str, str] | None,
) -> TraceDiff | None:
    if exp is None or act is None or exp == act:
        return None
    for key in sorted({*exp, *act}):
        if exp.get(key) != act.get(key):
            return TraceDiff(
                section=section,
                field=key,
                expected=exp.get(key, "<absent>"),
                actual=act.get(key, "<absent>"),
            )
    return None  # pragma: no cover - unequal mappings differ somewhere


def _diff_parts(exp: _Parts, act: _Parts, ignore: frozenset[str]) -> TraceDiff | None:
    found = _diff_events(exp, act, ignore)
    if found is None:
        return _diff_mapping("outcome", exp.header, act.header) or _diff_mapping(
            "store", exp.store, act.store
        )
    store = _diff_mapping("store", exp.store, act.store)
    if store is None:
        return found
    note = (
        f"the final store differs too, first at channel `{store.field}`: "
        f"expected {_clip(store.expected)}, got {_clip(store.actual)}"
    )
    return attrs.evolve(found, store_note=note)


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


def diff_texts(expected: str, actual: str) -> TraceDiff | None:
    """The first divergence between two rendered traces (``Trace.to_text()``)."""
    return _diff_parts(_text_parts(expected), _text_parts(actual), frozenset())


_encoder = msgspec.json.Encoder()
