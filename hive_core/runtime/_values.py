"""Deep value checks: whatever the commit accepts, a store can save and load back.

The commit's ``isinstance`` check sees only the outer class, so ``[1, 2]`` passes for
``list[str]``; saved, it could never be decoded again and the thread would be lost.
The rule is stronger than "decodable": a reload equals the warm state, so a value
is accepted only if its channel's codec gives it back equal and of the same classes.
Typed JSON channels run the codec's encode, typed decode and ``==`` (all C calls);
untyped (``Any``) channels take plain JSON values only (a set, tuple, bytes or NaN
would come back changed); custom codecs run their own round trip. Scalars skip the
round trip when their exact class already decides it. See
``docs/concepts/checkpoints.md``.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable
from typing import Any, NoReturn

import msgspec

from ..errors import ChannelValueTypeError, InterruptPayloadTypeError
from ..reducers import is_coercing
from ..state._channels import Channel, Persistence
from ..state._codecs import Codec, JSONCodec, canonical_json, reload_type

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
        check = _round_trip_check(ch.id, codec, ch.type_name)
    REDUCED_CHECKS[ch] = check
    return check


def _refuse(
    cid: str, problem: tuple[str, str, str], node: str | None, step: int | None
) -> NoReturn:
    """Raise the ``ChannelValueTypeError`` for ``problem`` (path, expected, actual);
    callers test for a problem first, so a passing write costs no extra call."""
    raise ChannelValueTypeError(
        cid,
        path=problem[0],
        expected=problem[1],
        actual=problem[2],
        node=node,
        step=step,
    )


def _round_trip_check(cid: str, codec: JSONCodec[Any], expected: str) -> ValueCheck:
    """The codec's round trip must give back an equal value of the same class."""

    def round_trip(value: Any, node: str | None, step: int | None) -> None:
        problem = _round_trip_problem(codec.encode, codec.decode, value, expected)
        if problem is not None:
            _refuse(cid, problem, node, step)

    return round_trip


def _build(ch: Channel[Any]) -> ValueCheck | None:
    codec = ch.codec
    tp = ch.value_type
    if codec is None:
        return None
    saved = ch.persistence is Persistence.CHECKPOINTED or not ch.is_global
    if not isinstance(codec, JSONCodec):
        return _codec_check(ch, codec) if saved else None
    if is_coercing(ch.reducer):
        return None  # its result is checked instead: ``reduced_check``
    if not ch.check_types:
        if tp is Any or tp is object or _annotated_any(tp):
            return _plain_check(ch.id) if saved else None  # never reloaded
        return _json_check(ch, codec)
    if tp is str:
        return _str_check(ch.id)
    if tp in _NO_ROUND_TRIP:
        return None
    return _json_check(ch, codec)


def _json_check(ch: Channel[Any], codec: JSONCodec[Any]) -> ValueCheck:
    """A typed channel's check: the codec's round trip must give back an equal
    value; ``int`` and ``float`` skip it when the exact class decides."""
    tp = ch.value_type
    cid = ch.id
    round_trip = _round_trip_check(cid, codec, ch.type_name)

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
    # containers and structs: the codec's own round trip (C calls), compared
    # with ``==`` (a tuple inside ``list[list[int]]`` encodes, but reloads as a
    # list); the slow explanation runs only when something is wrong
    return round_trip


def _annotated_any(tp: object) -> bool:
    if typing.get_origin(tp) is not typing.Annotated:
        return False
    inner = typing.get_args(tp)[0]
    return inner is Any or inner is object


def _str_check(cid: str) -> ValueCheck:
    """A ``str`` that UTF-8 cannot encode (a lone surrogate) could not be saved."""

    def check_str(value: Any, node: str | None, step: int | None) -> None:
        if not value.isascii():
            problem = _str_problem(value, "$")
            if problem is not None:
                _refuse(cid, problem, node, step)

    return check_str


def _plain_check(cid: str) -> ValueCheck:
    """An untyped (``Any``) channel's check: only plain JSON values reload as
    themselves, so anything else (a set, tuple, bytes, NaN, a struct) is refused
    rather than coming back changed (``docs/concepts/checkpoints.md``)."""

    def check_plain(value: Any, node: str | None, step: int | None) -> None:
        kind = type(value)
        if (
            (kind is str and value.isascii())
            or kind is bool
            or value is None
            or kind is int
            or (kind is float and math.isfinite(value))
        ):
            return
        if _is_plain(value):
            return
        problem = _plain_problem(value, "$")
        if problem is not None:
            _refuse(cid, problem, node, step)

    return check_plain


_PLAIN = "a JSON value (str, int, float, bool, None, list, dict with str keys)"


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is a plain JSON value; the fast walk, building no paths
    (``_plain_problem`` explains a failure)."""
    kind = type(value)
    if kind is list:
        for item in value:
            if type(item) is str:
                if not item.isascii():
                    return False  # maybe fine: the slow walk decides
            elif not _is_plain(item):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is str:
                if not item.isascii():
                    return False
            elif not _is_plain(item):
                return False
        return True
    if kind is str:
        return bool(value.isascii())
    if kind is int:
        return True  # JSON keeps every int exact (msgspec encodes big ones too)
    if kind is float:
        return math.isfinite(value)
    return kind is bool or value is None


def _plain_problem(value: Any, path: str) -> tuple[str, str, str] | None:
    """``(path, expected, actual)`` for the first part of ``value`` that is not a
    plain JSON value (what an untyped channel reloads unchanged), else ``None``."""
    kind = type(value)
    if kind is str:
        return None if value.isascii() else _str_problem(value, path)
    if kind is bool or value is None:
        return None
    if kind is int:
        return None
    if kind is float:
        if math.isfinite(value):
            return None
        return path, "a finite float", f"{value!r} (JSON has no non-finite floats)"
    if kind is list:
        for i, item in enumerate(value):
            problem = _plain_problem(item, f"{path}[{i}]")
            if problem is not None:
                return problem
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return (
                    f"{path} key {key!r}",
                    "str keys",
                    f"{type(key).__name__} key (a checkpoint reloads it as a str)",
                )
            problem = _plain_problem(item, path + _key(key))
            if problem is not None:
                return problem
        return None
    return path, _PLAIN, f"{kind.__name__} ({_reloads_as(value)})"


def _str_problem(value: str, path: str) -> tuple[str, str, str] | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            path,
            "a str UTF-8 can encode",
            f"a str with a lone surrogate at index {exc.start}",
        )
    return None


def _short(value: object, limit: int = 120) -> str:
    """``repr`` cut to ``limit`` characters: values in messages may be huge."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reloads_as(value: object) -> str:
    """How a checkpoint would give ``value`` back, for error messages."""
    try:
        back = msgspec.json.decode(canonical_json(value))
    except Exception:
        return "a checkpoint cannot encode it"
    return f"a checkpoint reloads it as {type(back).__name__}"


def _codec_check(ch: Channel[Any], codec: Codec[Any]) -> ValueCheck:
    """A custom codec's channel: its own encode then decode must give back a value
    of the same class, equal to the one written."""
    cid = ch.id
    want = f"a value codec `{codec.id}` reloads unchanged"

    def check_codec(value: Any, node: str | None, step: int | None) -> None:
        try:
            back = codec.decode(codec.encode(value))
        except Exception as exc:
            actual = f"{type(value).__name__} the codec cannot round-trip ({exc!r})"
            raise ChannelValueTypeError(
                cid, path="$", expected=want, actual=actual, node=node, step=step
            ) from exc
        if type(back) is not type(value) or back != value:
            path, expected, actual = _difference(value, back, "$") or (
                "$",
                want,
                f"{_short(value)} (reloads as {_short(back)})",
            )
            raise ChannelValueTypeError(
                cid, path=path, expected=expected, actual=actual, node=node, step=step
            )

    return check_codec


def _difference(value: Any, back: Any, path: str) -> tuple[str, str, str] | None:
    """The first place where ``back`` (a reload) differs from ``value``."""
    if type(value) is not type(back):
        if isinstance(value, float) and not math.isfinite(value):
            return path, "a finite float", f"{value!r} (JSON has no non-finite floats)"
        return (
            path,
            f"a value that reloads unchanged (this one reloads as "
            f"{type(back).__name__})",
            type(value).__name__,
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in back:
                return f"{path} key {key!r}", "str keys", f"{type(key).__name__} key"
            found = _difference(item, back[key], path + _key(key))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)) and len(value) == len(back):
        for i, (a, b) in enumerate(zip(value, back, strict=True)):
            found = _difference(a, b, f"{path}[{i}]")
            if found is not None:
                return found
    elif value != back:
        if isinstance(value, float) and not math.isfinite(value):
            return path, "a finite float", f"{value!r} (JSON has no non-finite floats)"
        return (
            path,
            "a value that reloads unchanged",
            f"{_short(value)} (reloads as {_short(back)})",
        )
    return None


def check_interrupt_payload(
    tp: Any, payload: object, node: str, step: int | None
) -> None:
    """Raise ``InterruptPayloadTypeError`` unless ``payload`` survives the
    checkpoint's encoding (canonical JSON) and typed decoding as ``tp``."""
    if tp is object or tp is Any:
        # untyped: saved as JSON and shown back as JSON (a struct as a dict); it is
        # information for the caller, never state a node reads (docs/errors.md)
        return
    reload = reload_type(tp)

    def decode(raw: bytes) -> Any:
        return msgspec.json.decode(raw, type=reload, strict=True)

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
        back = decode(raw)
    except msgspec.ValidationError as exc:
        return _explain(str(exc), raw, decode, value)
    except msgspec.DecodeError as exc:  # pragma: no cover - our own encoder's bytes
        return "$", declared, str(exc)
    if back == value:
        return None
    return _difference(value, back, "$") or (
        "$",
        declared,
        f"{_short(value)} (reloads as {_short(back)})",
    )


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
