"""The readable trace format: one event per line, plus outcome and store sections.

Rendering is a pure function of the trace's plain data, so a snapshot file is the same
on every machine and Python version: no reprs, sorted keys, and 64-digit hex hashes
and ids cut to a fixed 12-digit prefix. Parsing reads the format back just far enough
to name the first event, outcome line or store channel that differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import msgspec

from ..state._codecs import canonical_json

__all__ = [
    "EVENTS_HEADER",
    "HASH_PREFIX",
    "HEX64",
    "STORE_HEADER",
    "TextParts",
    "event_line",
    "format_value",
    "parse_event_line",
    "parse_text",
    "render_text",
    "store_entry",
]

HASH_PREFIX = 12
"""Hex digits kept of a 64-digit hash or id (followed by ``…``)."""

HEX64 = re.compile(r"[0-9a-f]{64}")
_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-…]+")
_LITERAL = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null")
_KIND_WIDTH = 19  # the longest deterministic kind, "stream_backpressure"
_WHERE_WIDTH = 6  # "step 0"
_HIDDEN = frozenset({"kind", "index", "step", "run_id", "attempt_id"})
_LONG_VALUE = 100
_decoder = json.JSONDecoder()

EVENTS_HEADER = "events:"
STORE_HEADER = "store:"


def _json(value: object) -> str:
    try:
        return canonical_json(value).decode("utf-8")
    except (TypeError, msgspec.EncodeError):
        return f"<unencodable {type(value).__qualname__}>"


def format_value(value: object, *, short_hashes: bool = True) -> str:
    """A value as one token: bare words stay bare, anything else is JSON."""
    if isinstance(value, str):
        if short_hashes and HEX64.fullmatch(value):
            return value[:HASH_PREFIX] + "…"
        if _BARE.fullmatch(value) and not _LITERAL.fullmatch(value):
            return value
    return _json(value)


def event_line(event: Mapping[str, Any], *, short_hashes: bool = True) -> str:
    """``step 0 | task_started        | ordinal=0 node=A task_id=3b54d1bf0b9a…``."""
    step = event.get("step")
    where = "run" if step is None else f"step {step}"
    fields = " ".join(
        f"{key}={format_value(value, short_hashes=short_hashes)}"
        for key, value in event.items()
        if key not in _HIDDEN
    )
    line = f"{where:<{_WHERE_WIDTH}} | {event['kind']:<{_KIND_WIDTH}}"
    return f"{line} | {fields}" if fields else line.rstrip()


def parse_event_line(line: str) -> dict[str, Any]:
    """Read an event line back: ``kind``, ``step`` (int) and raw field tokens."""
    parts = line.split(" | ", 2)
    if len(parts) < 2:
        return {"kind": line.strip()}
    where, kind = parts[0].strip(), parts[1].strip()
    out: dict[str, Any] = {"kind": kind}
    if where.startswith("step "):
        try:
            out["step"] = int(where[5:])
        except ValueError:
            out["step"] = where[5:]
    rest = parts[2] if len(parts) == 3 else ""
    pos = 0
    while pos < len(rest):
        if rest[pos] == " ":
            pos += 1
            continue
        eq = rest.find("=", pos)
        if eq < 0:
            break
        key = rest[pos:eq]
        start = eq + 1
        end = start
        if start < len(rest) and rest[start] in '"{[':
            try:
                _, end = _decoder.raw_decode(rest, start)
            except ValueError:
                end = len(rest)
        else:
            space = rest.find(" ", start)
            end = len(rest) if space < 0 else space
        token = rest[start:end]
        out[key] = int(token) if key == "ordinal" and token.isdigit() else token
        pos = end
    return out


def store_entry(channel: str, value: object) -> list[str]:
    """``name = <json>``; long values are pretty-printed over indented lines."""
    text = _json(value)
    if len(text) > _LONG_VALUE and not text.startswith("<"):
        text = msgspec.json.format(text, indent=2)
    first, *rest = text.split("\n")
    return [f"{channel} = {first}", *("  " + line for line in rest)]


def render_text(
    header: Iterable[str],
    events: Iterable[Mapping[str, Any]],
    store: Mapping[str, object],
) -> str:
    """The whole document: header lines, ``events:``, ``store:``; ends in a newline."""
    lines = [*header, "", EVENTS_HEADER]
    lines += [event_line(ev) for ev in events]
    lines += ["", STORE_HEADER]
    for channel in sorted(store):
        lines += store_entry(channel, store[channel])
    return "\n".join(lines) + "\n"


@attrs.frozen
class TextParts:
    """A rendered trace split back into its sections."""

    header: dict[str, str]
    event_lines: list[str]
    events: list[dict[str, Any]]
    store: dict[str, str]


def parse_text(text: str) -> TextParts:
    """Split a rendered trace into header fields, events and store entries."""
    header: dict[str, str] = {}
    event_lines: list[str] = []
    store: dict[str, str] = {}
    section = "header"
    current: str | None = None
    for line in text.splitlines():
        if line == EVENTS_HEADER:
            section = "events"
            continue
        if line == STORE_HEADER:
            section = "store"
            continue
        if not line.strip():
            continue
        if section == "header":
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
        elif section == "events":
            event_lines.append(line)
        elif line.startswith("  ") and current is not None:
            store[current] += "\n" + line[2:]
        else:
            current, _, value = line.partition(" = ")
            store[current] = value
    return TextParts(
        header=header,
        event_lines=event_lines,
        events=[parse_event_line(line) for line in event_lines],
        store=store,
    )
