"""Time travel with values: runtime-wide default run options, the default
checkpoint policy with a store (every step), history entries with their values and
next nodes, and ``fork(..., writes=[...])`` in one call (memory and SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from hive_core import (
    END,
    ChannelValueTypeError,
    CheckpointNotFoundError,
    CheckpointPolicy,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    TaskLocalWriteNotAllowedError,
    ThreadExistsError,
    UnknownChannelError,
    Write,
    WritesArgumentError,
    channel,
    reducers,
)
from hive_core.graph import CompiledGraph
from hive_core.persistence import CheckpointStore, SQLiteCheckpointStore


class Note(msgspec.Struct, frozen=True):
    text: str


class Flow(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    note = channel(Note, initial=lambda: Note(""))
    draft = channel(str)
    item = channel(str, scope="task_local")
    interrupt_payload = str
    resume_payload = str


def _step(name: str, nxt: list[str] | None) -> object:
    def fn(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            writes=[Write(Flow.log, [name]), Write(Flow.note, Note(name))],
            next=nxt if nxt is not None else END,
        )

    return fn


def _three_steps() -> CompiledGraph:
    return (
        GraphBuilder(Flow, start=["a"])
        .add_node("a", _step("a", ["b"]))  # type: ignore[arg-type]
        .add_node("b", _step("b", ["c"]))  # type: ignore[arg-type]
        .add_node("c", _step("c", None))  # type: ignore[arg-type]
        .compile()
    )


def _approval() -> CompiledGraph:
    def write_draft(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Flow.draft, "v1")], next=["review"])

    def review(ctx: NodeInput) -> NodeOutput:
        if ctx.resume is None:
            return NodeOutput(interrupt="approve?", next=["review"])
        verdict = f"{ctx.resume.payload}: {ctx.store.get(Flow.draft)}"
        return NodeOutput(writes=[Write(Flow.log, [verdict])], next=END)

    return (
        GraphBuilder(Flow, start=["draft"])
        .add_node("draft", write_draft)
        .add_node("review", review)
        .compile()
    )


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CheckpointStore]:
    if request.param == "memory":
        yield InMemoryCheckpointStore()
        return
    with SQLiteCheckpointStore(str(tmp_path / "t.db")) as sqlite:
        yield sqlite


class TestDefaultOptions:
    def test_runtime_options_apply_when_a_call_passes_none(self) -> None:
        rt = Runtime(_three_steps(), options=RunOptions(max_steps=1))
        out = rt.run_sync("t")
        assert out.status == "out_of_steps" and out.max_steps == 1
        assert rt.options.max_steps == 1

    def test_a_calls_options_replace_the_runtimes(self) -> None:
        rt = Runtime(_three_steps(), options=RunOptions(max_steps=1))
        assert rt.run_sync("t", None, RunOptions(max_steps=10)).is_finished

    def test_with_a_store_every_step_is_saved_by_default(
        self, store: CheckpointStore
    ) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=store)
        assert rt.run_sync("t").is_finished
        steps = [c.step_index for c in rt.get_checkpoint_history_sync("t")]
        assert steps == [3, 2, 1]

    def test_options_without_a_policy_get_the_default_too(self) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(_three_steps(), checkpoint_store=store)
        rt.run_sync("t", None, RunOptions(max_steps=2))
        assert [c.step_index for c in rt.get_checkpoint_history_sync("t")] == [2, 1]

    def test_an_explicit_policy_wins(self) -> None:
        at_interrupts = RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt())
        rt = Runtime(
            _three_steps(),
            checkpoint_store=InMemoryCheckpointStore(),
            options=at_interrupts,
        )
        assert rt.run_sync("t").is_finished
        assert rt.get_checkpoint_history_sync("t") == []

    def test_without_a_store_the_default_saves_nothing_and_needs_none(self) -> None:
        assert Runtime(_three_steps()).run_sync("t").is_finished


class TestHistoryWithValues:
    def test_each_entry_has_its_values_next_nodes_and_id(
        self, store: CheckpointStore
    ) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=store)
        rt.run_sync("t")
        history = rt.get_state_history_sync("t")
        ids = [c.id for c in rt.get_checkpoint_history_sync("t")]
        assert [h.checkpoint_id for h in history] == ids
        assert [(h.step_index, h.next_nodes) for h in history] == [
            (3, ()),
            (2, ("c",)),
            (1, ("b",)),
        ]
        assert [h.store.get(Flow.log) for h in history] == [
            ["a", "b", "c"],
            ["a", "b"],
            ["a"],
        ]
        # decoded through the channel's codec: the struct comes back as a struct
        assert [h.store.get(Flow.note) for h in history] == [
            Note("c"),
            Note("b"),
            Note("a"),
        ]
        assert all(h.thread_id == "t" and h.interrupt is None for h in history)

    def test_a_limit_and_the_async_form(self, store: CheckpointStore) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=store)
        rt.run_sync("t")
        newest = asyncio.run(rt.get_state_history("t", limit=1))
        assert [h.step_index for h in newest] == [3]
        assert rt.get_state_history_sync("nobody") == []

    def test_a_pending_interrupt_is_in_its_entry(self, store: CheckpointStore) -> None:
        rt = Runtime(_approval(), checkpoint_store=store)
        out = rt.run_sync("t")
        latest = rt.get_state_history_sync("t")[0]
        assert latest.interrupt is not None and out.interrupt is not None
        assert latest.interrupt.id == out.interrupt.id
        assert latest.next_nodes == ("review",)


class TestForkWithWrites:
    def test_fork_and_write_in_one_call(self, store: CheckpointStore) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=store)
        rt.run_sync("t")
        after_a = rt.get_state_history_sync("t")[-1]
        assert after_a.checkpoint_id is not None
        summary = rt.fork_sync(
            "t",
            after_a.checkpoint_id,
            into="alt",
            writes=[Write(Flow.log, ["edited"]), Write(Flow.note, Note("edited"))],
        )
        assert (summary.thread_id, summary.step_index) == ("alt", 1)
        # a fresh runtime reads the fork from the store: the writes went through
        # the channels' reducers (append) and were saved with the fork
        cold = Runtime(_three_steps(), checkpoint_store=store)
        forked = cold.get_state_sync("alt")
        assert forked is not None and forked.checkpoint_id == summary.id
        assert forked.store.get(Flow.log) == ["a", "edited"]
        assert forked.store.get(Flow.note) == Note("edited")
        assert forked.next_nodes == ("b",)
        out = cold.run_sync("alt")
        assert out.get(Flow.log) == ["a", "edited", "b", "c"]
        source = cold.get_state_sync("t")
        assert source is not None and source.store.get(Flow.log) == ["a", "b", "c"]

    def test_edit_a_paused_draft_then_approve(self, store: CheckpointStore) -> None:
        rt = Runtime(_approval(), checkpoint_store=store)
        paused = rt.run_sync("t")
        assert paused.is_interrupted and paused.checkpoint_id is not None
        assert paused.interrupt is not None
        rt.fork_sync(
            "t", paused.checkpoint_id, into="t-edited", writes=[Write(Flow.draft, "v2")]
        )
        done = Runtime(_approval(), checkpoint_store=store).resume_sync(
            "t-edited", paused.interrupt.id, "approved"
        )
        assert done.get(Flow.log) == ["approved: v2"]

    @pytest.mark.parametrize(
        ("writes", "error"),
        [
            ([Write(Flow.log, [1])], ChannelValueTypeError),  # type: ignore[misc]
            ([Write("nope", 1)], UnknownChannelError),
            ([Write(Flow.item, "x")], TaskLocalWriteNotAllowedError),
            (Write(Flow.draft, "x"), WritesArgumentError),
        ],
    )
    def test_a_bad_write_raises_and_saves_nothing(
        self, store: CheckpointStore, writes: object, error: type[Exception]
    ) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=store)
        rt.run_sync("t")
        cp = rt.get_checkpoint_history_sync("t")[-1].id
        with pytest.raises(error):
            rt.fork_sync("t", cp, into="alt", writes=writes)  # type: ignore[arg-type]
        assert rt.get_checkpoint_history_sync("alt") == []
        assert rt.get_state_sync("alt") is None
        rt.fork_sync("t", cp, into="alt")  # the target is still free

    def test_fork_errors_are_typed(self) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=InMemoryCheckpointStore())
        rt.run_sync("t")
        cp = rt.get_checkpoint_history_sync("t")[0].id
        with pytest.raises(ThreadExistsError):
            rt.fork_sync("t", cp, into="t", writes=[Write(Flow.draft, "x")])
        with pytest.raises(CheckpointNotFoundError):
            rt.fork_sync("t", "0" * 64, into="alt", writes=[Write(Flow.draft, "x")])

    def test_the_async_form(self) -> None:
        rt = Runtime(_three_steps(), checkpoint_store=InMemoryCheckpointStore())
        rt.run_sync("t")
        cp = rt.get_checkpoint_history_sync("t")[0].id
        summary = asyncio.run(
            rt.fork("t", cp, into="alt", writes=[Write(Flow.draft, "async")])
        )
        state = rt.get_state_sync("alt")
        assert state is not None and state.checkpoint_id == summary.id
        assert state.store.get(Flow.draft) == "async"
