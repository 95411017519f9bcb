"""``Subgraph``: a whole child graph run as one node of a parent workflow.

```python
research = wf.node(
    Subgraph(
        child_wf,
        input=lambda view: {Child.question: view.get(Parent.question)},
        output=lambda store: [Write(Parent.answer, store.get(Child.answer))],
    ),
    node_id="research",
)
```

Each task of the node runs the child on a fresh ``Runtime`` (sharing the parent's
environment) on thread ``subgraph:<parent thread>:<step index>``, with run and
attempt ids derived from the parent task, so the parent's trace stays deterministic.
The child behaves like a node of the parent (``docs/dsl.md#subgraphs``):

* its events stream through the parent as ``SubgraphEvent``s namespaced by the
  subgraph node's id (built only when someone listens);
* an interrupt in the child pauses the parent with the child's payload; the child's
  interrupt checkpoint is parked in the parent's checkpoint store under
  ``subgraph-paused:<parent interrupt id>``, so fork and a new process find it, and
  the parent's resume re-runs this node, which resumes the child from there;
* without ``input``/``output``, global channels the two schemas share by id are
  passed in and written back (the ones the child changed).

``input`` maps the parent's view to the child's run input, ``output`` maps the
child's final (full) store to effects of the parent node.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from typing import Protocol, final

import attrs
import msgspec

from hive_core import (
    Checkpoint,
    CheckpointPolicy,
    CheckpointStore,
    CheckpointSummary,
    CompiledGraph,
    GlobalStore,
    InMemoryCheckpointStore,
    NodeInput,
    Outcome,
    RunHandle,
    RunOptions,
    Runtime,
    StoreView,
    Write,
)
from hive_core.events import SubgraphEvent, trace_to_builtins
from hive_core.ids import interrupt_id
from hive_core.persistence import UNFENCED, Unfenced
from hive_core.state import SchemaSpec

from ._effects import Effect, Effects, GoTo, Interrupt
from ._errors import (
    SubgraphIncompleteError,
    SubgraphInterruptedError,
    SubgraphResumeError,
)


class _Child(Protocol):
    """A child that compiles when the parent does (``Workflow`` is the one). A
    protocol, so the subgraph does not import the workflow that compiles it."""

    @property
    def name(self) -> str: ...
    def compile(self) -> CompiledGraph: ...


__all__ = ["Subgraph"]

InputMapping = Callable[[StoreView], object]
OutputMapping = Callable[[GlobalStore], "Effects | Iterable[Effect]"]


class _ChildIds:
    """Run and attempt ids for a child run, derived from the parent task."""

    __slots__ = ("_attempts", "_seed")

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._attempts = 0

    def _uuid(self, label: bytes) -> uuid.UUID:
        digest = hashlib.sha256(b"HSUB1\x00" + self._seed + b"\x00" + label).digest()
        return uuid.UUID(bytes=digest[:16], version=5)

    def new_run_id(self) -> uuid.UUID:
        return self._uuid(b"run")

    def new_attempt_id(self) -> uuid.UUID:
        self._attempts += 1
        return self._uuid(b"attempt:%d" % self._attempts)


@final
class Subgraph:
    """A node function that runs a child workflow or compiled graph.

    Args:
        child: A ``Workflow`` (compiled when the parent compiles) or a
            ``CompiledGraph``.
        input: Parent view -> the child's run input (by default, a dict of child
            channel to value). ``None`` runs the child with no input.
        output: The child's final store -> effects of the parent node (``Write``,
            ``GoTo``...). ``None`` writes nothing.
        options: Run options for the child (``max_steps``...); its output
            projection is always the full store.
        name: Default node id when ``wf.node(Subgraph(...))`` is given none.
    """

    __name__: str

    def __init__(
        self,
        child: _Child | CompiledGraph,
        *,
        input: InputMapping | None = None,
        output: OutputMapping | None = None,
        options: RunOptions | None = None,
        name: str | None = None,
    ) -> None:
        self.child = child
        self.input = input
        self.output = output
        self.options = options if options is not None else RunOptions()
        self.__name__ = name or (
            "subgraph" if isinstance(child, CompiledGraph) else child.name
        )
        self._graph: CompiledGraph | None = (
            child if isinstance(child, CompiledGraph) else None
        )
        self.shared: tuple[str, ...] = ()
        """Global channel ids the parent and the child both declare: without
        ``input``/``output`` they are mapped by name (set by the parent's
        ``compile()``)."""

    def prepare(self, parent: SchemaSpec | None = None) -> CompiledGraph:
        """Compile the child (once) and, given the parent's schema, find the
        channels shared by name; the parent's ``compile()`` calls this."""
        graph = self._graph
        if graph is None:
            child = self.child
            graph = child if isinstance(child, CompiledGraph) else child.compile()
            self._graph = graph
        if parent is not None:
            mine = set(parent.global_ids)
            self.shared = tuple(c for c in graph.schema.global_ids if c in mine)
        return graph

    def _default_input(self, view: StoreView) -> dict[str, object] | None:
        """The parent's values of the shared channels, by id."""
        return {cid: view.get(cid) for cid in self.shared} or None

    def _default_output(self, sent: object, final: GlobalStore) -> Effects:
        """The child's final values of the shared channels it changed (what it
        was sent stays unwritten, so an untouched channel is not written twice)."""
        given = sent if isinstance(sent, dict) else {}
        fx = Effects()
        for cid in self.shared:
            value = final.get(cid)
            if cid not in given or given[cid] != value:
                fx.add(Write(cid, value))
        return fx

    async def __call__(self, ctx: NodeInput) -> Effects:
        graph = self.prepare()
        thread_id = f"subgraph:{ctx.thread_id}:{ctx.step}"
        seed = f"{ctx.run_id}\x00{thread_id}\x00{ctx.task_id}".encode()
        work_store = InMemoryCheckpointStore()
        runtime = Runtime(
            graph,
            environment=ctx.environment,
            checkpoint_store=_ChildStore(work_store, ctx.checkpoint_store),
            ids=_ChildIds(seed),
        )
        # The child's own store only parks its state at an interrupt (the parent's
        # checkpoint covers the rest), so its default policy is on_interrupt.
        policy = self.options.checkpoint_policy or CheckpointPolicy.on_interrupt()
        options = attrs.evolve(
            self.options,
            output_projection=graph.schema.global_ids,
            checkpoint_policy=policy,
        )
        resume = ctx.resume
        if resume is not None and resume.node == ctx.node_id:
            child_interrupt = await _unpark(
                ctx, resume.interrupt_id, work_store, thread_id
            )
            handle = runtime.resume(thread_id, child_interrupt, resume.payload, options)
        else:
            child_input = (
                self.input(ctx.store)
                if self.input is not None
                else self._default_input(ctx.store)
            )
            handle = runtime.run(thread_id, child_input, options)
        outcome = await _forward(ctx, handle)
        if outcome.status == "interrupted" and outcome.interrupt is not None:
            return await _pause_parent(ctx, outcome, work_store, thread_id)
        if outcome.status != "finished":
            raise SubgraphIncompleteError(
                node_id=ctx.node_id, child_thread_id=thread_id, status=outcome.status
            )
        final = GlobalStore(graph.schema, outcome.output)
        if self.output is None:
            sent = self._default_input(ctx.store) if self.input is None else None
            return self._default_output(sent, final)
        mapped = self.output(final)
        return mapped if isinstance(mapped, Effects) else Effects(*mapped)

    def __repr__(self) -> str:
        return f"Subgraph({self.__name__!r})"


_PARKED = "subgraph-paused:"


class _ChildStore:
    """A child run's checkpoint store: its own threads in memory, paused
    grandchildren (``subgraph-paused:...``) in the parent's store, so a nested
    subgraph's pause survives in the top-level store too."""

    __slots__ = ("_parent", "_work", "inline")

    def __init__(
        self, work: InMemoryCheckpointStore, parent: CheckpointStore | None
    ) -> None:
        self._work = work
        self._parent = parent
        self.inline = False

    def _for(self, thread_id: str) -> CheckpointStore:
        parent = self._parent
        if parent is not None and thread_id.startswith(_PARKED):
            return parent
        return self._work

    async def save(
        self,
        checkpoint: Checkpoint,
        *,
        expected_latest: str | Unfenced | None = UNFENCED,
    ) -> None:
        await self._for(checkpoint.thread_id).save(
            checkpoint, expected_latest=expected_latest
        )

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        return await self._for(thread_id).load_latest(thread_id)

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        return await self._for(thread_id).list_checkpoints(thread_id, limit)

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        return await self._for(thread_id).load_checkpoint(thread_id, checkpoint_id)

    async def thread_exists(self, thread_id: str) -> bool:
        return await self._for(thread_id).thread_exists(thread_id)


def parked_thread(interrupt_id: str) -> str:
    """Where a paused child waits in the parent's checkpoint store: named by the
    parent's interrupt id, which a fork of the parent keeps, so every thread
    forked from the paused checkpoint finds the same child."""
    return f"{_PARKED}{interrupt_id}"


async def _pause_parent(
    ctx: NodeInput, outcome: Outcome, work: InMemoryCheckpointStore, thread_id: str
) -> Effects:
    """Park the child's interrupt checkpoint in the parent's store, then pause the
    parent with the child's payload and run this node again on resume."""
    assert outcome.interrupt is not None  # checked by the caller
    store = ctx.checkpoint_store
    if store is None:
        raise SubgraphInterruptedError(
            node_id=ctx.node_id,
            child_thread_id=thread_id,
            interrupt_id=outcome.interrupt.id,
            payload=outcome.interrupt.payload,
        )
    parked = parked_thread(interrupt_id(ctx.task_id))
    if not await store.thread_exists(parked):  # a retried step parks it once
        checkpoint = await work.load_latest(thread_id)
        assert checkpoint is not None  # an interrupt always saves one
        await store.save(msgspec.structs.replace(checkpoint, thread_id=parked))
    return Effects(Interrupt(outcome.interrupt.payload), GoTo(ctx.node_id))


async def _unpark(
    ctx: NodeInput, parent_interrupt: str, work: InMemoryCheckpointStore, thread_id: str
) -> str:
    """Copy the parked child into the fresh work store; return its interrupt id."""
    store = ctx.checkpoint_store
    checkpoint = (
        await store.load_latest(parked_thread(parent_interrupt))
        if store is not None
        else None
    )
    if checkpoint is None or checkpoint.interruption is None:
        raise SubgraphResumeError(
            node_id=ctx.node_id,
            child_thread_id=parked_thread(parent_interrupt),
            interrupt_id=parent_interrupt,
        )
    await work.save(msgspec.structs.replace(checkpoint, thread_id=thread_id))
    return checkpoint.interruption.id


async def _forward(ctx: NodeInput, handle: RunHandle) -> Outcome:
    """Run the child; when the parent is listened to, stream every child event
    through it as a ``SubgraphEvent`` under this node's id (nested ones keep their
    deeper namespace)."""
    if not ctx.streaming:
        return await handle.outcome()
    async for event in handle.events:
        if isinstance(event, SubgraphEvent):
            namespace, data = (ctx.node_id, *event.namespace), event.event
        else:
            namespace, data = (ctx.node_id,), trace_to_builtins([event])[0]
        ctx.emit(SubgraphEvent(namespace=namespace, event=data))
    return await handle.outcome()
