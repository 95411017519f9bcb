"""A thread's committed state ↔ ``Checkpoint``, and every check a loaded one passes.

Decoding validates before anything runs (format, versions, extra or missing channels,
fingerprints, join barriers, and every name against the compiled graph: frontier
nodes, join ids and parents, task-local channels, the interrupting node), so a bad
checkpoint is a typed error at load, never a half-restored thread or an
``UnknownNodeError`` at run time. See ``docs/concepts/checkpoints.md``.

This module knows the graph and the schema but not the runtime: it encodes anything
shaped like the runtime's thread state and decodes into plain frozen records.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol

import attrs
import msgspec

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointVersionMismatchError,
    CodecError,
)
from ..graph._compiled import CompiledGraph
from ..ids import _checkpoint_digest, _checkpoint_prefix
from ..run_types import Interruption
from ..state._channels import Channel, Persistence, Scope
from ..state._codecs import canonical_json
from ..state._store import InitialCache, fingerprint
from ._format import (
    CHECKPOINT_FORMAT_VERSION,
    Checkpoint,
    CheckpointInterruption,
    FrontierEntry,
)

__all__ = [
    "CheckpointCodec",
    "DecodedSeed",
    "DecodedState",
    "SeedLike",
    "StateLike",
    "encode_value",
]


class SeedLike(Protocol):
    """A frontier entry as the runtime holds it."""

    @property
    def node(self) -> str: ...
    @property
    def local(self) -> Mapping[str, object]: ...
    @property
    def spawned(self) -> bool: ...
    @property
    def is_join(self) -> bool: ...


class StateLike(Protocol):
    """A committed thread state as the runtime holds it."""

    @property
    def run_id(self) -> uuid.UUID: ...
    @property
    def step(self) -> int: ...
    @property
    def values(self) -> Mapping[str, Any]: ...
    @property
    def frontier(self) -> tuple[SeedLike, ...]: ...
    @property
    def barriers(self) -> Mapping[str, frozenset[str]]: ...
    @property
    def interruption(self) -> Interruption | None: ...


@attrs.frozen
class DecodedSeed:
    node: str
    local: Mapping[str, object]
    spawned: bool
    is_join: bool


@attrs.frozen
class DecodedState:
    """A validated checkpoint's content, ready to become the thread's state."""

    run_id: uuid.UUID
    step: int
    values: Mapping[str, Any]
    frontier: tuple[DecodedSeed, ...]
    barriers: Mapping[str, frozenset[str]]
    interruption: Interruption | None
    checkpoint_id: str


_NO_RUN: Final = object()
"""No run encoded yet: no state's ``run_id`` is this object."""


class CheckpointCodec:
    """Encodes and decodes checkpoints of one compiled graph."""

    def __init__(self, graph: CompiledGraph, initial: InitialCache) -> None:
        self.graph = graph
        self.initial = initial
        schema = graph.schema
        self.empty_fingerprint = fingerprint(schema, {}, initial)
        self.checkpointed = tuple(
            ch
            for ch in schema.channels
            if ch.scope is Scope.GLOBAL and ch.persistence is Persistence.CHECKPOINTED
        )
        self.checkpointed_ids = frozenset(ch.id for ch in self.checkpointed)
        self.join_targets = frozenset(j.target for j in graph.joins)
        self.join_ids = graph.join_ids
        self._run: tuple[object, str, bytes] = (_NO_RUN, "", b"")
        """The last run encoded: its id, its text and its checkpoint-id prefix
        (an attempt saves under one run id; one tuple, so threads sharing a codec
        never pair one run's id with another's text)."""

    # ---------------------------------------------------------------- encoding

    def encode(
        self,
        thread_id: str,
        state: StateLike,
        global_data: dict[str, bytes] | None = None,
    ) -> Checkpoint:
        """The checkpoint of ``state``; ``global_data`` if the caller encoded it."""
        graph = self.graph
        if global_data is None:
            global_data = {
                ch.id: encode_value(ch, state.values[ch.id]) for ch in self.checkpointed
            }
        interruption = None
        if state.interruption is not None:
            try:
                payload = canonical_json(state.interruption.payload)
            except Exception as exc:
                raise CheckpointEncodeError("interruption", reason=repr(exc)) from exc
            interruption = CheckpointInterruption(
                id=state.interruption.id, node=state.interruption.node, payload=payload
            )
        run = self._run
        if run[0] is not state.run_id:
            run = self._run = (
                state.run_id,
                str(state.run_id),
                _checkpoint_prefix(state.run_id),
            )
        return Checkpoint(
            format_version=CHECKPOINT_FORMAT_VERSION,
            id=_checkpoint_digest(run[2], state.step),
            thread_id=thread_id,
            run_id=run[1],
            step_index=state.step,
            schema_version=graph.schema_version,
            graph_version=graph.graph_version,
            global_data=global_data,
            frontier=tuple([self._encode_seed(seed) for seed in state.frontier]),
            join_barriers={
                jid: tuple(sorted(state.barriers.get(jid, ()))) for jid in self.join_ids
            },
            interruption=interruption,
        )

    def _encode_seed(self, seed: SeedLike) -> FrontierEntry:
        provenance: Literal["graph", "spawn"] = "spawn" if seed.spawned else "graph"
        if not seed.local:  # most entries: no overlay to encode or fingerprint
            return FrontierEntry(
                node=seed.node,
                provenance=provenance,
                is_join=seed.is_join,
                fingerprint=self.empty_fingerprint,
            )
        by_id = self.graph.schema.by_id
        local = {
            cid: encode_value(by_id[cid], seed.local[cid]) for cid in sorted(seed.local)
        }
        return FrontierEntry(
            node=seed.node,
            provenance=provenance,
            is_join=seed.is_join,
            fingerprint=fingerprint(self.graph.schema, seed.local, self.initial),
            local=local,
        )

    # ---------------------------------------------------------------- decoding

    def decode(self, cp: Checkpoint) -> DecodedState:
        """Validate everything (see the module docstring), then rebuild."""
        self._check_header(cp)
        extra = sorted(set(cp.global_data) - self.checkpointed_ids)
        if extra:
            raise CheckpointCorruptError(
                "global_data",
                checkpoint_id=cp.id,
                reason=f"unexpected channel {extra[0]}",
            )
        init = self.initial.values
        values: dict[str, Any] = {c: init[c] for c in self.graph.schema.global_ids}
        for ch in self.checkpointed:
            raw = cp.global_data.get(ch.id)
            if raw is None:
                raise CheckpointDecodeError(
                    ch.id, checkpoint_id=cp.id, reason="missing"
                )
            values[ch.id] = _decode_value(ch, raw, cp.id)
        frontier = tuple(self._decode_entry(e, cp.id) for e in cp.frontier)
        barriers = self._decode_barriers(cp)
        interruption = self._decode_interruption(cp)
        try:
            run_id = uuid.UUID(cp.run_id)
        except ValueError as exc:
            raise CheckpointCorruptError(
                "run_id", checkpoint_id=cp.id, reason=str(exc)
            ) from exc
        return DecodedState(
            run_id=run_id,
            step=cp.step_index,
            values=values,
            frontier=frontier,
            barriers=barriers,
            interruption=interruption,
            checkpoint_id=cp.id,
        )

    def _check_header(self, cp: Checkpoint) -> None:
        graph = self.graph
        if cp.format_version != CHECKPOINT_FORMAT_VERSION:
            raise CheckpointCorruptError(
                "format_version",
                checkpoint_id=cp.id,
                reason=f"expected {CHECKPOINT_FORMAT_VERSION}, found {cp.format_version}",
            )
        if (
            cp.schema_version != graph.schema_version
            or cp.graph_version != graph.graph_version
        ):
            raise CheckpointVersionMismatchError(
                expected_schema=graph.schema_version,
                expected_graph=graph.graph_version,
                found_schema=cp.schema_version,
                found_graph=cp.graph_version,
            )

    def _decode_entry(self, entry: FrontierEntry, cid_: str) -> DecodedSeed:
        if entry.node not in self.graph.nodes:
            raise CheckpointCorruptError(
                "frontier.node",
                checkpoint_id=cid_,
                reason=f"node `{entry.node}` is not in the compiled graph",
            )
        if entry.is_join and entry.node not in self.join_targets:
            raise CheckpointCorruptError(
                "frontier.is_join",
                checkpoint_id=cid_,
                reason=f"node `{entry.node}` is not the target of any join",
            )
        if len(entry.fingerprint) != 32:
            raise CheckpointCorruptError(
                "frontier.fingerprint",
                checkpoint_id=cid_,
                reason=f"{len(entry.fingerprint)} bytes, expected 32",
            )
        schema = self.graph.schema
        local: dict[str, object] = {}
        for key in sorted(entry.local):
            local_ch = schema.by_id.get(key)
            if local_ch is None or local_ch.scope is not Scope.TASK_LOCAL:
                raise CheckpointDecodeError(
                    key, checkpoint_id=cid_, reason="not a task-local channel"
                )
            local[key] = _decode_value(local_ch, entry.local[key], cid_)
        try:
            fp = fingerprint(schema, local, self.initial)
        except CodecError as exc:
            raise CheckpointDecodeError(
                exc.channel_id, checkpoint_id=cid_, reason=exc.reason
            ) from exc
        if fp != entry.fingerprint:
            raise CheckpointCorruptError(
                "frontier.fingerprint",
                checkpoint_id=cid_,
                reason=f"mismatch for node {entry.node}",
            )
        return DecodedSeed(
            entry.node,
            local,
            spawned=entry.provenance == "spawn",
            is_join=entry.is_join,
        )

    def _decode_barriers(self, cp: Checkpoint) -> Mapping[str, frozenset[str]]:
        joins = {j.id: j for j in self.graph.joins}
        found = cp.join_barriers
        if set(found) != set(joins):
            missing = sorted(set(joins) - set(found))
            extra = sorted(set(found) - set(joins))
            raise CheckpointCorruptError(
                "join_barriers",
                checkpoint_id=cp.id,
                reason=f"missing {missing}, unexpected {extra}",
            )
        out: dict[str, frozenset[str]] = {}
        for jid, seen in found.items():
            ok = all(a < b for a, b in itertools.pairwise(seen)) and set(seen) <= set(
                joins[jid].parents
            )
            if not ok:
                raise CheckpointCorruptError(
                    "join_barriers",
                    checkpoint_id=cp.id,
                    reason=f"{jid} lists {list(seen)}",
                )
            out[jid] = frozenset(seen)
        return out

    def _decode_interruption(self, cp: Checkpoint) -> Interruption | None:
        stored = cp.interruption
        if stored is None:
            return None
        if stored.node not in self.graph.nodes:
            raise CheckpointCorruptError(
                "interruption.node",
                checkpoint_id=cp.id,
                reason=f"node `{stored.node}` is not in the compiled graph",
            )
        try:
            payload = msgspec.json.decode(
                stored.payload, type=self.graph.schema.interrupt_payload
            )
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CheckpointDecodeError(
                "interruption", checkpoint_id=cp.id, reason=str(exc)
            ) from exc
        return Interruption(id=stored.id, payload=payload, node=stored.node)


def encode_value(ch: Channel[Any], value: object) -> bytes:
    codec = ch.codec
    if codec is None:  # pragma: no cover - rejected at compile time
        raise CheckpointEncodeError(ch.id, reason="no codec")
    try:
        return codec.encode(value)
    except Exception as exc:
        raise CheckpointEncodeError(ch.id, reason=repr(exc)) from exc


def _decode_value(ch: Channel[Any], raw: bytes, checkpoint: str) -> Any:
    codec = ch.codec
    try:
        if codec is None:  # pragma: no cover - rejected at compile time
            raise ValueError("no codec")
        value = codec.decode(raw)
    except Exception as exc:
        raise CheckpointDecodeError(
            ch.id, checkpoint_id=checkpoint, reason=repr(exc)
        ) from exc
    if not ch.accepts(value):
        raise CheckpointDecodeError(
            ch.id,
            checkpoint_id=checkpoint,
            reason=f"decoded {type(value).__name__}, expected {ch.type_name}",
        )
    return value
