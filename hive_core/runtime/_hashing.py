"""Payload hashes for ``write_applied`` events, and their debug payloads."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import msgspec

from ..state._channels import Channel
from ..state._codecs import canonical_json

__all__ = ["payload_bytes", "payload_hash", "payload_json"]


def payload_bytes(ch: Channel[Any], value: Any) -> tuple[bytes, str]:
    """Canonical bytes and their encoding: codec, else canonical JSON, else a marker."""
    codec = ch.codec
    if codec is not None:
        try:
            return codec.encode(value), "codec.base64"
        except Exception:
            pass
    try:
        return canonical_json(value), "json.utf8"
    except Exception:
        return f"unhashable:{ch.type_name}".encode(), "unhashable"


def payload_hash(ch: Channel[Any], value: Any) -> str:
    return hashlib.sha256(payload_bytes(ch, value)[0]).hexdigest()


def debug_metadata(ch: Channel[Any], value: Any) -> dict[str, str]:
    data, encoding = payload_bytes(ch, value)
    if encoding == "codec.base64":
        payload = base64.b64encode(data).decode("ascii")
    else:
        payload = data.decode("utf-8")
    return {
        "value_type": ch.type_name,
        "codec_id": ch.codec.id if ch.codec is not None else "",
        "payload_encoding": encoding,
        "payload": payload,
    }


def payload_json(ch: Channel[Any], value: Any) -> Any:
    """A value as JSON-able Python for stream parts: what ``msgspec.to_builtins``
    gives; else what the channel's codec encodes, if that is JSON; else a marker
    ``{"$codec": id, "base64": ...}`` with the codec's bytes."""
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError):
        pass
    data, encoding = payload_bytes(ch, value)
    if encoding == "codec.base64":
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            codec_id = ch.codec.id if ch.codec is not None else ""
            return {"$codec": codec_id, "base64": base64.b64encode(data).decode()}
    return {"$unencodable": ch.type_name}
