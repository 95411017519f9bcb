"""Checkpoints: what a committed step boundary looks like on disk, and where it goes.

A ``Checkpoint`` holds only bytes produced by channel codecs plus plain strings and
ints, encoded with msgspec (MessagePack on disk). Nothing is ever unpickled: loading
a crafted checkpoint can at worst raise a decode error.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

from ..errors import CheckpointDecodeError

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Checkpoint",
    "CheckpointInterruption",
    "CheckpointStore",
    "CheckpointSummary",
    "FrontierEntry",
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


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    """Deterministic MessagePack bytes."""
    return _encoder.encode(checkpoint)


def decode_checkpoint(data: bytes) -> Checkpoint:
    """Decode MessagePack bytes; malformed input raises ``msgspec.DecodeError``."""
    return _decoder.decode(data)


def _decode_named(checkpoint_id: str, data: bytes) -> Checkpoint:
    try:
        return decode_checkpoint(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointDecodeError(
            "checkpoint", checkpoint_id=checkpoint_id, reason=str(exc)
        ) from exc


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

    A store whose methods never wait on a real future may set ``inline = True``;
    ``run_sync`` then drives runs without starting an event loop.
    """

    async def save(self, checkpoint: Checkpoint) -> None: ...

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
