"""Each commit phase against a hand-built state, without running a graph; and the
one-task commit (``commit_one``) against ``commit_step``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hive_core import (
    END,
    ChannelTypeMismatchError,
    GraphBuilder,
    Next,
    NodeOutput,
    ReducerError,
    Schema,
    Spawn,
    StoreView,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
    Write,
    channel,
    reducers,
)
from hive_core.graph import CompiledGraph
from hive_core.runtime._commit import (
    CommitResult,
    GlobalReduction,
    Routing,
    collect_writes,
    commit_step,
    next_frontier,
    reduce_globals,
    reduce_locals,
    route_tasks,
    select_interrupt,
    update_barriers,
)
from hive_core.runtime._commit_one import commit_one
from hive_core.runtime._plan import plan_tasks
from hive_core.runtime._state import RunIds, Seed, Task, ThreadState
from hive_core.state._store import InitialCache, fingerprint


def _boom(current: int, update: int) -> int:
    raise RuntimeError("reducer must not run before the single-writer checks")


class S(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    total = channel(int, reducer=reducers.sum, update="multi")
    a_first = channel(int, reducer=_boom)
    z_single = channel(str)
    scratch = channel(str, persistence="ephemeral", initial="reset")
    item = channel(str, scope="task_local")
    count = channel(int, scope="task_local", reducer=reducers.sum, update="multi")


def _noop(_: object) -> None:
    return None


def _graph(router_seen: list[Any] | None = None) -> CompiledGraph:
    def route(view: StoreView) -> list[str]:
        if router_seen is not None:
            router_seen.append((view.get(S.log), view.get(S.item)))
        return ["B"]

    return _routed(route)


def _routed(route: Any) -> CompiledGraph:
    return (
        GraphBuilder(S, start=["A"])
        .add_node("A", _noop)
        .add_node("B", _noop)
        .add_node("C", _noop)
        .add_node("J", _noop)
        .add_edge("B", "C")
        .add_router("A", route)
        .add_join_edge(["B", "C"], "J")
        .compile()
    )


def _state(
    graph: CompiledGraph,
    frontier: Sequence[Seed],
    *,
    values: Mapping[str, Any] | None = None,
    barriers: Mapping[str, frozenset[str]] | None = None,
) -> tuple[ThreadState, list[Task], InitialCache]:
    initial = InitialCache(graph.schema)
    base = {cid: initial.values[cid] for cid in graph.schema.global_ids}
    base.update(values or {})
    run_id = uuid.UUID(int=7)
    state = ThreadState(
        run_id=run_id,
        step=3,
        values=base,
        frontier=tuple(frontier),
        barriers=barriers
        if barriers is not None
        else {jid: frozenset() for jid in graph.join_ids},
        interruption=None,
        latest_checkpoint_id=None,
    )
    empty = fingerprint(graph.schema, {}, initial)
    ids = RunIds(run_id.bytes, graph.schema, initial, empty)
    return state, plan_tasks(graph, state, ids), initial


def test_collect_writes_groups_by_channel_in_ordinal_then_emission_order() -> None:
    g = _graph()
    _, tasks, _ = _state(g, [Seed("B"), Seed("A"), Seed("C")])
    outputs = [
        NodeOutput(writes=[Write(S.log, ["b1"]), Write(S.item, "x")]),
        NodeOutput(writes=[Write(S.log, ["a1"]), Write(S.total, 2)], interrupt="ask"),
        NodeOutput(writes=[Write("log", ["c1"])], interrupt="later"),
    ]
    writes = collect_writes(g.schema.by_id, tasks, outputs, 3)
    assert writes.global_writes == {"log": [["b1"], ["a1"], ["c1"]], "total": [2]}
    # only A has a router: only its own global writes are kept for it
    assert writes.router_writes == [None, {"log": [["a1"]], "total": [2]}, None]
    assert writes.local_writes == [{"item": ["x"]}, None, None]
    assert writes.interrupt_at == 1


def test_collect_writes_names_the_node_for_unknown_channels_and_types() -> None:
    g = _graph()
    _, tasks, _ = _state(g, [Seed("A"), Seed("B")])
    with pytest.raises(UnknownChannelError) as unknown:
        collect_writes(
            g.schema.by_id,
            tasks,
            [NodeOutput(), NodeOutput(writes=[Write("nope", 1)])],
            3,
        )
    assert (unknown.value.channel_id, unknown.value.node, unknown.value.step) == (
        "nope",
        "B",
        3,
    )
    with pytest.raises(ChannelTypeMismatchError) as wrong:
        collect_writes(
            g.schema.by_id, tasks, [NodeOutput(writes=[Write(S.total, "2")])], 3
        )
    assert (wrong.value.channel_id, wrong.value.node) == ("total", "A")
    assert (wrong.value.expected, wrong.value.actual) == ("int", "str")


def test_reduce_globals_checks_every_single_writer_before_reducing() -> None:
    g = _graph()
    state, _, initial = _state(g, [])
    by_id = g.schema.by_id
    # a_first sorts first and its reducer raises, but z_single's policy error wins
    with pytest.raises(UpdatePolicyViolationError) as err:
        reduce_globals(
            by_id, state.values, {"a_first": [1], "z_single": ["x", "y"]}, initial, 3
        )
    assert (err.value.channel_id, err.value.write_count) == ("z_single", 2)
    with pytest.raises(ReducerError):
        reduce_globals(by_id, state.values, {"a_first": [1]}, initial, 3)


def test_reduce_globals_folds_in_order_and_resets_ephemeral_channels() -> None:
    g = _graph()
    state, _, initial = _state(g, [], values={"log": ["old"], "total": 1})
    out = reduce_globals(
        g.schema.by_id,
        state.values,
        {"total": [2, 3], "log": [["a"], ["b"]], "scratch": ["tmp"]},
        initial,
        3,
    )
    assert out.written == [("log", ["old", "a", "b"]), ("scratch", "tmp"), ("total", 6)]
    assert out.values["log"] == ["old", "a", "b"]
    assert out.values["scratch"] == "reset"
    assert out.any_ephemeral
    assert state.values["log"] == ["old"]  # never mutated
    unchanged = reduce_globals(g.schema.by_id, state.values, {}, initial, 3)
    assert unchanged.values is state.values and unchanged.written == []


def test_reduce_locals_starts_from_the_overlay_or_the_initial_value() -> None:
    g = _graph()
    _, tasks, initial = _state(g, [Seed("B", {"count": 5}), Seed("C"), Seed("A")])
    overlays = reduce_locals(
        g.schema.by_id,
        tasks,
        [{"count": [1, 2]}, {"count": [4], "item": ["i"]}, None],
        initial,
        3,
    )
    assert overlays is not None
    assert [dict(o) for o in overlays] == [
        {"count": 8},
        {"count": 4, "item": "i"},
        {},
    ]
    assert overlays[2] is tasks[2].seed.local
    assert reduce_locals(g.schema.by_id, tasks, None, initial, 3) is None
    with pytest.raises(UpdatePolicyViolationError) as err:
        reduce_locals(
            g.schema.by_id, tasks, [{"item": ["a", "b"]}, None, None], initial, 3
        )
    assert err.value.channel_id == "item"


def test_route_tasks_gives_a_router_only_its_own_writes() -> None:
    seen: list[Any] = []
    g = _graph(seen)
    state, tasks, initial = _state(g, [Seed("A"), Seed("B")], values={"log": ["pre"]})
    outputs = [
        NodeOutput(writes=[Write(S.log, ["mine"]), Write(S.item, "local")]),
        NodeOutput(
            writes=[Write(S.log, ["sibling"])],
            spawn=[Spawn("C", {S.item: "s1"}), Spawn("C", {"item": "s1"})],
            next=END,
        ),
    ]
    by_id = g.schema.by_id
    writes = collect_writes(by_id, tasks, outputs, 3)
    reduction = reduce_globals(by_id, state.values, writes.global_writes, initial, 3)
    overlays = reduce_locals(by_id, tasks, writes.local_writes, initial, 3)
    routing = route_tasks(
        g.schema,
        state.values,
        tasks,
        outputs,
        writes,
        reduction,
        overlays,
        initial,
        3,
    )
    assert seen == [(["pre", "mine"], "local")]
    assert routing.graph_seeds == ["B"]
    assert [(s.node, dict(s.local), s.spawned) for s in routing.spawn_seeds] == [
        ("C", {"item": "s1"}, True),
        ("C", {"item": "s1"}, True),
    ]


def test_route_tasks_follows_explicit_next_and_static_edges() -> None:
    g = _graph()
    state, tasks, initial = _state(g, [Seed("B"), Seed("C")])
    outputs = [NodeOutput(), NodeOutput(next=["A", "B"])]
    writes = collect_writes(g.schema.by_id, tasks, outputs, 3)
    routing = route_tasks(
        g.schema,
        state.values,
        tasks,
        outputs,
        writes,
        GlobalReduction(state.values, [], False),
        None,
        initial,
        3,
    )
    assert routing.graph_seeds == ["C", "A", "B"]


def test_update_barriers_consumes_then_contributes() -> None:
    g = _graph()
    (jid,) = g.join_ids
    _, tasks, _ = _state(g, [Seed("B")])
    half = update_barriers(g, {jid: frozenset()}, tasks)
    assert half.barriers == {jid: frozenset({"B"})} and half.join_seeds == []
    _, tasks, _ = _state(g, [Seed("C")])
    full = update_barriers(g, half.barriers, tasks)
    assert full.barriers == {jid: frozenset({"B", "C"})}
    assert full.join_seeds == ["J"]
    # the target runs: its full barrier is consumed; a parent in the same step
    # starts the next round
    _, tasks, _ = _state(g, [Seed("J"), Seed("B")])
    after = update_barriers(g, full.barriers, tasks)
    assert after.barriers == {jid: frozenset({"B"})} and after.join_seeds == []


def test_next_frontier_dedupes_graph_seeds_only_and_checks_nodes() -> None:
    g = _graph()
    spawned = [Seed("C", {"item": "x"}, spawned=True)] * 2
    frontier = next_frontier(g, Routing(["B", "C", "B"], spawned), ["C", "J"], 3)
    assert [(s.node, s.is_join, s.spawned) for s in frontier] == [
        ("B", False, False),
        ("C", False, False),
        ("J", True, False),
        ("C", False, True),
        ("C", False, True),
    ]
    with pytest.raises(UnknownNodeError) as err:
        next_frontier(g, Routing(["B"], [Seed("ghost", spawned=True)]), [], 3)
    assert (err.value.node_id, err.value.step) == ("ghost", 3)


def test_select_interrupt_takes_the_smallest_ordinal() -> None:
    g = _graph()
    _, tasks, _ = _state(g, [Seed("A"), Seed("B")])
    outputs = [NodeOutput(), NodeOutput(interrupt={"q": 1})]
    assert select_interrupt(tasks, outputs, -1) is None
    chosen = select_interrupt(tasks, outputs, 1)
    assert chosen is not None
    assert (chosen.node, chosen.payload) == ("B", {"q": 1})


def test_commit_step_publishes_nothing_when_a_late_phase_fails() -> None:
    g = _graph()
    state, tasks, initial = _state(g, [Seed("B")], values={"log": ["pre"]})
    outputs = [NodeOutput(writes=[Write(S.log, ["x"])], next=["ghost"])]
    with pytest.raises(UnknownNodeError):
        commit_step(g, state, tasks, outputs, initial)
    assert state.values["log"] == ["pre"]
    ok = commit_step(
        g, state, tasks, [NodeOutput(writes=[Write(S.log, ["x"])])], initial
    )
    assert ok.values["log"] == ["pre", "x"]
    assert [s.node for s in ok.frontier] == ["C"]


def _fresh_route(view: StoreView) -> Any:
    """A router whose decision depends on the task's own writes (a fresh view),
    including every way a decision can be refused."""
    total = view.get(S.total)
    if total < 0:
        raise ValueError("router refused")
    if total == 7:
        return "B"  # a str: refused
    if total == 8:
        return [Spawn("B")]  # not node ids: refused
    if view.get(S.scratch) == "end":
        return END
    return ["B", "C", "B"] if total % 2 else ["C"]


FRESH = _routed(_fresh_route)

_one_writes = st.lists(
    st.one_of(
        st.builds(lambda v: Write(S.log, v), st.lists(st.sampled_from("xy"))),
        st.builds(lambda v: Write(S.total, v), st.integers(-1, 9)),
        st.builds(lambda v: Write(S.z_single, v), st.sampled_from(["a", "b"])),
        st.builds(lambda v: Write(S.scratch, v), st.sampled_from(["end", "go"])),
        st.builds(lambda v: Write(S.count, v), st.integers(0, 2)),
        st.sampled_from(
            [Write(S.a_first, 1), Write(S.item, "i"), Write("total", "not an int")]
        ),
        st.just(Write("ghost", 1)),
    ),
    max_size=4,
)
_one_outputs = st.builds(
    lambda writes, nxt, spawn, interrupt: NodeOutput(
        writes=writes, next=nxt, spawn=spawn, interrupt=interrupt
    ),
    _one_writes,
    st.sampled_from(
        [Next.USE_GRAPH_EDGES, END, ["B"], ["C", "C"], ["ghost"], ["J", "B"], []]
    ),
    st.sampled_from([(), (Spawn("C", {S.item: "s"}),), (Spawn("ghost"),)]),
    st.sampled_from([None, "ask", {"q": 1}]),
)


def _commit_outcome(commit: Any) -> tuple[str, Any]:
    try:
        result: CommitResult = commit()
    except Exception as exc:
        return "error", (type(exc), str(exc))
    frontier = [(s.node, dict(s.local), s.spawned, s.is_join) for s in result.frontier]
    pause = result.interruption
    return "ok", (
        dict(result.values),
        result.written,
        dict(result.barriers),
        frontier,
        None if pause is None else (pause.id, pause.payload, pause.node),
        result.appended,
    )


@settings(max_examples=400, deadline=None)
@given(
    out=_one_outputs,
    node=st.sampled_from(["A", "B", "C"]),
    local=st.sampled_from([{}, {"item": "v"}]),
    seen=st.sampled_from([frozenset(), frozenset({"B"}), frozenset({"B", "C"})]),
)
def test_commit_one_gives_what_commit_step_gives(
    out: NodeOutput, node: str, local: dict[str, object], seen: frozenset[str]
) -> None:
    barriers = dict.fromkeys(FRESH.join_ids, seen)
    state, tasks, initial = _state(
        FRESH, [Seed(node, local)], values={"log": ["pre"]}, barriers=barriers
    )
    lone = {n: (Seed(n),) for n in FRESH.nodes}
    want = _commit_outcome(lambda: commit_step(FRESH, state, tasks, [out], initial))
    got = _commit_outcome(
        lambda: commit_one(FRESH, state, tasks[0], out, initial, lone)
    )
    assert got == want
    assert state.values["log"] == ["pre"]  # neither touched the committed state
