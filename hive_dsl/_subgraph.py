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

Each task of the node runs the child to completion on a fresh ``Runtime`` (sharing the
parent's environment) on thread ``subgraph:<parent thread>:<step index>``. The
child's events are discarded; the child's run and attempt ids are derived from the
parent task, so the parent's trace stays deterministic. ``input`` maps the parent's
view to the child's run input, ``output`` maps the child's final (full) store to
effects of the parent node. A child that asks for an interrupt fails the node with
``SubgraphInterruptedError``: a child cannot pause its parent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from typing import Protocol, final

import attrs

from hive_core import (
    CompiledGraph,
    GlobalStore,
    InMemoryCheckpointStore,
    NodeInput,
    RunOptions,
    Runtime,
    StoreView,
)

from ._effects import Effect, Effects
from ._errors import SubgraphIncompleteError, SubgraphInterruptedError


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

    def prepare(self) -> CompiledGraph:
        """Compile the child (once); the parent's ``compile()`` calls this."""
        graph = self._graph
        if graph is None:
            child = self.child
            graph = child if isinstance(child, CompiledGraph) else child.compile()
            self._graph = graph
        return graph

    async def __call__(self, ctx: NodeInput) -> Effects:
        graph = self.prepare()
        thread_id = f"subgraph:{ctx.thread_id}:{ctx.step}"
        seed = f"{ctx.run_id}\x00{thread_id}\x00{ctx.task_id}".encode()
        runtime = Runtime(
            graph,
            environment=ctx.environment,
            checkpoint_store=InMemoryCheckpointStore(),
            ids=_ChildIds(seed),
        )
        options = attrs.evolve(self.options, output_projection=graph.schema.global_ids)
        child_input = self.input(ctx.store) if self.input is not None else None
        outcome = await runtime.invoke(thread_id, child_input, options)
        if outcome.status == "interrupted" and outcome.interrupt is not None:
            raise SubgraphInterruptedError(
                node_id=ctx.node_id,
                child_thread_id=thread_id,
                interrupt_id=outcome.interrupt.id,
                payload=outcome.interrupt.payload,
            )
        if outcome.status != "finished":
            raise SubgraphIncompleteError(
                node_id=ctx.node_id, child_thread_id=thread_id, status=outcome.status
            )
        if self.output is None:
            return Effects()
        mapped = self.output(GlobalStore(graph.schema, outcome.output))
        return mapped if isinstance(mapped, Effects) else Effects(*mapped)

    def __repr__(self) -> str:
        return f"Subgraph({self.__name__!r})"
