"""Diffs between traces: where two traces first part ways, and how.

Works on the reduced form both a ``Trace`` and a rendered trace text come down to
(``_Parts``), so it needs no ``Trace`` itself: ``_trace.py`` builds the parts of a
``Trace`` and ``_snapshot.py`` diffs snapshot texts, and neither imports the other
for it (``docs/testing.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, final

import attrs

from ._trace_text import HEX64 as _HEX64
from ._trace_text import TextParts, format_value, parse_text

__all__ = ["TraceDiff", "diff_texts"]

_CONTEXT_BEFORE = 3
_CONTEXT_AFTER = 2
_SUMMARY_VALUE = 80


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


def diff_texts(expected: str, actual: str) -> TraceDiff | None:
    """The first divergence between two rendered traces (``Trace.to_text()``)."""
    return _diff_parts(_text_parts(expected), _text_parts(actual), frozenset())
