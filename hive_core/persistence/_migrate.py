"""Moving a thread's latest checkpoint to a changed graph, when that is safe.

A structural change to a graph (a node, an edge, a retry policy) gives it a new graph
version, and checkpoints saved under the old version no longer load on it
(``CheckpointVersionMismatchError``). ``migrate_checkpoint`` re-saves a thread's
latest checkpoint under the new version if nothing the thread is about to do touches
what changed. See ``docs/concepts/checkpoints.md`` and ``docs/dsl.md`` (patching).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

import msgspec

from .._bridge import run_sync
from ..errors import CheckpointError
from ._format import Checkpoint, CheckpointStore

if TYPE_CHECKING:
    from ..graph import CompiledGraph

__all__ = [
    "MigrationError",
    "MigrationReason",
    "migrate_checkpoint",
    "migrate_checkpoint_sync",
]

MigrationReason: TypeAlias = Literal[
    "no-checkpoint",
    "not-from-old-graph",
    "schema-changed",
    "not-this-patch",
    "frontier-touches-change",
    "join-barrier-touches-change",
]
"""Why a migration was refused (``MigrationError.reason``)."""


class MigrationError(CheckpointError):
    """A thread's checkpoint cannot move to the new graph; ``reason`` says why and
    nothing was saved.

    Fix: finish (or resume) the thread on the old graph, then switch; or start a new
    thread on the new graph.
    """

    code: ClassVar[str] = "migration-refused"

    def __init__(
        self, message: str, *, reason: MigrationReason, thread_id: str, subject: str
    ) -> None:
        self.reason: MigrationReason = reason
        self.thread_id = thread_id
        self.subject = subject
        super().__init__(message)


def refusal(
    thread_id: str, reason: MigrationReason, subject: str, message: str
) -> MigrationError:
    """The ``MigrationError`` for ``thread_id``, with the usual fix line."""
    return MigrationError(
        f"Cannot migrate thread `{thread_id}`: {message}\n\n"
        "Fix: finish or resume the thread on the old graph first, or start a new "
        "thread on the new graph.",
        reason=reason,
        thread_id=thread_id,
        subject=subject,
    )


def _versions(graph: CompiledGraph | Checkpoint) -> tuple[str, str]:
    return (graph.schema_version, graph.graph_version)


def _targets(graph: CompiledGraph, source: str) -> list[str]:
    return [e.target for e in graph.ir.edges if e.source == source]


def _changes(
    old: CompiledGraph, new: CompiledGraph, also: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(changed, rerouted): nodes added, removed or updated (their IR record or
    router presence differs, or the caller names them), and the nodes whose static
    successors (in order) differ."""
    old_nodes = {n.id: n for n in old.ir.nodes}
    new_nodes = {n.id: n for n in new.ir.nodes}
    changed = (old_nodes.keys() ^ new_nodes.keys()) | set(also)
    changed |= {
        nid
        for nid in old_nodes.keys() & new_nodes.keys()
        if old_nodes[nid] != new_nodes[nid]
        or (nid in old.ir.routers) != (nid in new.ir.routers)
    }
    rerouted = {
        src
        for src in {e.source for e in (*old.ir.edges, *new.ir.edges)}
        if _targets(old, src) != _targets(new, src)
    }
    return changed, rerouted


def _check_frontier(
    cp: Checkpoint, changed: set[str], rerouted: set[str], thread_id: str
) -> None:
    for entry in cp.frontier:
        if entry.node in changed or entry.node in rerouted:
            what = "changed" if entry.node in changed else "rerouted"
            raise refusal(
                thread_id,
                "frontier-touches-change",
                entry.node,
                f"its next step runs `{entry.node}`, which the patch {what}",
            )


def _check_barriers(
    cp: Checkpoint, old: CompiledGraph, changed: set[str], thread_id: str
) -> None:
    joins = {j.id: j for j in old.ir.joins}
    for jid in sorted(cp.join_barriers):
        join = joins.get(jid)
        if not cp.join_barriers[jid] or join is None:
            continue
        touched = sorted(n for n in (*join.parents, join.target) if n in changed)
        if touched:
            raise refusal(
                thread_id,
                "join-barrier-touches-change",
                jid,
                f"join `{jid}` is partly filled and the patch changed `{touched[0]}`",
            )


async def migrate_checkpoint(
    old_graph: CompiledGraph,
    new_graph: CompiledGraph,
    store: CheckpointStore,
    thread_id: str,
    *,
    changed_nodes: Iterable[str] = (),
) -> Checkpoint:
    """Re-save ``thread_id``'s latest checkpoint under ``new_graph``'s version.

    The move is safe, and done, only if the checkpoint was written by ``old_graph``,
    the schema is unchanged, and neither the thread's frontier nor a partly filled
    join barrier touches what changed between the graphs: a frontier node that was
    added, removed or updated (its retry policy, blocking flag or router), or whose
    outgoing edges changed; a barrier whose parents or target were. A function swap
    leaves the graph's IR alone: name such nodes in ``changed_nodes``. The checkpoint
    keeps its id (same run and step), so the store overwrites it. A checkpoint
    already at the new version is returned as is.

    Raises:
        MigrationError: with ``reason`` naming why nothing was saved.
    """
    cp = await store.load_latest(thread_id)
    if cp is None:
        raise refusal(thread_id, "no-checkpoint", thread_id, "it has no checkpoint")
    if _versions(cp) == _versions(new_graph):
        return cp
    if _versions(cp) != _versions(old_graph):
        raise refusal(
            thread_id,
            "not-from-old-graph",
            cp.id,
            f"its latest checkpoint has graph version {cp.graph_version[:12]}, "
            f"not the old graph's {old_graph.graph_version[:12]}",
        )
    if old_graph.schema_version != new_graph.schema_version:
        raise refusal(
            thread_id, "schema-changed", new_graph.schema.name, "the schema changed"
        )
    changed, rerouted = _changes(old_graph, new_graph, changed_nodes)
    _check_frontier(cp, changed, rerouted, thread_id)
    _check_barriers(cp, old_graph, changed, thread_id)
    moved = msgspec.structs.replace(cp, graph_version=new_graph.graph_version)
    await store.save(moved)
    return moved


def migrate_checkpoint_sync(
    old_graph: CompiledGraph,
    new_graph: CompiledGraph,
    store: CheckpointStore,
    thread_id: str,
    *,
    changed_nodes: Iterable[str] = (),
) -> Checkpoint:
    """Blocking ``migrate_checkpoint`` for scripts; not callable inside an event
    loop."""
    return run_sync(
        migrate_checkpoint(
            old_graph, new_graph, store, thread_id, changed_nodes=changed_nodes
        ),
        name="migrate_checkpoint_sync",
        instead="await migrate_checkpoint(...)",
        inline=getattr(store, "inline", False) is True,
    )
