"""Whatever the commit accepts, a store can save and load back: a value that does not
match its channel's declared type at any depth, or an interrupt payload that does not
match ``interrupt_payload``, fails its step before anything is committed or saved."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hive_core import (
    END,
    ChannelTypeMismatchError,
    ChannelValueTypeError,
    CheckpointPolicy,
    GraphBuilder,
    InterruptPayloadTypeError,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.graph import CompiledGraph
from hive_core.persistence import SQLiteCheckpointStore

EVERY_STEP = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Point(msgspec.Struct, frozen=True):
    x: int
    label: str = ""


class S(Schema):
    tags = channel(list[str], reducer=reducers.append, update="multi")
    counts = channel(dict[str, int])
    points = channel(list[Point])
    maybe = channel(list[int | None])
    either = channel(list[int | str])
    ratio = channel(float)
    n = channel(int)
    note = channel(str)


class Ask(Schema):
    interrupt_payload = str
    resume_payload = str
    answer = channel(str)


def _graph(bad: Callable[[], Write[Any]] | None) -> CompiledGraph:
    """``first`` writes a good tag; ``second`` writes ``bad()`` once ``go`` is set."""

    def first(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.tags, ["ok"])], next=["second"])

    def second(ctx: NodeInput) -> NodeOutput:
        if bad is None or ctx.store.get(S.note) != "go":
            return NodeOutput(writes=[Write(S.tags, ["done"])], next=END)
        return NodeOutput(writes=[bad()], next=END)

    return (
        GraphBuilder(S, start=["first"])
        .add_node("first", first)
        .add_node("second", second)
        .compile()
    )


BAD_WRITES: list[tuple[str, Callable[[], Write[Any]], str, str, str, str]] = [
    ("list-of-int", lambda: Write(S.tags, [1, 2]), "tags", "$[0]", "str", "int"),
    ("dict-value", lambda: Write(S.counts, {"a": "b"}), "counts", "$.a", "int", "str"),
    (
        "nested-struct",
        lambda: Write(S.points, [Point(1), Point("x")]),  # type: ignore[arg-type]
        "points",
        "$[1].x",
        "int",
        "str",
    ),
    (
        "optional",
        lambda: Write(S.maybe, [1, None, "x"]),
        "maybe",
        "$[2]",
        "int | null",
        "str",
    ),
    (
        "union",
        lambda: Write(S.either, [1, "a", 1.5]),
        "either",
        "$[2]",
        "int | str",
        "float",
    ),
    ("bool-for-int", lambda: Write(S.n, True), "n", "$", "int", "bool"),
]


@pytest.mark.parametrize(
    ("write", "cid", "path", "expected", "actual"),
    [case[1:] for case in BAD_WRITES],
    ids=[case[0] for case in BAD_WRITES],
)
def test_a_bad_write_fails_its_step_and_the_thread_stays_usable(
    tmp_path: Path,
    write: Callable[[], Write[Any]],
    cid: str,
    path: str,
    expected: str,
    actual: str,
) -> None:
    db = str(tmp_path / "p.db")
    g = _graph(write)
    with SQLiteCheckpointStore(db) as store:
        rt = Runtime(g, checkpoint_store=store)
        rt.apply_external_writes_sync("t", [Write(S.note, "go")])
        before = rt.get_state_sync("t")
        with pytest.raises(ChannelValueTypeError) as info:
            rt.run_sync("t", None, EVERY_STEP)
        err = info.value
        assert isinstance(err, ChannelTypeMismatchError)  # a mismatch, just deeper
        assert (err.channel_id, err.node, err.step) == (cid, "second", 2)
        assert (err.path, err.expected, err.actual) == (path, expected, actual)
    # a new process: the store loads, and the thread resumes past the bad step
    with SQLiteCheckpointStore(db) as store:
        rt = Runtime(g, checkpoint_store=store)
        snap = rt.get_state_sync("t")
        assert snap is not None and before is not None
        assert snap.store.get(S.tags) == ["ok"]  # step 1 committed; step 2 did not
        assert snap.next_nodes == ("second",)
        rt.apply_external_writes_sync("t", [Write(S.note, "fixed")])
        out = rt.run_sync("t", None, EVERY_STEP)
        assert out.status == "finished"
        final = rt.get_state_sync("t")
        assert final is not None and final.store.get(S.tags) == ["ok", "done"]


def test_external_writes_get_the_same_deep_check(tmp_path: Path) -> None:
    with SQLiteCheckpointStore(str(tmp_path / "p.db")) as store:
        rt = Runtime(_graph(None), checkpoint_store=store)
        with pytest.raises(ChannelValueTypeError) as info:
            rt.apply_external_writes_sync("t", [Write(S.counts, {"a": "b"})])
        assert (info.value.channel_id, info.value.path) == ("counts", "$.a")
        empty = rt.get_state_sync("t")  # nothing was committed or saved
        assert empty is None or (empty.checkpoint_id, empty.step_index) == (None, 0)
        rt.apply_external_writes_sync("t", [Write(S.counts, {"a": 1})])
        snap = rt.get_state_sync("t")
        assert snap is not None and snap.store.get(S.counts) == {"a": 1}


def test_non_finite_floats_are_refused_because_json_cannot_hold_them() -> None:
    rt = Runtime(_graph(lambda: Write(S.ratio, float("nan"))))
    rt.apply_external_writes_sync("t", [Write(S.note, "go")])
    with pytest.raises(ChannelValueTypeError) as info:
        rt.run_sync("t", None)
    assert info.value.path == "$" and "nan" in info.value.actual


def test_good_values_of_every_shape_are_accepted_and_round_trip(
    tmp_path: Path,
) -> None:
    writes: list[Write[Any]] = [
        Write(S.counts, {"a": 1}),
        Write(S.points, [Point(1, "p")]),
        Write(S.maybe, [1, None]),
        Write(S.either, [1, "a"]),
        Write(S.ratio, 2.5),
        Write(S.n, 3),
    ]
    with SQLiteCheckpointStore(str(tmp_path / "p.db")) as store:
        rt = Runtime(_graph(None), checkpoint_store=store)
        rt.apply_external_writes_sync("t", writes)
        warm = rt.get_state_sync("t")
    with SQLiteCheckpointStore(str(tmp_path / "p.db")) as store:
        cold = Runtime(_graph(None), checkpoint_store=store).get_state_sync("t")
    assert warm is not None and cold is not None
    assert cold.store.to_dict() == warm.store.to_dict()


def _asker(payload: object) -> CompiledGraph:
    def ask(ctx: NodeInput) -> NodeOutput:
        if ctx.resume is not None:
            return NodeOutput(writes=[Write(Ask.answer, str(ctx.resume.payload))])
        return NodeOutput(interrupt=payload, next=["ask"])

    return GraphBuilder(Ask, start=["ask"]).add_node("ask", ask).compile()


def test_an_interrupt_payload_of_the_wrong_type_fails_the_step(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    with SQLiteCheckpointStore(db) as store:
        rt = Runtime(_asker({"q": "approve?"}), checkpoint_store=store)
        with pytest.raises(InterruptPayloadTypeError) as info:
            rt.run_sync("t", None, EVERY_STEP)
        err = info.value
        assert (err.node, err.step, err.path) == ("ask", 0, "$")
        assert (err.expected, err.actual) == ("str", "object")
        empty = rt.get_state_sync("t")  # nothing was committed or saved
        assert empty is None or (empty.checkpoint_id, empty.step_index) == (None, 0)
        assert empty is None or empty.interrupt is None
    with SQLiteCheckpointStore(db) as store:
        rt = Runtime(_asker("approve?"), checkpoint_store=store)
        out = rt.run_sync("t", None, EVERY_STEP)
        assert out.status == "interrupted" and out.interrupt is not None
        # the thread loads in a new runtime and resumes
        again = Runtime(_asker("approve?"), checkpoint_store=store)
        snap = again.get_state_sync("t")
        assert snap is not None and snap.interrupt is not None
        done = again.resume_sync("t", out.interrupt.id, "yes", EVERY_STEP)
        assert done.status == "finished"
        final = again.get_state_sync("t")
        assert final is not None and final.store.get(Ask.answer) == "yes"


@pytest.mark.parametrize("module", ["_plan", "_commit", "_values", "_state"])
def test_plan_and_commit_import_no_asyncio_and_no_persistence(module: str) -> None:
    path = Path(__file__).parents[2] / "hive_core" / "runtime" / f"{module}.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            imported.add(base)
            imported.update(f"{base}.{alias.name}" for alias in node.names)
    assert imported, "the scan found the module's imports"
    bad = sorted(
        name
        for name in imported
        if name.split(".")[0] in {"asyncio", "sqlite3", "trio", "anyio"}
        or "persistence" in name
        or "_checkpointing" in name
        or name.endswith("_lazy")
    )
    assert bad == []


class TestCoercingReducers:
    """A ``reducers.coercing`` reducer takes looser writes than its channel stores;
    the commit checks the reduced value instead of each write."""

    def test_loose_writes_pass_and_the_result_is_checked(self, tmp_path: Path) -> None:
        @reducers.coercing
        def split_words(current: list[str], update: object, /) -> list[str]:
            return [*current, *str(update).split()]

        class W(Schema):
            words = channel(list[str], reducer=split_words, update="multi")

        def node(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(W.words, "a b")], next=END)

        graph = GraphBuilder(W, start=["n"]).add_node("n", node).compile()
        store = SQLiteCheckpointStore(tmp_path / "w.db")
        out = Runtime(graph, checkpoint_store=store).run_sync("t", None, EVERY_STEP)
        assert out.output["words"] == ["a", "b"]

    def test_a_bad_reduced_value_fails_the_step(self, tmp_path: Path) -> None:
        @reducers.coercing
        def broken(current: list[str], update: object, /) -> list[str]:
            return [*current, update]  # type: ignore[list-item]

        class B(Schema):
            items = channel(list[str], reducer=broken, update="multi")

        def node(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(B.items, 7)], next=END)

        graph = GraphBuilder(B, start=["n"]).add_node("n", node).compile()
        store = SQLiteCheckpointStore(tmp_path / "b.db")
        with pytest.raises(ChannelValueTypeError) as err:
            Runtime(graph, checkpoint_store=store).run_sync("t", None, EVERY_STEP)
        assert err.value.channel_id == "items"
        assert err.value.path == "$[0]"
        assert Runtime(graph, checkpoint_store=store).get_state_sync("t") is None
