"""Deep value checks: whatever the commit accepts, a store can save and load back.

The commit's ``isinstance`` check sees only the outer class, so ``[1, 2]`` passes for
``list[str]``; saved, it could never be decoded again and the thread would be lost.
For channels with the default JSON codec the check here runs the value through that
codec's own encode and typed decode (msgspec, strict), so it accepts exactly what a
checkpoint can hold. Scalars skip the round trip when their exact class already
decides it. See ``docs/concepts/schema-and-channels.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import msgspec

from ..errors import ChannelValueTypeError, InterruptPayloadTypeError
from ..reducers import is_coercing
from ..state._channels import Channel
from ..state._codecs import JSONCodec, canonical_json

__all__ = [
    "REDUCED_CHECKS",
    "VALUE_CHECKS",
    "ValueCheck",
    "check_interrupt_payload",
    "reduced_check",
    "value_check",
]

ValueCheck = Callable[[Any, "str | None", "int | None"], None]
"""``check(value, node, step)``: returns, or raises ``ChannelValueTypeError``."""

VALUE_CHECKS: dict[Channel[Any], ValueCheck | None] = {}
"""Each channel's check once built (``value_check``); read directly on the hot path."""
REDUCED_CHECKS: dict[Channel[Any], ValueCheck | None] = {}
"""Checks of a coercing reducer's result, by channel (``reduced_check``)."""
_NO_ROUND_TRIP = (str, bytes, bool, type(None))
"""Declared types whose exact class always round-trips (``isinstance`` decided)."""
_FAILED = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<key>key` in `)?(?P<path>\$[^`]*)`)?$")
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_EXPECTED = re.compile(r"^Expected `(?P<expected>.+?)`, got `(?P<actual>.+?)`$")


def value_check(ch: Channel[Any]) -> ValueCheck | None:
    """The deep check for ``ch``'s values, built once per channel; ``None`` when the
    ``isinstance`` check already decides (untyped, plain scalar, custom codec)."""
    try:
        return VALUE_CHECKS[ch]
    except KeyError:
        pass
    check = VALUE_CHECKS[ch] = _build(ch)
    return check


def reduced_check(ch: Channel[Any]) -> ValueCheck | None:
    """For a channel whose reducer is ``reducers.coercing``: the check of the reduced
    value (its codec's round trip), since its writes are looser than what it
    stores; ``None`` for every other channel."""
    try:
        return REDUCED_CHECKS[ch]
    except KeyError:
        pass
    check: ValueCheck | None = None
    codec = ch.codec
    if is_coercing(ch.reducer) and isinstance(codec, JSONCodec):
        expected = ch.type_name

        def round_trip(value: Any, node: str | None, step: int | None) -> None:
            problem = _round_trip_problem(codec.encode, codec.decode, value, expected)
            if problem is not None:
                raise ChannelValueTypeError(
                    ch.id,
                    path=problem[0],
                    expected=problem[1],
                    actual=problem[2],
                    node=node,
                    step=step,
                )

        check = round_trip
    REDUCED_CHECKS[ch] = check
    return check


def _build(ch: Channel[Any]) -> ValueCheck | None:
    codec = ch.codec
    tp = ch.value_type
    if not isinstance(codec, JSONCodec) or not ch.check_types:
        return None  # custom codecs own their round trip; Any/object takes anything
    if is_coercing(ch.reducer):
        return None  # its result is checked instead: ``reduced_check``
    if tp in _NO_ROUND_TRIP:
        return None
    cid = ch.id
    expected = ch.type_name

    def fail(
        path: str, want: str, got: str, node: str | None, step: int | None
    ) -> None:
        raise ChannelValueTypeError(
            cid, path=path, expected=want, actual=got, node=node, step=step
        )

    def round_trip(value: Any, node: str | None, step: int | None) -> None:
        problem = _round_trip_problem(codec.encode, codec.decode, value, expected)
        if problem is not None:
            fail(*problem, node, step)

    if tp is int:

        def check_int(value: Any, node: str | None, step: int | None) -> None:
            if type(value) is not int or not -(2**63) <= value < 2**64:
                round_trip(value, node, step)

        return check_int
    if tp is float:

        def check_float(value: Any, node: str | None, step: int | None) -> None:
            kind = type(value)
            if not (kind is float and math.isfinite(value)) and kind is not int:
                round_trip(value, node, step)

        return check_float
    try:
        exact = _convert_is_exact(msgspec.inspect.type_info(tp))
    except TypeError:  # a type msgspec cannot describe: the codec decides
        exact = False
    if exact:
        # one C call; the round trip runs only to explain a failure
        def check_converted(value: Any, node: str | None, step: int | None) -> None:
            try:
                msgspec.convert(value, tp, strict=True)
            except (msgspec.ValidationError, TypeError):
                round_trip(value, node, step)

        return check_converted
    return round_trip


_EXACT_LEAVES = (
    msgspec.inspect.StrType,
    msgspec.inspect.IntType,
    msgspec.inspect.BoolType,
    msgspec.inspect.NoneType,
    msgspec.inspect.LiteralType,
)
_EXACT_CONTAINERS = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)


def _convert_is_exact(t: msgspec.inspect.Type) -> bool:
    """Whether ``msgspec.convert(strict=True)`` accepts exactly what the JSON round
    trip accepts for this type: containers of str, int, bool and None. (Floats may be
    non-finite and structs are taken as they are, so those need the round trip.)"""
    if isinstance(t, _EXACT_LEAVES):
        return True
    if isinstance(t, _EXACT_CONTAINERS):
        return _convert_is_exact(t.item_type)
    if isinstance(t, msgspec.inspect.DictType):
        return isinstance(t.key_type, msgspec.inspect.StrType) and _convert_is_exact(
            t.value_type
        )
    if isinstance(t, msgspec.inspect.TupleType):
        return all(_convert_is_exact(item) for item in t.item_types)
    if isinstance(t, msgspec.inspect.UnionType):
        return all(_convert_is_exact(item) for item in t.types)
    return False


def check_interrupt_payload(
    tp: Any, payload: object, node: str, step: int | None
) -> None:
    """Raise ``InterruptPayloadTypeError`` unless ``payload`` survives the
    checkpoint's encoding (canonical JSON) and typed decoding as ``tp``."""
    if tp is object or tp is Any:
        return

    def decode(raw: bytes) -> Any:
        return msgspec.json.decode(raw, type=tp, strict=True)

    want = getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")
    problem = _round_trip_problem(canonical_json, decode, payload, want)
    if problem is not None:
        path, expected, actual = problem
        raise InterruptPayloadTypeError(
            node, path=path, expected=expected, actual=actual, step=step
        )


def _round_trip_problem(
    encode: Callable[[Any], bytes],
    decode: Callable[[bytes], Any],
    value: Any,
    declared: str,
) -> tuple[str, str, str] | None:
    """``(path, expected, actual)`` if ``value`` does not come back from the round
    trip, else ``None``. Only runs its slow parts when something is wrong."""
    try:
        raw = encode(value)
    except Exception as exc:  # e.g. an object JSON cannot hold
        return "$", declared, f"{type(value).__name__} that cannot be encoded ({exc})"
    try:
        decode(raw)
    except msgspec.ValidationError as exc:
        return _explain(str(exc), raw, decode, value)
    except msgspec.DecodeError as exc:  # pragma: no cover - our own encoder's bytes
        return "$", declared, str(exc)
    return None


def _explain(
    message: str, raw: bytes, decode: Callable[[bytes], Any], value: Any
) -> tuple[str, str, str]:
    """Turn msgspec's message into (path, expected, actual), naming dict keys that
    msgspec reports only as ``[...]``."""
    found = _FAILED.match(message)
    assert found is not None  # the pattern matches any string
    path = found["path"] or "$"
    msg = found["msg"]
    if "[...]" in path or found["key"]:
        path = _name_keys(path, raw, decode, is_key=bool(found["key"]))
    parts = _EXPECTED.match(msg)
    if parts is None:
        return path, msg, "a value that does not fit"
    actual = parts["actual"]
    if actual == "null":
        at = _value_at(value, path)
        if isinstance(at, float):
            actual = f"{at!r} (JSON has no non-finite floats)"
    return path, parts["expected"], actual


def _name_keys(
    path: str, raw: bytes, decode: Callable[[bytes], Any], *, is_key: bool
) -> str:
    """Replace each ``[...]`` with the first key whose entry alone still fails,
    by shrinking that dict to one entry and decoding again (error path only)."""
    doc = msgspec.json.decode(raw)
    cur: Any = doc
    out = "$"

    def fails() -> bool:
        try:
            decode(msgspec.json.encode(doc))
        except msgspec.ValidationError:
            return True
        return False

    def culprit(d: dict[Any, Any]) -> Any:
        saved = dict(d)
        try:
            for k, v in saved.items():
                d.clear()
                d[k] = v
                if fails():
                    return k
        finally:
            d.clear()
            d.update(saved)
        return None  # pragma: no cover - the whole dict failed

    for m in _TOKEN.finditer(path):
        name, index = m.group(1), m.group(2)
        if name is not None and isinstance(cur, dict):
            cur, out = cur.get(name), out + "." + name
        elif index is not None and isinstance(cur, list):
            cur, out = cur[int(index)], out + f"[{index}]"
        elif isinstance(cur, dict):
            key = culprit(cur)
            cur, out = cur.get(key), out + _key(key)
        else:  # pragma: no cover - the document mirrors the path
            return path
    if is_key and isinstance(cur, dict):
        return out + " key " + repr(culprit(cur))
    return out


def _key(key: object) -> str:
    if isinstance(key, str) and key.isidentifier():
        return "." + key
    return "[" + canonical_json(key).decode() + "]"


def _value_at(value: Any, path: str) -> Any:
    """Best effort: the original (un-encoded) value at ``path``."""
    cur = value
    for m in _TOKEN.finditer(path):
        name, index = m.group(1), m.group(2)
        try:
            if index is not None:
                cur = cur[int(index)]
            elif isinstance(cur, dict):
                cur = cur[name]
            else:
                cur = getattr(cur, name)
        except (LookupError, TypeError, AttributeError):
            return None
    return cur
