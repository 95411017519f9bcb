"""What a type checker sees through the public DSL (checked by mypy, never run).

Each ``assert_type`` pins a type users rely on; a change here is an API change.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, assert_type

from hive_core import (
    CompiledGraph,
    GlobalStore,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    Schema,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import Checkpoint
from hive_dsl import (
    Branch,
    Chain,
    Effects,
    End,
    FanOut,
    GoTo,
    Interrupt,
    Join,
    NodeDef,
    PatchDiff,
    PatchResult,
    SpawnEach,
    Subgraph,
    Workflow,
    WorkflowPatch,
)
from hive_dsl.testing import node_input


class S(Schema):
    count = channel(int)
    name = channel(str)
    log = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local")


wf = Workflow(S)


@wf.node(start=True)
def plain(ctx: NodeInput) -> Effects:
    assert_type(ctx.store.get(S.count), int)
    assert_type(ctx.store.get(S.log), list[str])
    return Effects(Write(S.count, ctx.store.get(S.count) + 1))


@wf.node
async def fetch(ctx: NodeInput) -> Effects:
    return Effects(End())


@wf.node(node_id="maybe")
def returns_none(ctx: NodeInput) -> None:
    return None


@wf.node
def lower_level(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(S.name, "x")])


@wf.node
def primitive(ctx: NodeInput) -> GoTo:
    return GoTo(plain)


# NodeDef keeps the function's parameters and return type. (mypy also keeps the
# parameter's name, `NodeDef[[Arg(NodeInput, 'ctx')], Effects]`, which assert_type
# cannot spell: assignments pin the parameters, assert_type the return types.)
typed_plain: NodeDef[[NodeInput], Effects] = plain
typed_fetch: NodeDef[[NodeInput], Coroutine[Any, Any, Effects]] = fetch
typed_none: NodeDef[[NodeInput], None] = returns_none
typed_lower: NodeDef[[NodeInput], NodeOutput] = lower_level
typed_primitive: NodeDef[[NodeInput], GoTo] = primitive
plain_fn: Callable[[NodeInput], Effects] = plain.fn
assert_type(plain.id, str)
assert_type(plain.is_async, bool)
assert_type(plain(node_input(S)), Effects)
assert_type(returns_none(node_input(S)), None)
pending = assert_type(fetch(node_input(S)), Coroutine[Any, Any, Effects])
pending.close()
assert_type(wf.nodes, tuple[NodeDef[..., Any], ...])

# effects
assert_type(Write(S.count, 1), Write[int])
assert_type(Write(S.log, ["x"]), Write[list[str]])
assert_type(SpawnEach(["a"], plain, local=lambda i: {S.item: i}), SpawnEach[str])
assert_type(Interrupt({"q": 1}), Interrupt)
assert_type(Effects(Write(S.name, "n"), GoTo("x"), End()), Effects)
with Effects() as fx:
    assert_type(fx, Effects)
    assert_type(fx.write(S.count, 1).write(S.log, ["a"]).goto(plain), Effects)
assert_type(fx.writes_to(S.count), list[int])
assert_type(fx.to_output(), NodeOutput)

# builders: __enter__ returns the builder itself
with Branch(wf, after=plain) as branch:
    assert_type(branch, Branch)
    branch.case("big", when=lambda view: view.get(S.count) > 3, then=fetch)
    branch.default(then=[returns_none, "lower_level"])
with Chain(wf, fetch) as chain:
    assert_type(chain, Chain)
    chain.then(returns_none)
with FanOut(wf, returns_none, join_to=primitive) as fan:
    assert_type(fan, FanOut)
    fan.to(lower_level)
assert_type(Join(wf, [plain, "fetch"], primitive), Join)

# compiling
graph = wf.compile()
assert_type(graph, CompiledGraph)


# subgraphs
def child_output(store: GlobalStore) -> list[Write[int]]:
    return [Write(S.count, store.get(S.count))]


sub = wf.node(Subgraph(graph, output=child_output), node_id="sub")
typed_sub: NodeDef[[NodeInput], Coroutine[Any, Any, Effects]] = sub

# patching
patch = WorkflowPatch().insert_probe(returns_none.fn, between=plain, and_="fetch")
assert_type(patch, WorkflowPatch)
result = patch.apply(graph)
assert_type(result, PatchResult)
new_graph, diff = result
assert_type(new_graph, CompiledGraph)
assert_type(diff, PatchDiff)
assert_type(diff.to_mermaid(), str)
assert_type(
    patch.migrate_sync(graph, new_graph, InMemoryCheckpointStore(), "t"), Checkpoint
)


class _ReadCheck(Schema):
    items = channel(list[str], reducer=reducers.append, update="multi")


def _reads_fit_their_context(view: StoreView) -> None:
    # a read typed by the channel also fits a wider expected type (ReadKey is
    # covariant), which is what enumerate/join ask for
    for _i, _item in enumerate(view.get(_ReadCheck.items)):
        pass
    assert_type(" ".join(view.get(_ReadCheck.items)), str)
