"""``DerivedIds``: reproducible run and attempt ids for production runs.

``RandomIds`` (the default) draws a fresh UUID4 for every new thread and attempt, and
every task, checkpoint, interrupt and user-message id is derived from the run id, so
two runs of the same input differ in all of them. ``SequentialIds`` (in
``hive_core.testing``) fixes that for tests, but its ids are tiny integers that any two
deployments share. ``DerivedIds`` derives the ids from a namespace the caller chooses
and a counter, so a process that starts the same threads in the same order gets the
same ids, and two namespaces never share one. ``docs/concepts/determinism.md`` says
how to choose the namespace and what the ids do and do not promise.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Protocol

import attrs

from ..errors import DefinitionError
from ..ids import sha256

__all__ = [
    "DerivedIds",
    "IdSource",
    "RandomIds",
    "attempt_id_of",
    "random_attempt_id",
]


class IdSource(Protocol):
    """Where run and attempt ids come from; inject a sequential one in tests."""

    def new_run_id(self) -> uuid.UUID: ...

    def new_attempt_id(self) -> uuid.UUID: ...


_V4_MASK = ~((0xC000 << 48) | (0xF000 << 64)) & (2**128 - 1)
_V4_BITS = (0x8000 << 48) | (4 << 76)  # RFC 4122 variant, version 4
_UUID = uuid.UUID
_UNKNOWN = uuid.SafeUUID.unknown
_new = object.__new__
_set = object.__setattr__


def _uuid4() -> uuid.UUID:
    """``uuid.uuid4()``: the same 16 random bytes made a version-4 ``UUID`` (an
    equal object: same ``int``, same ``is_safe``), set on the object directly
    instead of through ``UUID.__init__``'s argument checks (once per new thread)."""
    u: uuid.UUID = _new(_UUID)
    _set(u, "int", (int.from_bytes(os.urandom(16)) & _V4_MASK) | _V4_BITS)
    _set(u, "is_safe", _UNKNOWN)
    return u


@attrs.frozen
class RandomIds:
    """Random UUID4s (the default)."""

    def new_run_id(self) -> uuid.UUID:
        return _uuid4()

    def new_attempt_id(self) -> uuid.UUID:
        return uuid.uuid4()


def attempt_id_of(ids: IdSource) -> str:
    """``str(ids.new_attempt_id())``; for ``RandomIds`` the same kind of string
    (16 random bytes as a version-4 UUID) written straight from the bytes, without
    building the ``UUID`` object only to format it (one per call)."""
    if type(ids) is not RandomIds:
        return str(ids.new_attempt_id())
    return random_attempt_id()


def random_attempt_id() -> str:
    """``str(RandomIds().new_attempt_id())``, written straight from the bytes.

    An attempt of ``RandomIds`` draws it when something first reads it (a
    listener, a node, the outcome's handle): nothing can tell when a random id was
    drawn, and a run nobody asks saves the call (``docs/performance.md``)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]  # RFC 4122: the two top bits are 10
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


_RUN_TAG = b"HDERIVED_RUN1\x00"
_ATTEMPT_TAG = b"HDERIVED_ATTEMPT1\x00"
_COUNTER_MAX = 2**64 - 1


def _check_namespace(_self: object, _attr: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise DefinitionError(
            f"DerivedIds needs a non-empty str namespace, got {value!r}; choose one "
            f"per deployment and thread, e.g. DerivedIds('billing-prod/' + thread_id) "
            f"(see docs/concepts/determinism.md)",
            subject="DerivedIds.namespace",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DefinitionError(
            f"DerivedIds namespace {value!r} is not valid UTF-8 ({exc.reason} at "
            f"index {exc.start}); ids are derived from its UTF-8 bytes",
            subject="DerivedIds.namespace",
        ) from None


def _check_counter(_self: object, attr: attrs.Attribute[int], value: Any) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value <= _COUNTER_MAX
    ):
        raise DefinitionError(
            f"DerivedIds.{attr.name} is how many ids were already drawn: an int in "
            f"0..2**64-1, got {value!r}",
            subject=f"DerivedIds.{attr.name}",
        )


def _derive(tag: bytes, namespace: str, n: int) -> uuid.UUID:
    """SHA-256(tag ‖ namespace UTF-8 ‖ 0x00 ‖ u64 n), first 16 bytes, as a v5-style
    UUID (the layout ``fork_run_id`` uses)."""
    digest = sha256(
        tag + namespace.encode("utf-8") + b"\x00" + n.to_bytes(8, "big")
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


@attrs.define(on_setattr=attrs.setters.NO_OP)  # validate once, not per id drawn
class DerivedIds:
    """Run and attempt ids derived from ``namespace`` and two counters.

    The *n*-th run id is SHA-256 of (``HDERIVED_RUN1``, namespace, *n*); attempt
    ids use their own tag and counter, so adding an attempt never shifts a run id
    (and with it every task and checkpoint id). Counters start from ``runs`` and
    ``attempts`` (how many ids were already drawn), so a source can be rebuilt where
    another stopped.

    Two sources with the same namespace hand out the same ids: give each
    deployment and thread its own namespace (``f"{deployment}/{thread_id}"``)
    and a runtime of its own, as ``docs/concepts/determinism.md`` explains.
    """

    namespace: str = attrs.field(validator=_check_namespace)
    runs: int = attrs.field(default=0, validator=_check_counter)
    attempts: int = attrs.field(default=0, validator=_check_counter)

    def new_run_id(self) -> uuid.UUID:
        """The next run id; drawn once per new thread (a thread keeps its run id in
        its checkpoints)."""
        self.runs += 1
        return _derive(_RUN_TAG, self.namespace, self.runs)

    def new_attempt_id(self) -> uuid.UUID:
        """The next attempt id; drawn once per call (``run``, ``resume``, ...)."""
        self.attempts += 1
        return _derive(_ATTEMPT_TAG, self.namespace, self.attempts)
