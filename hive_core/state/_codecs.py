"""Channel codecs: canonical bytes for checkpoints, fingerprints and payload hashes.

Codecs are what make a value persistent and hashable. The default is msgspec JSON
with sorted keys, so the same value always gives the same bytes and decoding never
runs code (no pickle anywhere).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

__all__ = ["Codec", "JSONCodec", "Utf8Codec", "canonical_json", "reload_type"]

T = TypeVar("T")

_encoder = msgspec.json.Encoder(order="deterministic")


def canonical_json(value: object) -> bytes:
    """Encode ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept.

    Sets become sorted lists and floats use the shortest round-trip form, so equal
    values hash equally across runs and machines.
    """
    return _encoder.encode(value)


_CONTAINERS = (list, set, frozenset, dict, tuple)


def reload_type(tp: Any) -> Any:
    """The type a checkpoint decodes ``tp``'s values as: ``tp`` with each ``float``
    (also inside lists, dicts, sets, tuples and unions) read as ``int | float``.

    PEP 484 lets an ``int`` stand where a ``float`` is declared, and JSON keeps
    ``1`` and ``1.0`` apart, so decoding to ``int | float`` gives back the class
    that was written: a reload equals the warm state, class and all
    (``docs/concepts/checkpoints.md``). Struct fields keep their declared type.
    """
    if tp is float:
        return int | float
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        new = tuple(reload_type(a) for a in args)
        return tp if new == args else typing.Union[new]  # noqa: UP007
    if origin in _CONTAINERS and args:
        new = tuple(reload_type(a) if a is not Ellipsis else a for a in args)
        return tp if new == args else origin[new]
    return tp


@runtime_checkable
class Codec(Protocol[T]):
    """Turns a channel value into canonical bytes and back."""

    @property
    def id(self) -> str:
        """Stable identifier written into schema versions and checkpoints."""
        ...

    def encode(self, value: T, /) -> bytes: ...

    def decode(self, data: bytes, /) -> T: ...


class JSONCodec(Generic[T]):
    """msgspec JSON codec for a declared type; decoding validates the type (a
    declared ``float`` decodes ``1`` as the ``int`` it was: ``reload_type``)."""

    __slots__ = ("_decoder", "_type", "id")

    def __init__(self, tp: Any, *, id: str = "json") -> None:
        self.id = id
        self._type = tp
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(reload_type(tp))

    def encode(self, value: T, /) -> bytes:
        return _encoder.encode(value)

    def decode(self, data: bytes, /) -> T:
        return self._decoder.decode(data)

    def __repr__(self) -> str:
        return f"JSONCodec({getattr(self._type, '__name__', self._type)!r}, id={self.id!r})"


class Utf8Codec:
    """Plain UTF-8 bytes for string channels (codec id ``string.v1``)."""

    __slots__ = ("id",)

    def __init__(self, *, id: str = "string.v1") -> None:
        self.id = id

    def encode(self, value: str, /) -> bytes:
        return value.encode("utf-8")

    def decode(self, data: bytes, /) -> str:
        return data.decode("utf-8")

    def __repr__(self) -> str:
        return f"Utf8Codec(id={self.id!r})"
