"""``Effects``: what a DSL node asks of the commit, built from small primitives.

```python
return Effects(Write(Chat.topic, "x"), Write(Chat.log, ["planned"]), GoTo(review))

with Effects() as fx:
    fx.write(Chat.topic, "x")
    fx.spawn_each(items, worker, local=lambda item: {Chat.item: item})
return fx
```

A write is ``hive_core.Write``, the one write primitive of both layers: what it does is
the channel's reducer's business (last-write-wins replaces, ``reducers.append``
appends), so the DSL has no ``Set``/``Append`` whose name could contradict the
reducer (``docs/dsl.md``, "Writes").

Merge rules (``docs/dsl.md``, "Effects"): writes and spawns concatenate in the order
given; a later routing primitive (``GoTo``, ``UseGraphEdges``, ``End``) replaces an
earlier one, and so does a later ``Interrupt``; with no routing primitive the node follows its graph edges
(or its router); ``GoTo()`` with no nodes ends the path. ``Effects`` lowers to a
``hive_core.NodeOutput``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Protocol, Self, TypeAlias, TypeVar, final

import msgspec

from hive_core import (
    END,
    GRAPH_EDGES,
    Channel,
    DefinitionError,
    Next,
    NodeOutput,
    Write,
)
from hive_core import Spawn as _Spawn

from ._scope import NEW, Scoped

__all__ = [
    "Effect",
    "Effects",
    "End",
    "GoTo",
    "Interrupt",
    "LocalFn",
    "SpawnEach",
    "UseGraphEdges",
    "Write",
    "NodeRef",
    "node_id_of",
    "ref_source",
]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type of SpawnEach

LocalFn: TypeAlias = Callable[[I], Mapping[Channel[Any] | str, object]]
"""Maps one spawned item to the task-local values of its task."""


class _Node(Protocol):
    """A node object as references see it: ``NodeDef`` (what ``@wf.node``
    returns) is the one. A protocol so effects need not import the workflow."""

    @property
    def id(self) -> str: ...


NodeRef: TypeAlias = _Node | str
"""A node: the ``@wf.node`` object itself, or its id (checked when compiled)."""


def ref_source(ref: NodeRef) -> str:
    """How a reference reads in code: a node's id bare, a string quoted."""
    return repr(ref) if isinstance(ref, str) else ref.id


def node_id_of(ref: NodeRef) -> str:
    """The node id a reference stands for."""
    if type(ref) is str:
        return ref
    node_id = getattr(ref, "id", None)
    if not isinstance(node_id, str):
        raise DefinitionError(
            f"Expected a node (a @wf.node function) or a node id, got "
            f"{type(ref).__name__}\n\n"
            "Incorrect: GoTo(some_plain_function)\n"
            "Correct:   GoTo(decorated_node)  # or GoTo('node_id')",
            subject=repr(ref),
        )
    return node_id


@final
class GoTo:
    """Run these nodes next (in this order) instead of following the graph;
    ``GoTo()`` with no nodes ends this path."""

    __slots__ = ("_nodes",)

    def __init__(self, *nodes: NodeRef) -> None:
        self._nodes: tuple[NodeRef, ...] = nodes

    @property
    def nodes(self) -> tuple[NodeRef, ...]:
        """The nodes to run next, in order."""
        return self._nodes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTo) and tuple(map(node_id_of, self.nodes)) == tuple(
            map(node_id_of, other.nodes)
        )

    def __hash__(self) -> int:
        return hash(("GoTo", *map(node_id_of, self.nodes)))

    def __repr__(self) -> str:
        return f"GoTo({', '.join(repr(node_id_of(n)) for n in self.nodes)})"


@final
class UseGraphEdges(msgspec.Struct, frozen=True):
    """Follow the node's router or static edges (the default)."""


@final
class End(msgspec.Struct, frozen=True):
    """Schedule nothing after this task (its spawns still run)."""


@final
class Interrupt(msgspec.Struct, frozen=True):
    """Pause the run after this step commits, asking the outside for input."""

    payload: object

    def __post_init__(self) -> None:
        if self.payload is None:
            raise DefinitionError(
                "Interrupt(None) cannot be told apart from no interrupt; pass a "
                "payload\n\n"
                "Incorrect: Interrupt(None)\n"
                'Correct:   Interrupt({"question": "Approve?"})',
                subject="Interrupt",
            )


@final
class SpawnEach(msgspec.Struct, Generic[I], frozen=True):
    """One task of ``node`` per item in the next step, each with the task-local
    values ``local(item)`` (never deduplicated)."""

    items: Iterable[I]
    node: NodeRef
    local: LocalFn[I] | None = None


def _spawns(
    items: Iterable[I], node: NodeRef, local: LocalFn[I] | None
) -> list[_Spawn]:
    nid = node_id_of(node)
    if local is None:
        return [_Spawn(nid, {}) for _ in items]
    return [_Spawn(nid, local(item)) for item in items]


@final
class Effects(Scoped):
    """A node's result: writes, spawns, a routing decision and an interrupt.

    Build it from primitives (``Effects(Write(...), GoTo(...))``), with methods
    (``fx.write(...)``), or in a single-use ``with Effects() as fx:`` block; a node
    returns it. Calling a node function in a test returns it too: inspect
    ``writes``, ``spawns``, ``next``, ``writes_to(channel)`` or ``to_output()``.
    """

    __slots__ = ("_interrupt", "_next", "_spawn", "_writes")

    _kind = "Effects()"

    def __init__(self, *effects: Effect) -> None:
        self._state = NEW
        self._writes: list[Write[Any]] = []
        self._spawn: list[_Spawn] = []
        self._next: Next | tuple[str, ...] = GRAPH_EDGES
        self._interrupt: object | None = None
        for effect in effects:
            self._add(effect)

    # ----------------------------------------------------------------- adding

    def _add(self, e: Effect) -> None:
        if isinstance(e, Write):
            self._writes.append(e)
        elif isinstance(e, GoTo):
            self._next = tuple(map(node_id_of, e.nodes)) if e.nodes else END
        elif isinstance(e, SpawnEach):
            self._spawn += _spawns(e.items, e.node, e.local)
        elif isinstance(e, End):
            self._next = END
        elif isinstance(e, UseGraphEdges):
            self._next = GRAPH_EDGES
        elif isinstance(e, Interrupt):
            self._interrupt = e.payload
        elif isinstance(e, Effects):
            self._merge(e)
        else:
            raise DefinitionError(
                f"Effects() got {type(e).__name__}; expected Write, GoTo, "
                "UseGraphEdges, End, Interrupt, SpawnEach or Effects\n\n"
                "Incorrect: Effects((Chat.topic, 'x'))\n"
                "Correct:   Effects(Write(Chat.topic, 'x'))",
                subject=type(e).__name__,
            )

    def _merge(self, other: Effects) -> None:
        self._writes += other._writes
        self._spawn += other._spawn
        if other._next is not GRAPH_EDGES:
            self._next = other._next
        if other._interrupt is not None:
            self._interrupt = other._interrupt

    def add(self, *effects: Effect) -> Self:
        """Add primitives (or other ``Effects``) in order."""
        self._check_mutable("add")
        for effect in effects:
            self._add(effect)
        return self

    def write(self, channel: Channel[T], value: T) -> Self:
        """Write ``value`` to ``channel``; its reducer says what that does
        (``add(Write(channel, value))``)."""
        self._check_mutable("write")
        self._writes.append(Write(channel, value))
        return self

    def goto(self, *nodes: NodeRef) -> Self:
        """Run these nodes next; no nodes ends this path."""
        self._check_mutable("goto")
        self._next = tuple(map(node_id_of, nodes)) if nodes else END
        return self

    def use_graph_edges(self) -> Self:
        """Follow the router or static edges (the default)."""
        self._check_mutable("use_graph_edges")
        self._next = GRAPH_EDGES
        return self

    def end(self) -> Self:
        """Schedule nothing after this task."""
        self._check_mutable("end")
        self._next = END
        return self

    def interrupt(self, payload: object) -> Self:
        """Pause the run after this step with ``payload`` as the question."""
        self._check_mutable("interrupt")
        self._add(Interrupt(payload))
        return self

    def spawn(
        self, node: NodeRef, local: Mapping[Channel[Any] | str, object] | None = None
    ) -> Self:
        """One task of ``node`` in the next step with these task-local values."""
        self._check_mutable("spawn")
        self._spawn.append(_Spawn(node_id_of(node), local or {}))
        return self

    def spawn_each(
        self, items: Iterable[I], node: NodeRef, *, local: LocalFn[I] | None = None
    ) -> Self:
        """One task of ``node`` per item, with task-local values ``local(item)``."""
        self._check_mutable("spawn_each")
        self._spawn += _spawns(items, node, local)
        return self

    # -------------------------------------------------------------- reading

    @property
    def writes(self) -> tuple[Write[Any], ...]:
        """The writes in emission order."""
        return tuple(self._writes)

    @property
    def spawns(self) -> tuple[_Spawn, ...]:
        """The spawned tasks in order."""
        return tuple(self._spawn)

    @property
    def next(self) -> Next | tuple[str, ...]:
        """``GRAPH_EDGES``, ``END`` or the node ids to run next."""
        return self._next

    @property
    def interrupt_payload(self) -> object | None:
        """The interrupt payload, if the node asks for one."""
        return self._interrupt

    def writes_to(self, channel: Channel[T]) -> list[T]:
        """Every value written to ``channel``, in order (handy in tests)."""
        cid = channel.id
        return [w.value for w in self._writes if w.channel_id == cid]

    def to_output(self) -> NodeOutput:
        """The ``hive_core.NodeOutput`` this lowers to."""
        return NodeOutput(
            writes=tuple(self._writes),
            spawn=tuple(self._spawn),
            next=self._next,
            interrupt=self._interrupt,
        )

    def _lower(self) -> NodeOutput:
        """``to_output`` without copies, for the runtime path (the node returned
        this object and never sees it again)."""
        return NodeOutput(
            writes=self._writes,
            spawn=self._spawn,
            next=self._next,
            interrupt=self._interrupt,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Effects):
            return NotImplemented
        return self.to_output() == other.to_output()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{w.channel_id}={w.value!r}" for w in self._writes]
        if self._spawn:
            parts.append(f"spawn={[s.node for s in self._spawn]!r}")
        if self._next is not GRAPH_EDGES:
            nxt = self._next
            shown = "END" if isinstance(nxt, Next) else repr(list(nxt))
            parts.append(f"next={shown}")
        if self._interrupt is not None:
            parts.append(f"interrupt={self._interrupt!r}")
        return f"Effects({', '.join(parts)})"


Effect: TypeAlias = (
    Write[Any] | GoTo | UseGraphEdges | End | Interrupt | SpawnEach[Any] | Effects
)
"""Anything ``Effects(...)`` accepts."""
