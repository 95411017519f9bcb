"""Between the runtime and a ``CheckpointStore``: when to save, how state becomes a
``Checkpoint`` and back, and every validation a loaded checkpoint must pass.

Decoding validates before anything runs (versions, extra or missing channels,
fingerprints, join barriers), so a bad checkpoint is a typed error before step 0,
never a half-restored thread.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointVersionMismatchError,
    CodecError,
)
from ..ids import checkpoint_id
from ..persistence._format import (
    Checkpoint,
    CheckpointInterruption,
    CheckpointStore,
    FrontierEntry,
)
from ..run_types import Interruption, RunOptions
from ..state._channels import Persistence, Scope
from ..state._codecs import canonical_json
from ..state._store import fingerprint
from ._state import Seed, ThreadState

if TYPE_CHECKING:
    from ._loop import Attempt
    from ._runtime import Runtime

__all__ = ["CHECKPOINT_FORMAT", "Checkpointer"]

CHECKPOINT_FORMAT = 1


class Checkpointer:
    """Encodes, decodes, validates and saves checkpoints for one runtime."""

    def __init__(self, rt: Runtime, store: CheckpointStore) -> None:
        self.rt = rt
        self.store = store
        self.inline = bool(getattr(store, "inline", False))
        schema = rt.graph.schema
        self.checkpointed = tuple(
            ch
            for ch in schema.channels
            if ch.scope is Scope.GLOBAL and ch.persistence is Persistence.CHECKPOINTED
        )
        self.checkpointed_ids = frozenset(ch.id for ch in self.checkpointed)

    # ------------------------------------------------------------------ policy

    def check_options(self, options: RunOptions) -> None:
        """Nothing to check beyond ``validate_options``; kept as the hook point."""

    async def after_commit(
        self, attempt: Attempt, state: ThreadState, *, force: bool = False
    ) -> str | None:
        """Save if the policy, an interrupt or ``force`` asks; return the id."""
        policy = attempt.options.checkpoint_policy
        if not force and state.interruption is None and not policy.saves_at(state.step):
            return None
        return await self.save(attempt.thread_id, state)

    async def save(self, thread_id: str, state: ThreadState) -> str:
        cp = self.encode(thread_id, state)
        await self.store.save(cp)
        return cp.id

    # ---------------------------------------------------------------- encoding

    def encode(self, thread_id: str, state: ThreadState) -> Checkpoint:
        rt = self.rt
        graph = rt.graph
        schema = graph.schema
        global_data: dict[str, bytes] = {}
        for ch in self.checkpointed:
            codec = ch.codec
            if codec is None:  # pragma: no cover - rejected at compile time
                raise CheckpointEncodeError(ch.id, reason="no codec")
            try:
                global_data[ch.id] = codec.encode(state.values[ch.id])
            except Exception as exc:
                raise CheckpointEncodeError(ch.id, reason=repr(exc)) from exc
        frontier = []
        for seed in state.frontier:
            local: dict[str, bytes] = {}
            for cid in sorted(seed.local):
                ch = schema.by_id[cid]
                codec = ch.codec
                try:
                    local[cid] = codec.encode(seed.local[cid])  # type: ignore[union-attr]
                except Exception as exc:
                    raise CheckpointEncodeError(cid, reason=repr(exc)) from exc
            fp = (
                fingerprint(schema, seed.local, rt.initial)
                if seed.local
                else rt.empty_fingerprint
            )
            frontier.append(
                FrontierEntry(
                    node=seed.node,
                    provenance="spawn" if seed.spawned else "graph",
                    is_join=seed.is_join,
                    fingerprint=fp,
                    local=local,
                )
            )
        interruption = None
        if state.interruption is not None:
            try:
                payload = canonical_json(state.interruption.payload)
            except Exception as exc:
                raise CheckpointEncodeError("interruption", reason=repr(exc)) from exc
            interruption = CheckpointInterruption(
                id=state.interruption.id, node=state.interruption.node, payload=payload
            )
        return Checkpoint(
            format_version=CHECKPOINT_FORMAT,
            id=checkpoint_id(state.run_id, state.step),
            thread_id=thread_id,
            run_id=str(state.run_id),
            step_index=state.step,
            schema_version=graph.schema_version,
            graph_version=graph.graph_version,
            global_data=global_data,
            frontier=tuple(frontier),
            join_barriers={
                jid: tuple(sorted(state.barriers.get(jid, ())))
                for jid in graph.join_ids
            },
            interruption=interruption,
        )

    # ---------------------------------------------------------------- decoding

    def decode(self, cp: Checkpoint) -> ThreadState:
        """Validate per semantics §9 and rebuild the thread state."""
        rt = self.rt
        graph = rt.graph
        schema = graph.schema
        cid_ = cp.id
        if cp.format_version != CHECKPOINT_FORMAT:
            raise CheckpointCorruptError(
                "format_version",
                checkpoint_id=cid_,
                reason=f"expected {CHECKPOINT_FORMAT}, found {cp.format_version}",
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
        extra = sorted(set(cp.global_data) - self.checkpointed_ids)
        if extra:
            raise CheckpointCorruptError(
                "global_data",
                checkpoint_id=cid_,
                reason=f"unexpected channel {extra[0]}",
            )
        init = rt.initial.values
        values: dict[str, Any] = {c: init[c] for c in schema.global_ids}
        for ch in self.checkpointed:
            raw = cp.global_data.get(ch.id)
            if raw is None:
                raise CheckpointDecodeError(ch.id, checkpoint_id=cid_, reason="missing")
            values[ch.id] = _decode_value(ch, raw, cid_)
        frontier = []
        for entry in cp.frontier:
            if len(entry.fingerprint) != 32:
                raise CheckpointCorruptError(
                    "frontier.fingerprint",
                    checkpoint_id=cid_,
                    reason=f"{len(entry.fingerprint)} bytes, expected 32",
                )
            local: dict[str, object] = {}
            for key in sorted(entry.local):
                local_ch = schema.by_id.get(key)
                if local_ch is None or local_ch.scope is not Scope.TASK_LOCAL:
                    raise CheckpointDecodeError(
                        key, checkpoint_id=cid_, reason="not a task-local channel"
                    )
                local[key] = _decode_value(local_ch, entry.local[key], cid_)
            try:
                fp = fingerprint(schema, local, rt.initial)
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
            frontier.append(
                Seed(
                    entry.node,
                    local,
                    spawned=entry.provenance == "spawn",
                    is_join=entry.is_join,
                )
            )
        barriers = _decode_barriers(rt, cp)
        interruption = None
        if cp.interruption is not None:
            try:
                payload = msgspec.json.decode(
                    cp.interruption.payload, type=schema.interrupt_payload
                )
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise CheckpointDecodeError(
                    "interruption", checkpoint_id=cid_, reason=str(exc)
                ) from exc
            interruption = Interruption(
                id=cp.interruption.id, payload=payload, node=cp.interruption.node
            )
        try:
            run_id = uuid.UUID(cp.run_id)
        except ValueError as exc:
            raise CheckpointCorruptError(
                "run_id", checkpoint_id=cid_, reason=str(exc)
            ) from exc
        return ThreadState(
            run_id=run_id,
            step=cp.step_index,
            values=values,
            frontier=tuple(frontier),
            barriers=barriers,
            interruption=interruption,
            latest_checkpoint_id=cp.id,
        )


def _decode_value(ch: Any, raw: bytes, checkpoint: str) -> Any:
    try:
        value = ch.codec.decode(raw)
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


def _decode_barriers(rt: Runtime, cp: Checkpoint) -> Mapping[str, frozenset[str]]:
    joins = {j.id: j for j in rt.graph.joins}
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
        join = joins[jid]
        ok = all(a < b for a, b in itertools.pairwise(seen)) and set(seen) <= set(
            join.parents
        )
        if not ok:
            raise CheckpointCorruptError(
                "join_barriers",
                checkpoint_id=cp.id,
                reason=f"{jid} lists {list(seen)}",
            )
        out[jid] = frozenset(seen)
    return out
