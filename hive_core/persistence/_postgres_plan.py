"""What one Postgres save writes, decided in Python before any SQL is sent.

Pure functions over the version-chain helpers of ``_chains``: given each channel's
new bytes, its stream row and the stream head's bytes, choose per channel "reuse the
head", "append a delta" or "append a snapshot" (the same rule and knobs as the SQLite
store, see ``docs/concepts/checkpoint-storage.md``), and lay the rows out as the
column arrays the store's single write statement takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec

from ..errors import CheckpointDecodeError, CheckpointEncodeError, CheckpointError
from ._chains import (
    INLINE_BYTES,
    MAX_VERSION,
    ChannelRef,
    blob_key,
    common_prefix,
    row_crc,
)
from ._format import CheckpointInterruption, FrontierEntry

__all__ = [
    "Body",
    "Plan",
    "Stream",
    "as_bytes",
    "decode_body",
    "encode_body",
    "plan",
    "split_inline",
]


class Body(msgspec.Struct, array_like=True, frozen=True):
    """Every ``Checkpoint`` field that is not a column, minus ``global_data``.

    A test pins ``Checkpoint``'s fields, so a new one cannot be dropped silently.
    """

    format_version: int
    schema_version: str | None
    """``None``: the same as the thread's first checkpoint (kept on its row)."""
    graph_version: str | None
    frontier: tuple[FrontierEntry, ...]
    join_barriers: dict[str, tuple[str, ...]]
    interruption: CheckpointInterruption | None
    channels: tuple[ChannelRef, ...]
    inline: tuple[tuple[str, bytes], ...] = ()
    """Channels of at most :data:`INLINE_BYTES` bytes, kept in the body, sorted by
    channel (layout 3; earlier bodies have none)."""


def split_inline(
    global_data: Mapping[str, object],
) -> tuple[dict[str, bytes], tuple[tuple[str, bytes], ...]]:
    """The streamed channels and the inline ones, each sorted by channel."""
    streamed: dict[str, bytes] = {}
    inline: list[tuple[str, bytes]] = []
    for channel, value in sorted(global_data.items()):
        raw = as_bytes(channel, value)
        if len(raw) <= INLINE_BYTES:
            inline.append((channel, raw))
        else:
            streamed[channel] = raw
    return streamed, tuple(inline)


encode_body = msgspec.msgpack.Encoder(order="deterministic").encode
_decode = msgspec.msgpack.Decoder(Body).decode


def decode_body(checkpoint_id: str, raw: object) -> Body:
    if not isinstance(raw, bytes):
        raise CheckpointDecodeError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            reason=f"body is {type(raw).__name__}, not bytea",
        )
    try:
        return _decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointDecodeError(
            "checkpoint", checkpoint_id=checkpoint_id, reason=str(exc)
        ) from None


class Stream(msgspec.Struct, frozen=True):
    """One ``(thread, channel)`` stream row; ``head`` is -1 before its first version."""

    stream: int
    head: int
    snapshot: int
    """The snapshot version the head's chain starts from."""
    chain_bytes: int
    """Bytes of the head's chain: the snapshot plus every delta after it."""
    chain_rows: int


class Tuning(Protocol):
    delta_min_prefix: int
    delta_row_cost: int
    delta_cost_factor: int


def as_bytes(channel: str, value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise CheckpointEncodeError(
        channel, reason=f"global_data holds {type(value).__name__}, not bytes"
    )


class Plan:
    """The rows of one save: new blobs, moved stream heads, and the body's refs."""

    __slots__ = ("blobs", "refs", "streams")

    def __init__(self) -> None:
        self.blobs: list[tuple[int, int | None, int, bytes]] = []
        self.streams: dict[str, Stream] = {}
        self.refs: tuple[ChannelRef, ...] = ()

    def blob_columns(self) -> tuple[list[object], ...]:
        columns: tuple[list[object], ...] = ([], [], [], [])
        for row in self.blobs:
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        return columns

    def stream_columns(self) -> tuple[list[int], ...]:
        columns: tuple[list[int], ...] = ([], [], [], [], [])
        for st in self.streams.values():
            for column, value in zip(columns, msgspec.structs.astuple(st), strict=True):
                column.append(value)
        return columns


def plan(
    tuning: Tuning,
    data: dict[str, bytes],
    streams: dict[str, Stream],
    heads: dict[str, bytes],
) -> Plan:
    """Reuse, delta or snapshot for each channel of ``data`` (in its order)."""
    out = Plan()
    refs: list[ChannelRef] = []
    row_cost = tuning.delta_row_cost
    for channel, value in data.items():
        st = streams[channel]
        prefix: int | None = None
        if st.head >= 0:
            head = heads[channel]
            if head == value:
                refs.append(ChannelRef(channel, st.stream, st.head, st.snapshot))
                continue
            shared = common_prefix(head, value)
            # Loading a delta reads its whole chain: keep that within a bounded
            # multiple of what loading a snapshot of the new bytes would cost.
            chain_cost = (
                st.chain_bytes + len(value) - shared + row_cost * (st.chain_rows + 1)
            )
            if shared >= tuning.delta_min_prefix and chain_cost <= (
                tuning.delta_cost_factor * (len(value) + row_cost)
            ):
                prefix = shared
        version = st.head + 1
        if version > MAX_VERSION:
            raise CheckpointError(f"channel `{channel}` has too many versions")
        if prefix is None:
            stored = value
            new = Stream(st.stream, version, version, len(value), 1)
        else:
            stored = value[prefix:]
            new = Stream(
                st.stream,
                version,
                st.snapshot,
                st.chain_bytes + len(stored),
                st.chain_rows + 1,
            )
        out.blobs.append(
            (blob_key(st.stream, version), prefix, row_crc(prefix, stored), stored)
        )
        out.streams[channel] = new
        refs.append(ChannelRef(channel, st.stream, version, new.snapshot))
    out.refs = tuple(refs)
    return out
