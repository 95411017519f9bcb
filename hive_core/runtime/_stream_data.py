"""The values the ``values`` and ``updates`` stream modes carry, encoded cheaply.

Only built for a run streamed in those modes (``docs/guides/streaming.md``). Both
encode with one ``msgspec.to_builtins`` call where they can (per step for
``values``, per task for ``updates``) and fall back to ``payload_json`` per value
only when that call refuses a value; ``values`` re-encodes only the channels the
step wrote and keeps the previous encoding of the others.

An in-process stream that records no events (``EventSink.direct``) gets its
parts built here straight away (``DirectParts``): the very parts
``project_stream`` makes of the ``task_writes`` / ``step_values`` events, without
building those events first.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import TYPE_CHECKING, Any, final

import msgspec

from ..nodes import NodeOutput
from ..state._channels import Channel, Write
from ._hashing import payload_json
from ._stream import INTERRUPT_KEY, StreamPart

if TYPE_CHECKING:
    from ._commit import CommitResult
    from ._execute import Failure
    from ._sink import EventSink
    from ._state import Task, ThreadState

__all__ = ["DirectParts", "ValuesEncoder", "encode_grouped", "encode_task_writes"]


def _encode(by_id: Mapping[str, Channel[Any]], raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as JSON-able values: one call, per channel only if that fails."""
    try:
        return msgspec.to_builtins(raw)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return _payloads(by_id, raw, ())


@final
class ValuesEncoder:
    """The output channels' encoded values after each step of one attempt.

    A channel the step did not write keeps the previous step's encoding (the
    committed store replaces only written channels), so a step costs what it
    wrote, not the size of the whole state. Unchanged values are therefore
    shared between consecutive parts: treat a part's ``data`` as read-only.
    """

    __slots__ = ("_by_id", "_encoded", "_ids", "_sorted")

    def __init__(self, by_id: Mapping[str, Channel[Any]], ids: Sequence[str]) -> None:
        self._by_id = by_id
        self._ids = ids
        self._encoded: dict[str, Any] | None = None
        self._sorted = _in_order(ids)
        """Whether the output's order is the id order ``written`` comes in."""

    def encode(
        self, values: Mapping[str, Any], written: Sequence[tuple[str, Any]]
    ) -> dict[str, Any]:
        ids = self._ids
        prev = self._encoded
        if prev is None:
            fresh = _encode(self._by_id, {cid: values[cid] for cid in ids})
        else:
            changed: dict[str, Any] = {}
            for cid, _ in written:  # a plain loop: no call per step
                if cid in prev:
                    changed[cid] = values[cid]
            if len(changed) == len(ids) and self._sorted:
                fresh = _encode(self._by_id, changed)  # both in id order
            else:
                fresh = dict(prev)  # keeps the output's order
                if changed:
                    fresh.update(_encode(self._by_id, changed))
        self._encoded = fresh
        return fresh


def _in_order(ids: Sequence[str]) -> bool:
    """Whether ``ids`` are sorted; kept per tuple (a graph has one or two
    projections, and every streamed attempt asks)."""
    key = ids if type(ids) is tuple else None
    if key is not None:
        known = _IN_ORDER.get(key)
        if known is not None:
            return known
    result = list(ids) == sorted(ids)
    if key is not None and len(_IN_ORDER) < 256:
        _IN_ORDER[key] = result
    return result


_IN_ORDER: dict[tuple[str, ...], bool] = {}


def encode_task_writes(
    glob: Mapping[str, Channel[Any]], writes: Sequence[Write[Any]]
) -> dict[str, Any]:
    """A task's writes to global channels, by channel id (sorted); a channel
    written more than once maps to the list of its values. ``glob`` is the
    schema's global channels (``SchemaSpec.global_by_id``).

    Called after the commit checked every write, so each channel is named."""
    raw: dict[str, Any] = {}
    multi: set[str] | None = None
    last = ""
    ordered = True
    for w in writes:
        ch = w.channel
        cid = ch if type(ch) is str else ch._id  # type: ignore[union-attr]
        if cid not in glob:
            continue
        if cid not in raw:
            raw[cid] = w.value  # type: ignore[index]
            if cid < last:  # type: ignore[operator]
                ordered = False
            last = cid  # type: ignore[assignment]
            continue
        if multi is None:
            multi = set()
        if cid not in multi:
            multi.add(cid)
            raw[cid] = [raw[cid]]
        raw[cid].append(w.value)
    if not ordered:  # rebuilt in id order only when written out of it
        if len(raw) == 2:  # two out of order are the other way round: no sort
            first, second = raw
            raw = {second: raw[second], first: raw[first]}
        else:
            raw = dict(sorted(raw.items()))
    try:
        return msgspec.to_builtins(raw)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return _payloads(glob, raw, multi or ())


def _payloads(
    channels: Mapping[str, Channel[Any]], raw: dict[str, Any], many: Container[str]
) -> dict[str, Any]:
    """``raw`` encoded channel by channel (when one ``to_builtins`` call fails): a
    channel in ``many`` maps to the list of its writes."""
    return {
        cid: [payload_json(channels[cid], v) for v in value]
        if cid in many
        else payload_json(channels[cid], value)
        for cid, value in raw.items()
    }


def encode_grouped(
    glob: Mapping[str, Channel[Any]],
    grouped: Mapping[str, list[Any]],
    written: Sequence[tuple[str, Any]],
) -> dict[str, Any]:
    """``encode_task_writes`` of a one-task step from what its commit grouped
    (``CommitResult.grouped``): ``written`` lists the same channels, sorted."""
    raw: dict[str, Any] = {}
    for cid, _ in written:
        values = grouped[cid]
        raw[cid] = values[0] if len(values) == 1 else values
    try:
        return msgspec.to_builtins(raw)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return _payloads(glob, raw, {c for c, vs in grouped.items() if len(vs) > 1})


@final
class DirectParts:
    """A step's ``updates`` and ``values`` parts, queued as parts for the stream
    driving the run (``EventSink.direct``): what the projection of the step's
    ``task_writes`` (one per task, by ordinal) and then its ``step_values`` gives
    (``_stream.py``), in that order. A step's parts are queued at once (its
    results are in memory anyway); the loop's yield after every step hands them
    to the stream."""

    __slots__ = ("_buf", "_globals", "_sink", "_values", "updates")

    def __init__(
        self,
        sink: EventSink,
        glob: Mapping[str, Channel[Any]],
        updates: bool,
        values: ValuesEncoder | None,
    ) -> None:
        self._sink = sink
        self._buf = sink._buf
        self._globals = glob
        self.updates = updates
        self._values = values

    def queue(
        self,
        tasks: Sequence[Task],
        step: int,
        results: Sequence[NodeOutput | Failure],
        commit: CommitResult,
        state: ThreadState,
    ) -> None:
        if not self._sink.direct:
            return  # the stream stopped: nobody reads the parts
        buf = self._buf
        written = commit.written
        grouped = commit.grouped
        if self.updates and grouped is not None:  # one task, all its writes global
            task = tasks[0]
            node = task.node
            buf.append(
                StreamPart(
                    mode="updates",
                    data={node: encode_grouped(self._globals, grouped, written)},
                    step=step,
                    node=node,
                    task_id=task.id,
                )
            )
        elif self.updates:
            glob = self._globals  # a fan-out, or a commit that took the general path
            for t, r in zip(tasks, results, strict=True):
                node = t.node
                writes = (
                    (encode_task_writes(glob, r.writes) if r.writes else {})
                    if isinstance(r, NodeOutput)
                    else {}
                )
                buf.append(
                    StreamPart(
                        mode="updates",
                        data={node: writes},
                        step=step,
                        node=node,
                        task_id=t.id,
                    )
                )
        encoder = self._values
        if encoder is None:
            return
        data = dict(encoder.encode(state.values, written))  # shared between steps
        pending = state.interruption
        if pending is not None:
            value = msgspec.to_builtins(pending.payload)
            data[INTERRUPT_KEY] = [{"id": pending.id, "value": value}]
        buf.append(StreamPart(mode="values", data=data, step=step))
