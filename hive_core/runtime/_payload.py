"""Resume payloads: converted to the schema's declared type, and refused when they
carry a field the type does not declare.

msgspec ignores unknown keys when it builds a dataclass, attrs class or TypedDict
(and a Struct unless it sets ``forbid_unknown_fields``); an answer to an interrupt
is typed by hand, so a misspelt key is almost always a typo that would otherwise be
silently dropped. See ``docs/concepts/interrupts.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.inspect as mi

from ..errors import ResumePayloadError
from ..state._channels import type_name

__all__ = ["convert_resume_payload"]

_OBJECTS = (mi.StructType, mi.DataclassType, mi.TypedDictType)
_ARRAYS = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)


def convert_resume_payload(tp: Any, payload: object) -> object:
    """Convert ``payload`` to ``tp`` (dicts become structs, dataclasses, attrs
    classes; strict about the rest); ``ResumePayloadError`` names what is wrong."""
    if tp is object or tp is Any:
        return payload
    try:
        converted = msgspec.convert(payload, tp, from_attributes=True)
    except (msgspec.ValidationError, TypeError) as exc:
        raise ResumePayloadError(expected=type_name(tp), reason=str(exc)) from exc
    unknown = _unknown_field(payload, mi.type_info(tp), "$")
    if unknown is not None:
        raise ResumePayloadError(
            expected=type_name(tp), reason=f"unknown field `{unknown}`"
        )
    return converted


def _unknown_field(value: object, info: mi.Type, path: str) -> str | None:
    """The path of the first key in ``value`` that ``info`` does not declare."""
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        return _in_union(value, info, path)
    if isinstance(info, _OBJECTS):
        if not isinstance(value, Mapping):
            return None  # an instance already: nothing was dropped
        fields = {f.encode_name: f.type for f in info.fields}
        for key in value:
            if key not in fields:
                return f"{path}.{key}"
        return _first(
            _unknown_field(value[k], t, f"{path}.{k}")
            for k, t in fields.items()
            if k in value
        )
    if isinstance(info, _ARRAYS) and isinstance(value, list | tuple):
        item = info.item_type
        return _first(
            _unknown_field(v, item, f"{path}[{i}]") for i, v in enumerate(value)
        )
    if isinstance(info, mi.TupleType) and isinstance(value, list | tuple):
        return _first(
            _unknown_field(v, t, f"{path}[{i}]")
            for i, (v, t) in enumerate(zip(value, info.item_types, strict=False))
        )
    if isinstance(info, mi.DictType) and isinstance(value, Mapping):
        vt = info.value_type
        return _first(_unknown_field(v, vt, f"{path}[{k!r}]") for k, v in value.items())
    return None


def _in_union(value: object, info: mi.UnionType, path: str) -> str | None:
    """Follow the one member a dict or list can have become; several are ambiguous
    (msgspec itself refuses most such unions), so they are left to the conversion."""
    members: list[mi.Type]
    if isinstance(value, Mapping):
        members = [t for t in info.types if isinstance(t, (*_OBJECTS, mi.DictType))]
    elif isinstance(value, list | tuple):
        members = [t for t in info.types if isinstance(t, (*_ARRAYS, mi.TupleType))]
    else:
        return None
    return _unknown_field(value, members[0], path) if len(members) == 1 else None


def _first(found: Any) -> str | None:
    return next((f for f in found if f is not None), None)
