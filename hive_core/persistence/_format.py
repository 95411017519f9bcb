"""Checkpoints: what a committed step boundary looks like on disk, and where it goes.

A ``Checkpoint`` holds only bytes produced by channel codecs plus plain strings and
ints, encoded with msgspec (MessagePack on disk). Nothing is ever unpickled: loading
a crafted checkpoint can at worst raise a decode error. ``encode_checkpoint`` ends
the MessagePack with a CRC-32 of it, so a damaged byte anywhere is a typed
``CheckpointCorruptError``, never a checkpoint with other content (see
``docs/concepts/checkpoint-storage.md``).
"""

from __future__ import annotations

import zlib
from typing import Final, Literal, NoReturn, Protocol, runtime_checkable

import msgspec

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
)
from ._errors import InvalidStoreOptionError
from ._fence import UNFENCED, ExpectedLatest
from ._threads import validate_thread_id

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Checkpoint",
    "CheckpointInterruption",
    "CheckpointStore",
    "CheckpointSummary",
    "FrontierEntry",
    "check_checkpoint",
    "check_limit",
    "decode_checkpoint",
    "encode_checkpoint",
    "latest_key",
    "summarize",
]

CHECKPOINT_FORMAT_VERSION = 1


class FrontierEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One task of the next step, with the overlay values it was spawned with."""

    node: str
    provenance: Literal["graph", "spawn"] = "graph"
    is_join: bool = False
    fingerprint: bytes
    """HLF1 of the effective task-local view (32 bytes)."""
    local: dict[str, bytes] = {}
    """Codec bytes of the explicitly set overlay entries, by channel id."""


class CheckpointInterruption(msgspec.Struct, frozen=True, kw_only=True):
    """A pending interrupt: its id, the asking node, and the JSON of its payload."""

    id: str
    node: str = ""
    payload: bytes
    """Canonical JSON of the interrupt payload."""


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The state of a thread at a committed step boundary."""

    format_version: int = CHECKPOINT_FORMAT_VERSION
    id: str
    """HCP1: sha256("HCP1" ‖ run uuid ‖ u32 step_index)."""
    thread_id: str
    run_id: str
    step_index: int
    """The next step to run (the checkpoint after step N has N + 1)."""
    schema_version: str
    graph_version: str
    global_data: dict[str, bytes]
    """Codec bytes of every global, checkpointed channel, and nothing else."""
    frontier: tuple[FrontierEntry, ...] = ()
    join_barriers: dict[str, tuple[str, ...]] = {}
    """Sorted seen parents for every compiled join id (empty ones included)."""
    interruption: CheckpointInterruption | None = None


class CheckpointSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A checkpoint's identity without its data, for listings and history."""

    id: str
    thread_id: str
    run_id: str
    step_index: int
    has_interruption: bool = False


_encoder = msgspec.msgpack.Encoder(order="deterministic")
_decoder = msgspec.msgpack.Decoder(Checkpoint)


_CRC_BYTES: Final = 4
_MAX_STEP: Final = (1 << 63) - 1


def check_checkpoint(checkpoint: object) -> Checkpoint:
    """``checkpoint`` if its ids and scalar fields have their declared types.

    ``msgspec.Struct`` does not check types on construction, so a store checks them
    before saving: what a store accepts, it can load back.
    """
    if not isinstance(checkpoint, Checkpoint):
        raise CheckpointEncodeError(
            "checkpoint", reason=f"expected a Checkpoint, got {type(checkpoint)!r}"
        )
    validate_thread_id(checkpoint.thread_id)
    validate_thread_id(checkpoint.id, what="checkpoint id")
    for name in ("run_id", "schema_version", "graph_version"):
        value = getattr(checkpoint, name)
        if not isinstance(value, str) or "\x00" in value:
            # NUL: a PostgreSQL text column cannot hold it, so no store accepts it.
            _bad_field(name, "a str without NUL", value)
    for name in ("step_index", "format_version"):
        value = getattr(checkpoint, name)
        if type(value) is not int or not 0 <= value <= _MAX_STEP:
            _bad_field(name, "an int in 0..2**63-1", value)
    data: object = checkpoint.global_data
    if not isinstance(data, dict):
        _bad_field("global_data", "a dict", data)
    for channel in data:
        if not isinstance(channel, str) or "\x00" in channel:
            _bad_field("global_data", "channel names that are str without NUL", channel)
    return checkpoint


def check_limit(limit: object) -> None:
    """``list_checkpoints``' limit: ``None`` or an int >= 0 (every store)."""
    if limit is not None and (type(limit) is not int or limit < 0):
        raise InvalidStoreOptionError(
            "limit", expected="an int >= 0 or None", got=limit
        )


def _bad_field(name: str, expected: str, got: object) -> NoReturn:
    shown = repr(got)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise CheckpointEncodeError(
        f"checkpoint.{name}",
        reason=f"expected {expected}, got {type(got).__name__} {shown}",
    )


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    """Deterministic MessagePack bytes followed by their CRC-32 (4 bytes, big-endian).

    A value msgspec cannot encode raises ``CheckpointEncodeError``.
    """
    try:
        data = _encoder.encode(checkpoint)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise CheckpointEncodeError("checkpoint", reason=str(exc)) from exc
    return data + zlib.crc32(data).to_bytes(_CRC_BYTES, "big")


def decode_checkpoint(
    data: bytes, *, thread_id: str = "", checkpoint_id: str = ""
) -> Checkpoint:
    """The checkpoint ``encode_checkpoint`` made ``data`` from.

    A CRC mismatch (any damaged byte), or a decoded id other than the expected
    ``thread_id``/``checkpoint_id`` when given, raises ``CheckpointCorruptError``;
    bytes that match their CRC but are not a checkpoint raise
    ``CheckpointDecodeError``. Both name the thread and checkpoint asked for.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CheckpointDecodeError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            reason=f"expected bytes, got {type(data).__name__}",
        )
    view = memoryview(data)
    if len(view) <= _CRC_BYTES:
        raise CheckpointDecodeError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            reason=f"{len(view)} bytes are too short for a checkpoint",
        )
    body = view[:-_CRC_BYTES]
    if zlib.crc32(body) != int.from_bytes(view[-_CRC_BYTES:], "big"):
        raise CheckpointCorruptError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            thread_id=thread_id,
            reason=f"its {len(view)} bytes fail their CRC-32 check",
        )
    try:
        checkpoint = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointDecodeError(
            "checkpoint", checkpoint_id=checkpoint_id, reason=str(exc)
        ) from exc
    if (thread_id and checkpoint.thread_id != thread_id) or (
        checkpoint_id and checkpoint.id != checkpoint_id
    ):
        raise CheckpointCorruptError(
            "checkpoint",
            checkpoint_id=checkpoint_id,
            thread_id=thread_id,
            reason=f"it holds checkpoint {checkpoint.id[:12]!r} of thread "
            f"{checkpoint.thread_id!r}",
        )
    return checkpoint


def summarize(cp: Checkpoint) -> CheckpointSummary:
    return CheckpointSummary(
        id=cp.id,
        thread_id=cp.thread_id,
        run_id=cp.run_id,
        step_index=cp.step_index,
        has_interruption=cp.interruption is not None,
    )


def latest_key(cp: Checkpoint | CheckpointSummary) -> tuple[int, str]:
    """Order of "latest": greatest step index, ties by greatest id."""
    return (cp.step_index, cp.id)


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints live. ``save`` is atomic: after it returns, ``load_latest``
    returns that checkpoint or a newer one, never a torn write.

    ``save`` is fenced: ``expected_latest`` names the checkpoint the new one follows
    (``None``: the thread has none yet). If the thread's latest is another one, the
    save raises ``CheckpointConflict`` and writes nothing; the check and the write
    are one atomic step. ``UNFENCED`` (the default) skips the check.

    A store whose methods never wait on a real future may set ``inline = True``;
    ``run_sync`` then drives runs without starting an event loop. An optional
    ``async def delete_thread(self, thread_id: str) -> bool``, which Hive's stores
    all have, lets ``Runtime.delete_thread`` and ``DELETE /threads/{id}`` remove a
    thread (``docs/persistence.md``, "Deleting a thread").
    """

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None: ...

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Greatest ``step_index``; ties go to the greatest id."""
        ...

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """Newest first (step index, then id, both descending)."""
        ...

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None: ...

    async def thread_exists(self, thread_id: str) -> bool: ...
