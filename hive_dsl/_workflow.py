"""``Workflow``: owns a graph's node definitions and lowers them into the core.

```python
wf = Workflow(Chat)

@wf.node(start=True)
def plan(ctx: NodeInput) -> Effects:
    return Effects(Write(Chat.topic, "bees"))

@wf.node
def write(ctx: NodeInput) -> Effects: ...

wf.edge(plan, write)
graph = wf.compile()  # a hive_core.CompiledGraph
```

There is no global registry: each ``Workflow`` keeps its own nodes and declarations
(edges, joins, chains, fan-outs, branches) in the order they were made, and
``compile()`` replays them into a fresh ``GraphBuilder``.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    ParamSpec,
    Protocol,
    TypeAlias,
    TypeVar,
    final,
    overload,
)

from hive_core import (
    Channel,
    CompiledGraph,
    DefinitionError,
    GraphBuilder,
    NodeOutput,
    RetryPolicy,
    Schema,
    SchemaSpec,
)

from ._effects import Effect, NodeRef
from ._lower import CoreFn, lower_node_fn
from ._signatures import check_node_signature, function_name, is_async_callable

if TYPE_CHECKING:
    from ._builders import Edge, Join

__all__ = ["NodeDef", "NodeRef", "NodeResult", "Workflow"]

P = ParamSpec("P")

NodeResult: TypeAlias = Effect | NodeOutput | None
"""What a DSL node function may return (or, if async, resolve to)."""

R = TypeVar("R", bound="NodeResult | Awaitable[NodeResult]")

_RESERVED = ("+", ":")


class _Declaration(Protocol):
    def check(self) -> None:
        """Raise ``DefinitionError`` if the declaration is unfinished."""

    def lower(self, g: GraphBuilder) -> None:
        """Add the declaration's edges, joins or router to ``g``."""


@final
class NodeDef(Generic[P, R]):
    """A node of a ``Workflow``: what ``@wf.node`` returns.

    Frozen, compared by identity, and still callable like the function it wraps, so
    ``plan(node_input(...))`` runs the plain function in a test. Use the object itself
    wherever a node is referenced (edges, branches, ``GoTo``).
    """

    __slots__ = (
        "_blocking",
        "_core_fn",
        "_fn",
        "_id",
        "_is_async",
        "_retry",
        "_start",
        "_workflow",
    )

    _id: str
    _fn: Callable[P, R]
    _workflow: Workflow
    _start: bool
    _retry: RetryPolicy | None
    _blocking: bool
    _is_async: bool
    _core_fn: CoreFn

    def __init__(
        self,
        *,
        id: str,
        fn: Callable[P, R],
        workflow: Workflow,
        start: bool,
        retry: RetryPolicy | None,
        blocking: bool,
    ) -> None:
        init = object.__setattr__
        init(self, "_id", id)
        init(self, "_fn", fn)
        init(self, "_workflow", workflow)
        init(self, "_start", start)
        init(self, "_retry", retry)
        init(self, "_blocking", blocking)
        init(self, "_is_async", is_async_callable(fn))
        init(self, "_core_fn", lower_node_fn(fn, id))

    @property
    def id(self) -> str:
        """The node id (the function's ``__name__`` unless given, de-duplicated)."""
        return self._id

    @property
    def fn(self) -> Callable[P, R]:
        """The user function, untouched."""
        return self._fn

    @property
    def workflow(self) -> Workflow:
        """The workflow that owns this node."""
        return self._workflow

    @property
    def start(self) -> bool:
        """Whether the node is in the start list."""
        return self._start

    @property
    def retry(self) -> RetryPolicy | None:
        return self._retry

    @property
    def blocking(self) -> bool:
        """Run a sync function in a worker thread."""
        return self._blocking

    @property
    def is_async(self) -> bool:
        return self._is_async

    @property
    def core_fn(self) -> CoreFn:
        """The function handed to ``GraphBuilder.add_node`` (usable in hand-built
        graphs): calls ``fn`` and lowers its result to a ``NodeOutput``."""
        return self._core_fn

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"NodeDef `{self._id}` is frozen; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"NodeDef `{self._id}` is frozen; cannot delete {name!r}")

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the plain function (for tests); the runtime calls ``core_fn``."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"NodeDef({self.id!r}, workflow={self.workflow.name!r})"


@final
class Workflow:
    """A graph under construction: node definitions plus the declarations that
    connect them, in the order they were made.

    Args:
        schema: The ``Schema`` subclass (or ``SchemaSpec``) the nodes read and write.
        name: Used in messages; defaults to the schema's name.
        output: The output projection of compiled graphs (``None``: every global
            channel).
    """

    def __init__(
        self,
        schema: type[Schema] | SchemaSpec,
        *,
        name: str | None = None,
        output: Sequence[Channel[Any] | str] | None = None,
    ) -> None:
        self.schema: SchemaSpec = (
            schema if isinstance(schema, SchemaSpec) else schema.spec()
        )
        self.name: str = name if name is not None else self.schema.name
        self.output: tuple[Channel[Any] | str, ...] | None = (
            tuple(output) if output is not None else None
        )
        self._nodes: dict[str, NodeDef[..., Any]] = {}
        self._decls: list[_Declaration] = []

    # -------------------------------------------------------------- nodes

    @overload
    def node(
        self,
        fn: Callable[P, R],
        /,
        *,
        start: bool = False,
        node_id: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = False,
    ) -> NodeDef[P, R]: ...

    @overload
    def node(
        self,
        fn: None = None,
        /,
        *,
        start: bool = False,
        node_id: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = False,
    ) -> Callable[[Callable[P, R]], NodeDef[P, R]]: ...

    def node(
        self,
        fn: Callable[P, R] | None = None,
        /,
        *,
        start: bool = False,
        node_id: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = False,
    ) -> NodeDef[P, R] | Callable[[Callable[P, R]], NodeDef[P, R]]:
        """Declare a node: ``@wf.node`` or ``@wf.node(start=True, node_id=..., retry=...,
        blocking=...)``.

        The function takes one argument (the ``NodeInput``, conventionally ``ctx``)
        and returns ``Effects``, an effect primitive, a ``NodeOutput`` or ``None``;
        it may be ``async``. ``start=True`` adds it to the start list (in
        declaration order); ``blocking=True`` runs a sync function in a worker
        thread.
        """

        def decorate(f: Callable[P, R]) -> NodeDef[P, R]:
            return self._add_node(
                f, start=start, node_id=node_id, retry=retry, blocking=blocking
            )

        if fn is None:
            return decorate
        return decorate(fn)

    def _add_node(
        self,
        fn: Callable[P, R],
        *,
        start: bool,
        node_id: str | None,
        retry: RetryPolicy | None,
        blocking: bool,
    ) -> NodeDef[P, R]:
        if isinstance(fn, NodeDef):
            raise DefinitionError(
                f"`{fn.id}` is already a node of workflow `{fn.workflow.name}`; "
                "decorate the plain function instead\n\n"
                f"Incorrect: wf.node({fn.id})\n"
                f"Correct:   wf.node({fn.id}.fn, node_id=...)",
                subject=fn.id,
            )
        if not callable(fn):
            raise DefinitionError(
                f"A node must be a function taking a node input, got "
                f"{type(fn).__name__}\n\n"
                "Incorrect: wf.node(42)\n"
                "Correct:   @wf.node\n"
                "           def step(ctx: NodeInput) -> Effects: ...",
                subject=repr(fn),
            )
        nid = self._choose_id(fn, node_id)
        check_node_signature(fn, nid)
        if blocking and is_async_callable(fn):
            raise DefinitionError(
                f"Node `{nid}` is async; blocking=True is only for sync functions\n\n"
                f"Incorrect: @wf.node(blocking=True)\n"
                f"           async def {nid}(ctx): ...\n"
                f"Correct:   @wf.node\n"
                f"           async def {nid}(ctx): ...",
                subject=nid,
            )
        nd: NodeDef[P, R] = NodeDef(
            id=nid, fn=fn, workflow=self, start=start, retry=retry, blocking=blocking
        )
        self._nodes[nid] = nd
        return nd

    def _choose_id(self, fn: object, node_id: str | None) -> str:
        if node_id is not None:
            bad = [c for c in _RESERVED if c in node_id]
            if bad or not node_id:
                why = (
                    f"contains `{bad[0]}`, which join ids reserve"
                    if bad
                    else "is empty"
                )
                fixed = node_id.replace("+", "_").replace(":", "_") or "step"
                raise DefinitionError(
                    f"Node id `{node_id}` {why}\n\n"
                    f'Incorrect: @wf.node(node_id="{node_id}")\n'
                    f'Correct:   @wf.node(node_id="{fixed}")',
                    subject=node_id,
                )
            if node_id in self._nodes:
                raise DefinitionError(
                    f"Node id `{node_id}` is already used in workflow `{self.name}`\n\n"
                    f'Incorrect: @wf.node(node_id="{node_id}")  # a second time\n'
                    f'Correct:   @wf.node(node_id="{self._free_id(node_id)}")',
                    subject=node_id,
                )
            return node_id
        name = function_name(fn)
        if name is None:
            raise DefinitionError(
                f"{type(fn).__name__} object has no __name__ to use as node id; pass "
                "node_id=...\n\n"
                "Incorrect: wf.node(callable_object)\n"
                'Correct:   wf.node(callable_object, node_id="step")',
                subject=type(fn).__name__,
            )
        return self._free_id(name)

    def _free_id(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``... whichever is free first."""
        if name not in self._nodes:
            return name
        n = 2
        while f"{name}_{n}" in self._nodes:
            n += 1
        return f"{name}_{n}"

    @property
    def nodes(self) -> tuple[NodeDef[..., Any], ...]:
        """The node definitions in declaration order."""
        return tuple(self._nodes.values())

    @property
    def start(self) -> tuple[str, ...]:
        """Ids of the ``start=True`` nodes, in declaration order."""
        return tuple(nd.id for nd in self._nodes.values() if nd.start)

    # -------------------------------------------------------- declarations

    def edge(self, source: NodeRef, target: NodeRef) -> Edge:
        """A static edge ``source -> target`` (same as ``Edge(wf, source, target)``)."""
        from ._builders import Edge

        return Edge(self, source, target)

    def join(self, parents: Sequence[NodeRef], target: NodeRef) -> Join:
        """Run ``target`` once every parent has run (``Join(wf, parents, target)``)."""
        from ._builders import Join

        return Join(self, parents, target)

    def _declare(self, decl: _Declaration) -> None:
        self._decls.append(decl)

    def _check_ref(self, ref: NodeRef) -> None:
        """Fail now for objects that can never be nodes of this workflow."""
        if isinstance(ref, str):
            return
        if not isinstance(ref, NodeDef):
            raise DefinitionError(
                f"Expected a node of workflow `{self.name}` or a node id, got "
                f"{type(ref).__name__}\n\n"
                "Incorrect: wf.edge(plain_function, ...)\n"
                "Correct:   wf.edge(decorated_node, ...)  # or its id as a string",
                subject=repr(ref),
            )
        if ref.workflow is not self:
            raise DefinitionError(
                f"Node `{ref.id}` belongs to workflow `{ref.workflow.name}`, not "
                f"`{self.name}`\n\n"
                f"Incorrect: {self.name}_wf.edge({ref.id}, ...)  # defined on another workflow\n"
                f"Correct:   wrap the other workflow with Subgraph(...) as one node",
                subject=ref.id,
            )

    def _resolve(self, ref: NodeRef, usage: Callable[[str], str]) -> str:
        """The id of ``ref``; an unknown string is a ``DefinitionError``.

        ``usage`` renders the declaration with a given reference, for the message.
        """
        if not isinstance(ref, str):
            self._check_ref(ref)
            return ref.id
        if ref in self._nodes:
            return ref
        close = difflib.get_close_matches(ref, list(self._nodes), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        correct = (
            usage(repr(close[0]))
            if close
            else f"@wf.node\n           def {ref}(ctx: NodeInput) -> Effects: ..."
        )
        raise DefinitionError(
            f"Node `{ref}` is referenced but never defined in workflow "
            f"`{self.name}`{hint}\n\n"
            f"Incorrect: {usage(repr(ref))}\n"
            f"Correct:   {correct}",
            subject=ref,
        )

    # ------------------------------------------------------------- compile

    def compile(self, *, graph_version_override: str | None = None) -> CompiledGraph:
        """Lower into a ``GraphBuilder`` and compile it.

        Raises:
            DefinitionError: an unfinished builder, an unknown node name, or no
                start node.
            CompilationError: whatever the core rejects (cycles, duplicate
                routers, ...), with every problem listed.
        """
        from ._subgraph import Subgraph

        for decl in self._decls:
            decl.check()
        start = self.start
        if not start:
            raise DefinitionError(
                f"Workflow `{self.name}` has no start node\n\n"
                "Incorrect: @wf.node\n"
                "           def first(ctx: NodeInput) -> Effects: ...\n"
                "Correct:   @wf.node(start=True)\n"
                "           def first(ctx: NodeInput) -> Effects: ...",
                subject=self.name,
            )
        g = GraphBuilder(self.schema, start=start)
        for nd in self._nodes.values():
            if isinstance(nd.fn, Subgraph):
                nd.fn.prepare(self.schema)  # compile the child now: its errors are ours
            g.add_node(nd.id, nd.core_fn, retry_policy=nd.retry, blocking=nd.blocking)
        for decl in self._decls:
            decl.lower(g)
        if self.output is not None:
            g.set_output_projection(self.output)
        return g.compile(graph_version_override=graph_version_override)

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, nodes={list(self._nodes)!r})"
