"""Version chains: how one channel's successive byte values are stored and rebuilt.

Each ``(thread, channel)`` is a *stream* of versions ``0, 1, 2, …``. A version is
stored as a row keyed by ``stream << 32 | version`` that is either a **snapshot**
(``prefix`` is ``None``: the row's data is the value) or a **delta** (the value is the
previous version's first ``prefix`` bytes followed by the row's data). The chain of a
version is the rows from the newest snapshot at or before it up to it: one
contiguous key range. Every row carries a CRC-32 of its data seeded with its prefix.

Nothing here touches SQL; ``hive_core.persistence`` does.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Final, TypeAlias

import msgspec

from ..errors import CheckpointCorruptError, CheckpointDecodeError

__all__ = [
    "INLINE_BYTES",
    "MAX_STREAM",
    "MAX_VERSION",
    "VERSION_BITS",
    "ChannelRef",
    "HeadCache",
    "Row",
    "blob_key",
    "common_prefix",
    "inline_data",
    "key_range",
    "rebuild",
    "row_crc",
]

Row: TypeAlias = tuple[object, object, object]
"""``(prefix, crc, data)`` as read from the database, not yet trusted."""

VERSION_BITS: Final = 32
MAX_VERSION: Final = (1 << VERSION_BITS) - 1
MAX_STREAM: Final = (1 << (63 - VERSION_BITS)) - 1


INLINE_BYTES: Final = 32
"""Channel bytes up to this length are stored in the checkpoint's body, not as a
stream version: a version row and its stream update cost two more rows (in SQLite
two more dirty pages, each written whole to the WAL), while the bytes cost about
what the reference to a stream version would (``docs/concepts/checkpoint-storage.md``)."""


def inline_data(
    inline: tuple[tuple[str, bytes], ...],
    channels: tuple[ChannelRef, ...],
    checkpoint_id: str,
) -> dict[str, bytes]:
    """A body's inline channels, refused when a channel is named twice (in
    ``inline`` or also in ``channels``): a crafted body must not pick a value."""
    data = dict(inline)
    if len(data) != len(inline) or not data.keys().isdisjoint(
        [ref.channel for ref in channels]
    ):
        raise CheckpointDecodeError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            reason="a channel is stored twice in the checkpoint's body",
        )
    return data


class ChannelRef(msgspec.Struct, array_like=True, frozen=True):
    """Where one channel's bytes of one checkpoint live."""

    channel: str
    stream: int
    version: int
    snapshot: int
    """The chain's snapshot version: the bytes are rows ``snapshot..version``."""


class HeadCache:
    """The newest bytes of recently written streams, bounded by total size.

    Saves compare new bytes with the stream head; without this cache each save
    would rebuild the head from its chain first. An entry is used only when its
    version equals the head read inside the save transaction, so writes by other
    connections cannot make it stale.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._size = 0

    def get(self, stream: int, version: int) -> bytes | None:
        entry = self._entries.get(stream)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(stream)
        return entry[1]

    def put(self, stream: int, version: int, data: bytes) -> None:
        old = self._entries.pop(stream, None)
        if old is not None:
            self._size -= len(old[1])
        if len(data) > self.max_bytes:
            return
        self._entries[stream] = (version, data)
        self._size += len(data)
        while self._size > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._size -= len(dropped)

    def drop(self, streams: list[int]) -> None:
        """Forget these streams (their thread was deleted)."""
        for stream in streams:
            old = self._entries.pop(stream, None)
            if old is not None:
                self._size -= len(old[1])

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix, by bisection over C-level compares."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def row_crc(prefix: int | None, data: bytes) -> int:
    """CRC-32 of a row's data, seeded with its prefix so both are covered."""
    return zlib.crc32(data, (prefix or 0) & 0xFFFFFFFF)


def _chain_error(
    ref: ChannelRef, checkpoint_id: str, reason: str
) -> CheckpointCorruptError:
    return CheckpointCorruptError(
        f"global_data.{ref.channel}", checkpoint_id=checkpoint_id, reason=reason
    )


def _bad_row(
    ref: ChannelRef,
    version: int,
    row: Row | None,
    base_len: int,
    checkpoint_id: str,
) -> CheckpointCorruptError:
    """Say precisely what is wrong with one row of a version chain."""
    where = f"version {version} of stream {ref.stream}"
    chain = f"chain {ref.snapshot}..{ref.version}"
    is_snapshot = version == ref.snapshot
    if row is None:
        kind = "snapshot" if is_snapshot else "delta"
        reason = f"{kind} {where} is missing ({chain})"
    else:
        prefix, crc, data = row
        if not isinstance(data, bytes) or not (
            prefix is None or isinstance(prefix, int)
        ):
            reason = f"{where} is malformed"
        elif crc != row_crc(prefix, data):
            reason = f"{where} fails its CRC check"
        elif is_snapshot:
            reason = (
                f"{where} is a delta but the {chain} starts there: its base "
                f"version {version - 1} is not part of the chain"
            )
        elif prefix is None:
            reason = f"{where} is a snapshot inside {chain}: the reference is stale"
        else:
            reason = f"delta {where} keeps {prefix} bytes of a {base_len}-byte base"
    return _chain_error(ref, checkpoint_id, reason)


def blob_key(stream: int, version: int) -> int:
    """The row key of one version: a stream's versions are one contiguous range."""
    return (stream << VERSION_BITS) | version


def key_range(ref: ChannelRef) -> tuple[int, int]:
    """The inclusive key range of the rows that rebuild ``ref``."""
    if not (
        0 <= ref.snapshot <= ref.version <= MAX_VERSION
        and 0 <= ref.stream <= MAX_STREAM
    ):
        return (1, 0)  # empty range; rebuild names what is missing
    return (blob_key(ref.stream, ref.snapshot), blob_key(ref.stream, ref.version))


def rebuild(
    ref: ChannelRef,
    rows: dict[int, Row],
    checkpoint_id: str,
) -> bytes:
    """Apply rows ``snapshot..version`` of the ref's stream, checking each."""
    if not 0 <= ref.snapshot <= ref.version <= MAX_VERSION:
        raise _chain_error(
            ref, checkpoint_id, f"bad chain: versions {ref.snapshot}..{ref.version}"
        )
    base = ref.stream << VERSION_BITS
    first = rows.get(base | ref.snapshot)
    if (
        first is None
        or first[0] is not None
        or type(first[2]) is not bytes
        or first[1] != row_crc(None, first[2])
    ):
        raise _bad_row(ref, ref.snapshot, first, 0, checkpoint_id)
    if ref.version == ref.snapshot:
        return first[2]
    buf = bytearray(first[2])
    crc32 = zlib.crc32
    for version in range(ref.snapshot + 1, ref.version + 1):
        row = rows.get(base | version)
        if row is None:
            raise _bad_row(ref, version, row, len(buf), checkpoint_id)
        prefix, crc, data = row
        if (
            type(prefix) is not int
            or type(data) is not bytes
            or crc != crc32(data, prefix & 0xFFFFFFFF)
            or not 0 <= prefix <= len(buf)
        ):
            raise _bad_row(ref, version, row, len(buf), checkpoint_id)
        del buf[prefix:]
        buf += data
    return bytes(buf)
