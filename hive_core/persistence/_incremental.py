"""Saves that cost what changed: reuse an unchanged channel, encode only an append.

A store that implements ``save_changes`` (the SQLite store) is handed, per
checkpointed channel, either its full codec bytes or a :data:`ChannelChange`
relative to what the same writer saved last: :class:`Unchanged` (reuse the stream
head) or :class:`Appended` (the head's first ``keep`` bytes, then ``tail``). Each
change names the :class:`StreamToken` it was computed against; the store checks
every token against the stream rows inside its save transaction and, if any other
writer moved a head since, writes nothing and returns ``None`` so the caller saves
the full bytes instead. Loading is unchanged: the same delta rows a byte compare
would have produced. See ``docs/concepts/checkpoint-storage.md``.

Only the JSON codec of a list is extended in place (its bytes are ``[`` items
joined by ``,`` then ``]``, each item encoded on its own); any other codec or
reducer gets full bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from typing import Any, Final, Protocol, TypeAlias

import msgspec

from ..state._channels import Channel
from ..state._codecs import JSONCodec
from ._fence import ExpectedLatest
from ._format import Checkpoint

__all__ = [
    "Appended",
    "ChannelChange",
    "SaveCache",
    "SaveChanges",
    "StreamToken",
    "Unchanged",
    "incremental_save",
]


class StreamToken(msgspec.Struct, frozen=True):
    """A stream row as a save left it; equal rows mean nobody wrote since."""

    stream: int
    head: int
    snapshot: int
    chain_bytes: int
    chain_rows: int


class Unchanged(msgspec.Struct, frozen=True):
    """The channel's bytes are the head of ``token``'s stream."""

    token: StreamToken


class Appended(msgspec.Struct, frozen=True):
    """The channel's bytes are the head's first ``keep`` bytes, then ``tail``."""

    token: StreamToken
    keep: int
    tail: bytes


ChannelChange: TypeAlias = Unchanged | Appended


class SaveChanges(Protocol):
    """A store's ``save_changes``: fenced like ``save``, ``None`` on a stale token."""

    def __call__(
        self,
        checkpoint: Checkpoint,
        changes: Mapping[str, ChannelChange],
        /,
        *,
        expected_latest: ExpectedLatest = ...,
    ) -> Awaitable[dict[str, StreamToken] | None]: ...


def incremental_save(store: object) -> SaveChanges | None:
    """The store's ``save_changes``, unless a subclass overrode ``save`` after it.

    A subclass that wraps ``save`` (to instrument or veto it) keeps seeing every
    save: it then gets full checkpoints through its ``save``.
    """
    method = getattr(store, "save_changes", None)
    if method is None:
        return None
    for cls in type(store).__mro__:
        if "save" in vars(cls):
            return method if "save_changes" in vars(cls) else None
    return None


_MAX_ENTRIES: Final = 4096
"""(thread, channel) pairs remembered; the oldest are forgotten first."""
_MAX_BYTES: Final = 64 * 1024 * 1024
"""Encoded bytes kept for stores without ``save_changes``."""


_NOT_APPENDED: Final = object()
"""``appended`` has no entry for the channel (a remembered ``None`` is not it)."""


class _Entry:
    __slots__ = ("data", "length", "token", "value")

    def __init__(
        self, value: object, length: int, data: bytes | None, token: StreamToken | None
    ) -> None:
        self.value = value
        """The committed value these bytes encode (held, so its identity stays)."""
        self.length = length
        self.data = data
        self.token = token


def _extendable(ch: Channel[Any]) -> bool:
    return type(ch.codec) is JSONCodec


class SaveCache:
    """What one writer last saved per (thread, channel), keyed by value identity.

    Committed values are never mutated (``docs/concepts/state.md``), so the same
    object encodes to the same bytes; the commit says which new lists extend which
    old ones (``ThreadState.appended``).
    """

    def __init__(self, *, keep_bytes: bool) -> None:
        self.keep_bytes = keep_bytes
        """Whether entries hold their bytes (stores without ``save_changes``)."""
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0

    def forget(self, thread_id: str) -> None:
        for key in [k for k in self._entries if k[0] == thread_id]:
            self._drop(key)

    def change(
        self,
        thread_id: str,
        ch: Channel[Any],
        value: object,
        appended: Mapping[str, object],
        encode: Any,
    ) -> tuple[bytes | ChannelChange, int]:
        """Full bytes or a change for ``save_changes``, and the new byte length."""
        entry = self._entries.get((thread_id, ch.id))
        if entry is not None and entry.token is not None:
            if entry.value is value:
                return Unchanged(entry.token), entry.length
            if appended.get(ch.id, _NOT_APPENDED) is entry.value and _extendable(ch):
                tail = self._tail(ch, value, entry, encode)
                if not tail:
                    return Unchanged(entry.token), entry.length
                keep = entry.length - 1
                return Appended(entry.token, keep, tail), keep + len(tail)
        raw: bytes = encode(ch, value)
        return raw, len(raw)

    def full_bytes(
        self,
        thread_id: str,
        ch: Channel[Any],
        value: object,
        appended: Mapping[str, object],
        encode: Any,
    ) -> bytes:
        """The channel's full bytes, reusing or extending the remembered ones."""
        entry = self._entries.get((thread_id, ch.id))
        if entry is not None and entry.data is not None:
            if entry.value is value:
                return entry.data
            if appended.get(ch.id, _NOT_APPENDED) is entry.value and _extendable(ch):
                tail = self._tail(ch, value, entry, encode)
                return entry.data[:-1] + tail if tail else entry.data
        return encode(ch, value)  # type: ignore[no-any-return]

    @staticmethod
    def _tail(ch: Channel[Any], value: Any, entry: _Entry, encode: Any) -> bytes:
        """The bytes after the old ``]``'s position, or ``b""`` if nothing new."""
        old: list[Any] = entry.value  # type: ignore[assignment]
        items = value[len(old) :]
        if not items:
            return b""
        encoded: bytes = encode(ch, items)
        return encoded[1:] if not old else b"," + encoded[1:]

    def remember(
        self,
        thread_id: str,
        ch: Channel[Any],
        value: object,
        length: int,
        data: bytes | None,
        token: StreamToken | None,
    ) -> None:
        key = (thread_id, ch.id)
        self._drop(key)
        if not self.keep_bytes or (data is not None and len(data) > _MAX_BYTES // 4):
            data = None
        if data is None and token is None:
            return
        self._entries[key] = _Entry(value, length, data, token)
        self._bytes += len(data) if data is not None else 0
        while len(self._entries) > _MAX_ENTRIES or self._bytes > _MAX_BYTES:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, str]) -> None:
        old = self._entries.pop(key, None)
        if old is not None and old.data is not None:
            self._bytes -= len(old.data)
