"""What every Runtime entry point refuses up front, and how errors raised inside a
node reach the caller: thread ids validated at each entry point (sync and async),
malformed ``NodeOutput`` fields typed at construction, and a ``HiveError`` from
Hive's own API inside a node catchable as its own class and as ``NodeError``."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from hive_core import (
    END,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeError,
    NodeInput,
    NodeOutput,
    NodeOutputError,
    Runtime,
    Schema,
    Spawn,
    UnknownChannelError,
    Write,
    WritesArgumentError,
    channel,
)
from hive_core.graph import CompiledGraph
from hive_core.persistence import InvalidThreadIdError


class S(Schema):
    n = channel(int)
    interrupt_payload = str
    resume_payload = str


def _graph(fn: Callable[[NodeInput], NodeOutput]) -> CompiledGraph:
    return GraphBuilder(S, start=["a"]).add_node("a", fn).compile()


def _count(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(S.n, ctx.store.get(S.n) + 1)], next=END)


BAD_IDS: list[tuple[object, str]] = [
    (None, "expected a str, got NoneType"),
    (7, "expected a str, got int"),
    ("", "it is empty"),
    ("a\udc80", "it is not valid UTF-8"),
    ("x" * 513, "it is 513 UTF-8 bytes long, more than 512"),
]


def _runtime() -> Runtime:
    rt = Runtime(_graph(_count), checkpoint_store=InMemoryCheckpointStore())
    rt.run_sync("good")
    return rt


def _await(coro: Coroutine[Any, Any, object]) -> object:
    return asyncio.run(coro)


async def _drain_steps(rt: Runtime, tid: Any) -> None:
    async for _ in rt.steps(tid):
        pass


def _history(rt: Runtime, thread_id: str) -> list[tuple[object, ...]]:
    return [
        (s.checkpoint_id, s.step_index, s.store.to_dict())
        for s in rt.get_state_history_sync(thread_id)
    ]


def _cp(rt: Runtime) -> str:
    state = rt.get_state_sync("good")
    assert state is not None and state.checkpoint_id is not None
    return state.checkpoint_id


ENTRY_POINTS: dict[str, Callable[[Runtime, Any], object]] = {
    "run": lambda rt, t: rt.run(t),
    "invoke": lambda rt, t: _await(rt.invoke(t)),
    "run_sync": lambda rt, t: rt.run_sync(t),
    "steps": lambda rt, t: _await(_drain_steps(rt, t)),
    "resume": lambda rt, t: rt.resume(t, "i", "yes"),
    "resume_sync": lambda rt, t: rt.resume_sync(t, "i", "yes"),
    "apply_external_writes": lambda rt, t: rt.apply_external_writes(t, [Write(S.n, 1)]),
    "apply_external_writes_sync": lambda rt, t: rt.apply_external_writes_sync(
        t, [Write(S.n, 1)]
    ),
    "get_state": lambda rt, t: _await(rt.get_state(t)),
    "get_state_sync": lambda rt, t: rt.get_state_sync(t),
    "get_latest_store": lambda rt, t: rt.get_latest_store(t),
    "get_checkpoint_history": lambda rt, t: _await(rt.get_checkpoint_history(t)),
    "get_checkpoint_history_sync": lambda rt, t: rt.get_checkpoint_history_sync(t),
    "get_state_history": lambda rt, t: _await(rt.get_state_history(t)),
    "get_state_history_sync": lambda rt, t: rt.get_state_history_sync(t),
    "fork source": lambda rt, t: _await(rt.fork(t, _cp(rt), into="new")),
    "fork_sync source": lambda rt, t: rt.fork_sync(t, _cp(rt), into="new"),
    "fork target": lambda rt, t: _await(rt.fork("good", _cp(rt), into=t)),
    "fork_sync target": lambda rt, t: rt.fork_sync("good", _cp(rt), into=t),
    "fork checkpoint id": lambda rt, t: rt.fork_sync("good", t, into="new"),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(("bad", "reason"), BAD_IDS, ids=lambda v: repr(v)[:12])
def test_every_entry_point_refuses_a_bad_thread_id_and_changes_nothing(
    entry: str, bad: object, reason: str
) -> None:
    rt = _runtime()
    before = _history(rt, "good")
    with pytest.raises(InvalidThreadIdError) as info:
        ENTRY_POINTS[entry](rt, bad)
    assert info.value.code == "invalid-thread-id"
    assert reason in info.value.reason
    expected_what = {
        "fork target": "fork target",
        "fork_sync target": "fork target",
        "fork checkpoint id": "checkpoint id",
    }.get(entry, "thread id")
    assert info.value.what == expected_what
    assert _history(rt, "good") == before
    assert rt.get_checkpoint_history_sync("new") == []


class TestNodeOutputShapes:
    @pytest.mark.parametrize(
        ("kwargs", "field", "expected", "actual"),
        [
            ({"writes": Write(S.n, 1)}, "writes", "a list of Write", "a single Write"),
            ({"writes": [Write(S.n, 1), 3]}, "writes[1]", "Write", "int 3"),
            ({"writes": {"n": 1}}, "writes", "a list of Write", "dict {'n': 1}"),
            ({"spawn": Spawn("a")}, "spawn", "a list of Spawn", "a single Spawn"),
            ({"spawn": ["a"]}, "spawn[0]", "Spawn", "str 'a'"),
            (
                {"next": "a"},
                "next",
                "END, GRAPH_EDGES or a list of node ids",
                "the str 'a'",
            ),
            ({"next": ["a", 2]}, "next[1]", "a node id (str)", "int 2"),
            ({"next": 3}, "next", "END, GRAPH_EDGES or a list of node ids", "int 3"),
        ],
    )
    def test_a_malformed_field_is_refused_at_construction(
        self, kwargs: dict[str, Any], field: str, expected: str, actual: str
    ) -> None:
        with pytest.raises(NodeOutputError) as info:
            NodeOutput(**kwargs)
        err = info.value
        assert (err.field, err.expected, err.actual) == (field, expected, actual)
        assert err.code == "node-output-invalid"
        assert isinstance(err, TypeError)
        assert "\n\nFix: " in str(err)

    def test_well_formed_outputs_still_build(self) -> None:
        out = NodeOutput(
            writes=(Write(S.n, 1),), spawn=[Spawn("a")], next=("a",), interrupt="x"
        )
        assert out.next == ("a",) and len(out.writes) == 1

    def test_inside_a_node_it_names_the_node_and_step(self) -> None:
        def bad(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(writes=Write(S.n, 1))  # type: ignore[arg-type]

        rt = Runtime(_graph(bad))
        with pytest.raises(NodeOutputError) as info:
            rt.run_sync("t")
        assert isinstance(info.value, NodeError)
        assert (info.value.node_id, info.value.step, info.value.field) == (
            "a",
            0,
            "writes",
        )
        assert rt.get_state_sync("t") is None


class TestHiveErrorsInsideNodes:
    def _reads_a_typo(self) -> CompiledGraph:
        def typo(ctx: NodeInput) -> NodeOutput:
            ctx.store.get("nn")
            return NodeOutput(next=END)

        return _graph(typo)

    def test_an_unknown_channel_read_is_both_its_class_and_a_node_error(
        self,
    ) -> None:
        with pytest.raises(UnknownChannelError) as info:
            Runtime(self._reads_a_typo()).run_sync("t")
        # Any, and classes checked by the MRO: mypy cannot see one class that
        # derives from both UnknownChannelError and NodeError
        err: Any = info.value
        assert NodeError in type(err).__mro__
        assert LookupError in type(err).__mro__  # the original's builtin base too
        assert err.code == "unknown-channel"
        assert (err.channel_id, err.node_id, err.step, err.attempts) == (
            "nn",
            "a",
            0,
            1,
        )
        assert isinstance(err.__cause__, UnknownChannelError)
        assert NodeError not in type(err.__cause__).__mro__
        assert str(err).startswith("Node `a` raised UnknownChannelError: Unknown")

    def test_caught_as_node_error_in_async_code_too(self) -> None:
        async def go() -> NodeError:
            try:
                await Runtime(self._reads_a_typo()).invoke("t")
            except NodeError as exc:
                return exc
            raise AssertionError("no error")

        err = asyncio.run(go())
        assert UnknownChannelError in type(err).__mro__

    def test_it_pickles_with_both_classes(self) -> None:
        with pytest.raises(UnknownChannelError) as info:
            Runtime(self._reads_a_typo()).run_sync("t")
        back = pickle.loads(pickle.dumps(info.value))
        assert {UnknownChannelError, NodeError} <= set(type(back).__mro__)
        assert (back.channel_id, back.node_id, str(back)) == (
            "nn",
            "a",
            str(info.value),
        )

    def test_other_exceptions_stay_plain_node_errors(self) -> None:
        def boom(ctx: NodeInput) -> NodeOutput:
            raise KeyError("k")

        with pytest.raises(NodeError) as info:
            Runtime(_graph(boom)).run_sync("t")
        assert type(info.value) is NodeError
        assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize(
    ("writes", "actual"),
    [(Write(S.n, 1), "a single Write"), ({"n": 1}, "dict"), ([1], "int")],
)
def test_external_writes_must_be_a_list_of_writes(writes: Any, actual: str) -> None:
    rt = _runtime()
    before = _history(rt, "good")
    for call in (rt.apply_external_writes, rt.apply_external_writes_sync):
        with pytest.raises(WritesArgumentError) as info:
            call("good", writes)
        assert info.value.actual == actual
    assert _history(rt, "good") == before
