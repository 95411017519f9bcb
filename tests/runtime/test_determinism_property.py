"""Property: shuffling task completion order never changes the trace or the store.

Random small graphs (static DAG edges, optional joins, a router, spawns with
task-local values) of async nodes that sleep a random 0-2 ms are run several times;
the normalized trace and the final store must be byte-identical every time.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import attrs
import msgspec
from hypothesis import given
from hypothesis import strategies as st

from hive_core import (
    END,
    GRAPH_EDGES,
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    StoreView,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.environment import Environment
from hive_core.events import ModelToken, trace_to_builtins
from hive_core.testing import FakeClock, SequentialIds

RUNS = 3


class P(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    counter = channel(int, reducer=reducers.sum, update="multi")
    tag = channel(str, scope="task_local", codec=Utf8Codec())


@attrs.frozen
class Shape:
    n: int
    edges: tuple[tuple[int, int], ...]
    joins: tuple[tuple[tuple[int, ...], int], ...]
    router: int | None
    """Node with a router; it loops back to node 0 while ``counter`` is small."""
    spawns: tuple[tuple[int, int], ...]
    """(parent, child): the parent spawns the child with a task-local tag."""
    extra_start: tuple[int, ...]


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    n = draw(st.integers(3, 7))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = tuple(p for p in pairs if draw(st.booleans()))
    joins: list[tuple[tuple[int, ...], int]] = []
    for target in draw(st.lists(st.integers(2, n - 1), max_size=2, unique=True)):
        parents = draw(
            st.lists(st.integers(0, target - 1), min_size=1, max_size=3, unique=True)
        )
        joins.append((tuple(sorted(parents)), target))
    router = draw(st.none() | st.integers(0, n - 1))
    spawns = tuple(draw(st.lists(st.sampled_from(pairs), max_size=2)))
    extra = tuple(draw(st.lists(st.integers(1, n - 1), max_size=2, unique=True)))
    return Shape(n, edges, tuple(joins), router, spawns, extra)


def build(shape: Shape, delays: random.Random) -> CompiledGraph:
    ids = [f"N{i}" for i in range(shape.n)]

    def node(i: int) -> Any:
        me = ids[i]
        children = [ids[c] for p, c in shape.spawns if p == i]

        async def fn(inp: NodeInput) -> NodeOutput:
            tag = inp.store.get(P.tag)
            inp.emit(ModelToken(f"{me}<"))
            await asyncio.sleep(delays.random() * 0.002)
            inp.emit(ModelToken(f">{me}"))
            spawn = [Spawn(c, {P.tag: f"{me}@{inp.step}"}) for c in children if not tag]
            return NodeOutput(
                writes=[
                    Write(P.log, [f"{me}:{tag}" if tag else me]),
                    Write(P.counter, i + 1),
                ],
                spawn=spawn,
            )

        return fn

    def route(view: StoreView) -> Any:
        count = view.get(P.counter)
        if count < 6:
            return [ids[0]]
        return GRAPH_EDGES if count % 2 else END

    start = [ids[0], *(ids[i] for i in shape.extra_start)]
    b = GraphBuilder(P, start=start)
    for i in range(shape.n):
        b.add_node(ids[i], node(i))
    for src, dst in shape.edges:
        b.add_edge(ids[src], ids[dst])
    for parents, target in shape.joins:
        b.add_join_edge([ids[p] for p in parents], ids[target])
    if shape.router is not None:
        b.add_router(ids[shape.router], route)
    return b.compile()


async def run_once(shape: Shape, seed: int) -> tuple[bytes, bytes]:
    rt = Runtime(
        build(shape, random.Random(seed)),
        environment=Environment(clock=FakeClock()),
        ids=SequentialIds(),
    )
    opts = RunOptions(max_steps=12, deterministic_token_streaming=True)
    handle = rt.run("thread", {"log": ["input"]}, opts)
    events = [e async for e in handle.events]
    outcome = await handle
    trace = {"events": trace_to_builtins(events), "status": outcome.status}
    store = rt.get_latest_store("thread")
    assert store is not None
    return (
        msgspec.json.encode(trace, order="deterministic"),
        msgspec.json.encode(store.to_dict(), order="deterministic"),
    )


@given(shape=shapes(), rnd=st.randoms(use_true_random=False))
def test_completion_order_never_changes_trace_or_store(
    shape: Shape, rnd: random.Random
) -> None:
    seeds = [rnd.getrandbits(32) for _ in range(RUNS)]
    results = [asyncio.run(run_once(shape, seed)) for seed in seeds]
    traces = {trace for trace, _ in results}
    stores = {store for _, store in results}
    assert len(traces) == 1, "trace depends on completion order"
    assert len(stores) == 1, "store depends on completion order"


def test_delays_do_shuffle_completion_order() -> None:
    """Guard for the property above: the random delays really reorder completions
    (otherwise the property would pass vacuously)."""
    orders: set[tuple[str, ...]] = set()
    for seed in range(20):
        delays = random.Random(seed)
        done: list[str] = []

        def node(
            name: str, delays: random.Random = delays, done: list[str] = done
        ) -> Any:
            async def fn(inp: NodeInput) -> None:
                await asyncio.sleep(delays.random() * 0.002)
                done.append(name)

            return fn

        b = GraphBuilder(P, start=["A", "B", "C"])
        for name in "ABC":
            b.add_node(name, node(name))
        Runtime(b.compile(), ids=SequentialIds()).run_sync("t")
        orders.add(tuple(done))
    assert len(orders) > 1
