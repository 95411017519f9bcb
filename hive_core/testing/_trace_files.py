"""Trace files: ``save_trace`` writes a run's events as JSON lines, ids included,
and ``load_trace`` reads them back. The same is available from a shell::

    python -m hive_core.testing diff golden.jsonl today.jsonl   # exit 0, 1 or 2
    python -m hive_core.testing show today.jsonl

See ``docs/testing.md``, "Trace files and diffs".
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from .. import events as _events
from ..events import Event
from ._errors import TraceFileError
from ._trace import Trace

__all__ = ["load_trace", "save_trace"]


_EVENT_TYPES: tuple[type[Event], ...] = tuple(
    cls
    for name in _events.__all__
    if isinstance(cls := getattr(_events, name), type)
    and issubclass(cls, Event)
    and cls is not Event
)
_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    typing.Union[_EVENT_TYPES]  # noqa: UP007
)
_encoder = msgspec.json.Encoder()


def save_trace(path: str | Path, trace: Trace | Iterable[Event]) -> None:
    """Write events as JSON lines (one event per line, ids included)."""
    items = trace.raw_events if isinstance(trace, Trace) else tuple(trace)
    for ev in items:
        if not isinstance(ev, Event):
            raise TypeError(
                f"save_trace expects a Trace or Event structs, got "
                f"{type(ev).__name__}; load_trace/Trace.raw_events give structs"
            )
    data = b"".join(_encoder.encode(ev) + b"\n" for ev in items)
    Path(path).write_bytes(data)


def load_trace(path: str | Path) -> list[Event]:
    """Read a file written by ``save_trace``; blank lines are skipped.

    Raises:
        TraceFileError: the file is missing, or a line is not a known event.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TraceFileError(path, exc.strerror or type(exc).__name__) from exc
    out: list[Event] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(_decoder.decode(line))
        except msgspec.DecodeError as exc:
            raise TraceFileError(path, str(exc), line=number) from exc
    return out
