"""Reading a thread's past and branching from it: snapshots of committed states,
the history with values, and ``fork`` with writes (``docs/persistence.md``).

Kept apart from ``Runtime`` so that module stays about running; these functions
see only the checkpointer and the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import CheckpointNotFoundError
from ..graph._compiled import CompiledGraph
from ..ids import fork_run_id
from ..run_types import ThreadSnapshot
from ..state._channels import Write
from ..state._store import GlobalStore
from ._checkpointing import Checkpointer
from ._loop import EXTERNAL_WRITER, apply_input_writes
from ._state import ThreadState

__all__ = ["fork_state", "snapshot", "state_history"]


def snapshot(
    graph: CompiledGraph, thread_id: str, state: ThreadState
) -> ThreadSnapshot:
    """What ``get_state`` and each history entry report for a committed state."""
    return ThreadSnapshot(
        thread_id=thread_id,
        run_id=str(state.run_id),
        step_index=state.step,
        store=GlobalStore(graph.schema, state.values),
        next_nodes=tuple(sorted({s.node for s in state.frontier})),
        interrupt=state.interruption,
        checkpoint_id=state.latest_checkpoint_id,
    )


async def state_history(
    cpr: Checkpointer, graph: CompiledGraph, thread_id: str, limit: int | None
) -> list[ThreadSnapshot]:
    """The thread's checkpoints, newest first, each decoded through the channels'
    codecs (values, next nodes, pending interrupt), as ``get_state`` shows them."""
    out: list[ThreadSnapshot] = []
    for summary in await cpr.store.list_checkpoints(thread_id, limit):
        cp = await cpr.store.load_checkpoint(thread_id, summary.id)
        if cp is None:  # pragma: no cover - deleted between the list and the load
            raise CheckpointNotFoundError(thread_id, summary.id)
        out.append(snapshot(graph, thread_id, cpr.decode(cp)))
    return out


async def fork_state(
    cpr: Checkpointer,
    graph: CompiledGraph,
    thread_id: str,
    checkpoint_id: str,
    into: str,
    writes: Sequence[Write[Any]],
) -> ThreadState:
    """The state ``into`` starts from: the checkpoint's, with ``writes`` applied
    as external writes (same checks, same reducers; the step index and frontier
    are kept). Raises before anything is saved."""
    cp = await cpr.store.load_checkpoint(thread_id, checkpoint_id)
    if cp is None:
        raise CheckpointNotFoundError(thread_id, checkpoint_id)
    state = cpr.decode(cp)
    if writes:
        values, _ = apply_input_writes(
            graph, state.values, writes, writer=EXTERNAL_WRITER, step=state.step
        )
        state = state.replace(values=values)
    return state.replace(
        run_id=fork_run_id(thread_id, into, checkpoint_id), latest_checkpoint_id=None
    )
