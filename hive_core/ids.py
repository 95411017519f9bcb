"""Identifier types and the byte layouts that derive them.

Every id Hive hands out is derived by SHA-256 from stable inputs (run id, step, node,
ordinal, fingerprint), never drawn at random on a hot path, so two runs of the same
graph on the same input produce the same ids and the same trace.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Callable
from typing import NewType, Protocol

from .errors import IndexOutOfRangeError

__all__ = [
    "ChannelId",
    "CheckpointId",
    "InterruptId",
    "NodeId",
    "TaskId",
    "checkpoint_id",
    "fork_run_id",
    "interrupt_id",
    "lp",
    "task_id",
    "u32",
]

NodeId = NewType("NodeId", str)
ChannelId = NewType("ChannelId", str)
TaskId = NewType("TaskId", str)
CheckpointId = NewType("CheckpointId", str)
InterruptId = NewType("InterruptId", str)

_U32 = struct.Struct(">I")
_U32_MAX = 0xFFFFFFFF


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _builtin_sha256() -> Callable[[bytes], _Hash]:
    """The interpreter's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before),
    else ``hashlib``'s, e.g. on a build without builtin hashes."""
    try:
        from _sha2 import sha256 as fast  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _sha256 import sha256 as fast  # type: ignore[import-not-found]
        except ImportError:
            return hashlib.sha256
    return fast  # type: ignore[no-any-return]


sha256: Callable[[bytes], _Hash] = _builtin_sha256()
"""``hashlib.sha256(data)``: the same digest, cheaper per call on an id's hot path.
OpenSSL's allocates an EVP context per call and copies it per ``hexdigest``:
~2.5 µs per task id inside a running step (cold caches) against ~1 µs for the
builtin one, which a streamed run pays every step (``docs/performance.md``,
Streaming). Not exported: the library's ids use it."""


def u32(value: int, what: str = "value") -> bytes:
    """Big-endian u32; values outside the range raise ``IndexOutOfRangeError``."""
    if not 0 <= value <= _U32_MAX:
        raise IndexOutOfRangeError(what, value)
    return _U32.pack(value)


def lp(text: str) -> bytes:
    """Length-prefixed UTF-8: u32 byte count then the bytes."""
    raw = text.encode("utf-8")
    return _U32.pack(len(raw)) + raw


def task_id(
    run_id: uuid.UUID | bytes, step: int, node: str, ordinal: int, fingerprint: bytes
) -> TaskId:
    """SHA-256(run uuid ‖ u32 step ‖ 0 ‖ node ‖ 0 ‖ u32 ordinal ‖ fingerprint).

    ``run_id`` may be the UUID or its 16 bytes: the runtime passes the bytes it
    already holds, because ``UUID.bytes`` is recomputed on every access.
    """
    raw = run_id if isinstance(run_id, bytes) else run_id.bytes
    if not 0 <= step <= _U32_MAX:
        raise IndexOutOfRangeError("step index", step)
    if not 0 <= ordinal <= _U32_MAX:
        raise IndexOutOfRangeError("task ordinal", ordinal)
    return TaskId(_task_digest(raw, step, node, ordinal, fingerprint))


def _task_digest(
    run_bytes: bytes, step: int, node: str, ordinal: int, fingerprint: bytes
) -> str:
    """``task_id`` once its ranges are known to hold (the planner checks them for
    every task it builds). The message is packed by one ``struct`` call whose
    layout holds the node's bytes, kept per node id: a streamed task needs its id
    every step (``docs/performance.md``)."""
    layout = _LAYOUTS.get(node)
    if layout is None:
        layout = _layout(node)
    pack, raw_node = layout
    if len(run_bytes) == 16 and len(fingerprint) == 32:  # what the layout holds
        data = pack(run_bytes, step, raw_node, ordinal, fingerprint)
    else:
        data = run_bytes + _U32.pack(step) + b"\x00" + raw_node + b"\x00"
        data += _U32.pack(ordinal) + fingerprint
    return sha256(data).hexdigest()


def _layout(node: str) -> tuple[Callable[..., bytes], bytes]:
    """``run (16) ‖ u32 step ‖ 0 ‖ node ‖ 0 ‖ u32 ordinal ‖ fingerprint (32)``."""
    raw = node.encode("utf-8")
    layout = (struct.Struct(f">16sIx{len(raw)}sxI32s").pack, raw)
    if len(_LAYOUTS) < _LAYOUTS_MAX:
        _LAYOUTS[node] = layout
    return layout


_LAYOUTS: dict[str, tuple[Callable[..., bytes], bytes]] = {}
_LAYOUTS_MAX = 4096
"""Node ids whose layout is kept; a process with more node ids builds the rest
per id (the same bytes, a little slower)."""


def checkpoint_id(run_id: uuid.UUID, step_index: int) -> CheckpointId:
    """HCP1: depends only on the run id and the next step index."""
    return _checkpoint_digest(_checkpoint_prefix(run_id), step_index)


def _checkpoint_prefix(run_id: uuid.UUID) -> bytes:
    """What every HCP1 id of one run starts its message with: a run's saves reuse
    it (``UUID.bytes`` is recomputed on every access)."""
    return b"HCP1" + run_id.bytes


def _checkpoint_digest(prefix: bytes, step_index: int) -> CheckpointId:
    """``checkpoint_id`` from the run's ``_checkpoint_prefix``."""
    return CheckpointId(sha256(prefix + u32(step_index, "step index")).hexdigest())


def interrupt_id(winning_task_id: str) -> InterruptId:
    """HINT1 over the hex task id of the task whose interrupt was selected."""
    return InterruptId(sha256(b"HINT1" + winning_task_id.encode("utf-8")).hexdigest())


def fork_run_id(source_thread: str, target_thread: str, checkpoint: str) -> uuid.UUID:
    """Deterministic v5-style UUID for a forked thread's run (docs/concepts/checkpoints.md, fork)."""
    digest = sha256(
        b"HFORK_RUN1\x00"
        + source_thread.encode("utf-8")
        + b"\x00"
        + target_thread.encode("utf-8")
        + b"\x00"
        + checkpoint.encode("utf-8")
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=5)
