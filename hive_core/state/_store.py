"""Stores: the committed global snapshot, task-local overlays, and read-only views.

Snapshots are never mutated after a commit publishes them: a commit builds a new
mapping that shares every unchanged value, so a step that writes one channel of a
hundred does one channel's work, and any earlier snapshot stays valid for checkpoints
and for views still held by user code.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any, TypeVar, overload

from ..errors import (
    ChannelTypeMismatchError,
    CodecError,
    ScopeMismatchError,
    UnknownChannelError,
)
from ..ids import sha256
from ._channels import Channel, ReadKey, Scope
from ._schema import SchemaSpec

__all__ = [
    "EMPTY_FINGERPRINT",
    "GlobalStore",
    "InitialCache",
    "StoreView",
    "TaskLocalStore",
    "fingerprint",
]

T = TypeVar("T")

_U32 = struct.Struct(">I")

EMPTY_FINGERPRINT = hashlib.sha256(b"HLF1" + _U32.pack(0)).digest()
"""HLF1 of a schema with no task-local channels (``3b54d1bf…ff2f``)."""


def _resolve(
    by_id: Mapping[str, Channel[Any]], key: ReadKey[object] | str
) -> Channel[Any]:
    if type(key) is Channel:
        found = by_id.get(key._id)  # type: ignore[arg-type]
        if found is key:
            return found
    if isinstance(key, str):
        found = by_id.get(key)
        if found is None:
            raise UnknownChannelError(key)
        return found
    if not isinstance(key, Channel):
        raise TypeError(f"expected a channel or a channel id, got {type(key).__name__}")
    found = by_id.get(key.id)
    if found is None:
        raise UnknownChannelError(key.id)
    if found is not key and found.value_type != key.value_type:
        raise ChannelTypeMismatchError(
            key.id, expected=found.type_name, actual=key.type_name
        )
    return found


class InitialCache:
    """Each channel's ``initial()`` evaluated exactly once, in sorted id order.

    Every missing-value read and every fingerprint uses these cached values, so a
    non-deterministic factory cannot make two reads disagree.
    """

    __slots__ = ("values",)

    def __init__(self, schema: SchemaSpec) -> None:
        values: dict[str, object] = {}
        for ch in schema.channels:
            value = ch.initial()
            if not ch.accepts(value):
                raise ChannelTypeMismatchError(
                    ch.id, expected=ch.type_name, actual=type(value).__name__
                )
            values[ch.id] = value
        self.values: Mapping[str, object] = values


class GlobalStore:
    """An immutable snapshot of every global channel's value."""

    __slots__ = ("_by_id", "_values")

    def __init__(self, schema: SchemaSpec, values: Mapping[str, object]) -> None:
        self._by_id = schema.by_id
        self._values = values

    @overload
    def get(self, key: ReadKey[T]) -> T: ...
    @overload
    def get(self, key: str) -> object: ...
    def get(self, key: ReadKey[object] | str) -> object:
        """The committed value of a global channel."""
        ch = _resolve(self._by_id, key)
        if ch.scope is not Scope.GLOBAL:
            raise ScopeMismatchError(ch.id, expected="global", actual="task-local")
        return self._values[ch.id]

    def to_dict(self) -> dict[str, object]:
        """A shallow copy of the values keyed by channel id, in sorted id order."""
        return dict(self._values)

    def __repr__(self) -> str:
        return f"GlobalStore({self._values!r})"


class TaskLocalStore:
    """The sparse overlay of task-local values explicitly set for one task."""

    __slots__ = ("_by_id", "_values")

    def __init__(
        self, schema: SchemaSpec, values: Mapping[str, object] | None = None
    ) -> None:
        self._by_id = schema.by_id
        self._values: Mapping[str, object] = values if values is not None else {}

    @overload
    def get(self, key: ReadKey[T]) -> T | None: ...
    @overload
    def get(self, key: str) -> object: ...
    def get(self, key: ReadKey[object] | str) -> object:
        """The overlay value, or ``None`` when the task did not set it."""
        ch = _resolve(self._by_id, key)
        if ch.scope is not Scope.TASK_LOCAL:
            raise ScopeMismatchError(ch.id, expected="task-local", actual="global")
        return self._values.get(ch.id)

    def to_dict(self) -> dict[str, object]:
        return dict(self._values)


class StoreView:
    """What a node or router reads: global snapshot + own overlay + initial values.

    It never shows the current step's writes (not even the task's own), which is what
    makes the outcome of a step independent of task completion order.
    """

    __slots__ = ("_by_id", "_global", "_initial", "_overlay")

    def __init__(
        self,
        schema: SchemaSpec,
        global_values: Mapping[str, object],
        overlay: Mapping[str, object],
        initial: InitialCache,
    ) -> None:
        self._by_id = schema.by_id
        self._global = global_values
        self._overlay = overlay
        self._initial = initial.values

    @overload
    def get(self, key: ReadKey[T]) -> T: ...
    @overload
    def get(self, key: str) -> object: ...
    def get(self, key: ReadKey[object] | str) -> object:
        """The value a task sees for ``key`` (global or task-local)."""
        ch = _resolve(self._by_id, key)
        cid: str = ch._id  # type: ignore[assignment]  # a schema's channel is named
        if ch.is_global:
            return self._global[cid]
        overlay = self._overlay
        if cid in overlay:
            return overlay[cid]
        return self._initial[cid]

    def __repr__(self) -> str:
        local = dict(self._overlay)
        return f"StoreView(global={dict(self._global)!r}, local={local!r})"


def fingerprint(
    schema: SchemaSpec, overlay: Mapping[str, object], initial: InitialCache
) -> bytes:
    """HLF1 over the *effective* task-local view (overlay, else initial value)."""
    ids = schema.task_local_ids
    if not ids:
        return EMPTY_FINGERPRINT
    h = sha256(b"HLF1" + _U32.pack(len(ids)))
    by_id = schema.by_id
    init = initial.values
    for cid in ids:
        ch = by_id[cid]
        value = overlay[cid] if cid in overlay else init[cid]
        codec = ch.codec
        if codec is None:
            raise CodecError(
                cid, codec_id="", operation="fingerprint", reason="no codec declared"
            )
        try:
            data = codec.encode(value)
        except Exception as exc:
            raise CodecError(
                cid, codec_id=codec.id, operation="encode", reason=repr(exc)
            ) from exc
        raw_id = cid.encode("utf-8")
        h.update(_U32.pack(len(raw_id)) + raw_id + _U32.pack(len(data)) + data)
    return h.digest()
