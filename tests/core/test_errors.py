"""Errors as users meet them: each test makes a real mistake through the public API
and checks the error's class, its ``code``, the facts it keeps and that its message
names the culprit (node, channel, step). ``tests/test_docs.py`` checks that every
code has a heading in ``docs/errors.md``.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import pytest

from hive_core import (
    END,
    ChannelTypeMismatchError,
    CheckpointNotFoundError,
    CheckpointPolicy,
    CheckpointStoreMissingError,
    CompilationError,
    CompiledGraph,
    DefinitionError,
    GraphBuilder,
    HiveError,
    InMemoryCheckpointStore,
    InterruptPendingError,
    InvalidRunOptionsError,
    NoCheckpointToResumeError,
    NodeError,
    NodeInput,
    NodeOutput,
    NoInterruptToResumeError,
    ReducerError,
    ResumeInterruptMismatchError,
    ResumePayloadError,
    RouterError,
    RunOptions,
    Runtime,
    Schema,
    ScopeMismatchError,
    TaskLocalWriteNotAllowedError,
    ThreadExistsError,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
    Write,
    WritesWhileInterruptedError,
    channel,
    errors,
    reducers,
)
from hive_core.state import GlobalStore

E = TypeVar("E", bound=HiveError)
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Opaque:
    """A type with no empty value."""


def boom(old: int, new: int) -> int:
    raise OverflowError("too big")


class S(Schema):
    count = channel(int)
    draft = channel(str)
    total = channel(int, reducer=boom)
    log = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local")


class Approval(msgspec.Struct, frozen=True):
    approved: bool


class Asking(Schema):
    answer = channel(str)
    resume_payload = Approval


Fn = Callable[[NodeInput], Any]


def one_node(fn: Fn, *, schema: type[Schema] = S) -> CompiledGraph:
    return GraphBuilder(schema, start=["n"]).add_node("n", fn).compile()


def raised(cls: type[E], call: Callable[[], object]) -> E:
    """Run ``call``, expecting exactly ``cls``; check what every error promises."""
    with pytest.raises(cls) as info:
        call()
    err = info.value
    assert type(err) is cls
    assert err.code == cls.code and KEBAB.match(err.code)
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), vars(copy)) == (cls, str(err), vars(err))
    return err


def ask(ctx: NodeInput) -> NodeOutput:
    if ctx.resume is None:
        return NodeOutput(interrupt="approve?", next=("n",))
    return NodeOutput(writes=[Write(Asking.answer, "done")])


def paused() -> tuple[Runtime, str]:
    rt = Runtime(
        one_node(ask, schema=Asking), checkpoint_store=InMemoryCheckpointStore()
    )
    out = rt.run_sync("t")
    assert out.interrupt is not None
    return rt, out.interrupt.id


class TestTree:
    def test_codes_are_kebab_case_and_unique_across_the_tree(self) -> None:
        seen: dict[str, str] = {}
        pending: list[type[HiveError]] = [HiveError]
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if not cls.__module__.startswith(("hive_core", "hive_dsl")):
                continue
            assert "code" in vars(cls), f"{cls.__name__} declares no code of its own"
            assert KEBAB.match(cls.code), cls.code
            assert seen.setdefault(cls.code, cls.__name__) == cls.__name__, cls.code

    def test_every_core_error_is_exported_from_hive_core(self) -> None:
        import hive_core

        for name in errors.__all__:
            assert getattr(hive_core, name) is getattr(errors, name)


class TestDeclaring:
    def test_a_type_without_empty_value_needs_an_initial_factory(self) -> None:
        err = raised(DefinitionError, lambda: channel(Opaque, id="thing"))
        assert isinstance(err, TypeError)
        assert err.subject == "thing"
        assert str(err).splitlines()[0] == (
            "channel(Opaque) needs an initial value factory"
        )
        assert "Correct:   channel(Opaque, initial=lambda: ...)" in str(err)

    def test_compile_reports_every_problem_naming_each_culprit(self) -> None:
        g = GraphBuilder(S, start=["a", "ghost"]).add_node("a", lambda ctx: None)
        g.add_edge("a", "nowhere")
        err = raised(CompilationError, g.compile)
        assert isinstance(err, ValueError)
        assert err.codes == ("unknown-start-node", "unknown-edge-endpoint")
        assert [p.subject for p in err.problems] == ["ghost", "nowhere"]
        assert "Edge `a` -> `nowhere` names unknown node `nowhere`" in str(err)


class TestRunning:
    def test_out_of_range_option_names_the_option(self) -> None:
        rt = Runtime(one_node(lambda ctx: None))
        err = raised(
            InvalidRunOptionsError,
            lambda: rt.run_sync("t", options=RunOptions(max_steps=-1)),
        )
        assert err.option == "max_steps"
        assert "max_steps" in str(err)

    def test_a_write_to_an_undeclared_channel_names_channel_node_and_step(
        self,
    ) -> None:
        rt = Runtime(one_node(lambda ctx: NodeOutput(writes=[Write("nope", 1)])))
        err = raised(UnknownChannelError, lambda: rt.run_sync("t"))
        assert (err.channel_id, err.node, err.step) == ("nope", "n", 0)
        assert str(err) == (
            "Unknown channel `nope`: the schema declares no such channel"
            " - at node `n`, step 0"
        )

    def test_a_value_of_the_wrong_class_names_expected_and_actual(self) -> None:
        rt = Runtime(one_node(lambda ctx: NodeOutput(writes=[Write(S.count, "3")])))
        err = raised(ChannelTypeMismatchError, lambda: rt.run_sync("t"))
        assert (err.channel_id, err.expected, err.actual) == ("count", "int", "str")
        assert (err.node, err.step) == ("n", 0)
        assert str(err).startswith("Channel `count` expects int, got str")

    def test_two_writers_of_a_single_channel_get_the_fix_after_the_context(
        self,
    ) -> None:
        def writer(text: str) -> Fn:
            return lambda ctx: NodeOutput(writes=[Write(S.draft, text)])

        g = GraphBuilder(S, start=["a", "b"]).add_node("a", writer("x"))
        rt = Runtime(g.add_node("b", writer("y")).compile())
        err = raised(UpdatePolicyViolationError, lambda: rt.run_sync("t"))
        assert (err.channel_id, err.write_count, err.step) == ("draft", 2, 0)
        lines = str(err).splitlines()
        assert lines[0] == (
            "Channel `draft` has update policy `single` but received 2 writes in one "
            "commit"
        )
        assert lines[1] == "- at step 0"  # its own line, never glued onto the Fix
        assert lines[-1].startswith("Fix: declare the channel with update='multi'")

    def test_a_task_local_input_write_is_refused(self) -> None:
        rt = Runtime(one_node(lambda ctx: None))
        err = raised(
            TaskLocalWriteNotAllowedError, lambda: rt.run_sync("t", {S.item: "x"})
        )
        assert err.channel_id == "item"
        assert "Channel `item` is task-local" in str(err)

    def test_reading_a_task_local_channel_as_global_names_it(self) -> None:
        store = GlobalStore(S.spec(), {})
        err = raised(ScopeMismatchError, lambda: store.get(S.item))
        assert (err.channel_id, err.expected, err.actual) == (
            "item",
            "global",
            "task-local",
        )

    def test_scheduling_an_unknown_node_names_it_and_the_step(self) -> None:
        rt = Runtime(one_node(lambda ctx: NodeOutput(next=("ghost",))))
        err = raised(UnknownNodeError, lambda: rt.run_sync("t"))
        assert (err.node_id, err.step) == ("ghost", 0)
        assert str(err) == "Unknown node `ghost` was scheduled - at step 0"

    def test_a_failing_node_names_node_step_task_and_attempts(self) -> None:
        def fails(ctx: NodeInput) -> None:
            raise ValueError("cannot parse")

        rt = Runtime(one_node(fails))
        err = raised(NodeError, lambda: rt.run_sync("t"))
        assert (err.node_id, err.step, err.attempts) == ("n", 0, 1)
        assert isinstance(err.__cause__, ValueError)
        assert str(err) == (
            "Node `n` raised ValueError: cannot parse"
            f" - at step 0, task {err.task_id[:12]}, after 1 attempt"
        )

    def test_a_cause_with_a_fix_line_keeps_the_context_off_it(self) -> None:
        def fails(ctx: NodeInput) -> None:
            raise RuntimeError("quota exceeded\n\nFix: raise the quota.")

        err = raised(NodeError, lambda: Runtime(one_node(fails)).run_sync("t"))
        assert str(err).splitlines() == [
            "Node `n` raised RuntimeError: quota exceeded",
            f"- at step 0, task {err.task_id[:12]}, after 1 attempt",
            "",
            "Fix: raise the quota.",
        ]

    def test_a_failing_reducer_names_the_channel_and_step(self) -> None:
        rt = Runtime(one_node(lambda ctx: NodeOutput(writes=[Write(S.total, 1)])))
        err = raised(ReducerError, lambda: rt.run_sync("t"))
        assert (err.channel_id, err.step) == ("total", 0)
        assert isinstance(err.__cause__, OverflowError)
        assert str(err).startswith("Reducer of channel `total` raised OverflowError")

    def test_a_router_returning_nonsense_names_its_node(self) -> None:
        g = GraphBuilder(S, start=["n"]).add_node("n", lambda ctx: None)
        rt = Runtime(g.add_router("n", lambda view: 42).compile())  # type: ignore[arg-type, return-value]
        err = raised(RouterError, lambda: rt.run_sync("t"))
        assert (err.node_id, err.step) == ("n", 0)
        assert str(err).startswith("Router after node `n` failed")


class TestCheckpointsAndResume:
    def test_an_interrupt_without_a_store(self) -> None:
        rt = Runtime(one_node(ask, schema=Asking))
        err = raised(CheckpointStoreMissingError, lambda: rt.run_sync("t"))
        assert err.operation == "An interrupt"
        assert "Fix: Runtime(graph, checkpoint_store=" in str(err)

    def test_a_policy_without_a_store(self) -> None:
        rt = Runtime(one_node(lambda ctx: None))
        options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
        err = raised(
            CheckpointStoreMissingError, lambda: rt.run_sync("t", options=options)
        )
        assert err.operation == "A checkpoint policy"

    def test_resuming_a_thread_that_never_ran(self) -> None:
        rt, interrupt_id = paused()
        err = raised(
            NoCheckpointToResumeError,
            lambda: rt.resume_sync("other", interrupt_id, {"approved": True}),
        )
        assert err.thread_id == "other"
        assert "`other`" in str(err)

    def test_resuming_with_another_interrupt_id(self) -> None:
        rt, interrupt_id = paused()
        err = raised(
            ResumeInterruptMismatchError,
            lambda: rt.resume_sync("t", "f" * 64, {"approved": True}),
        )
        assert (err.expected, err.found) == (interrupt_id, "f" * 64)

    def test_a_resume_payload_of_the_wrong_shape(self) -> None:
        rt, interrupt_id = paused()
        err = raised(
            ResumePayloadError,
            lambda: rt.resume_sync("t", interrupt_id, {"approved": "maybe"}),
        )
        assert err.expected == "Approval"
        assert "Approval" in str(err)

    def test_running_over_a_pending_interrupt(self) -> None:
        rt, interrupt_id = paused()
        err = raised(InterruptPendingError, lambda: rt.run_sync("t"))
        assert (err.thread_id, err.interrupt_id) == ("t", interrupt_id)

    def test_writing_to_a_paused_thread_names_both_routes(self) -> None:
        rt, interrupt_id = paused()
        before = rt.get_state_sync("t")
        err = raised(
            WritesWhileInterruptedError,
            lambda: rt.apply_external_writes_sync("t", [Write(Asking.answer, "x")]),
        )
        assert isinstance(err, InterruptPendingError)  # old handlers still catch it
        assert (err.thread_id, err.interrupt_id) == ("t", interrupt_id)
        fix = str(err).split("Fix:", 1)[1]
        assert "runtime.resume(thread_id, interrupt_id, edited_answer)" in fix
        assert "runtime.fork(" in fix and "apply_external_writes(new_thread" in fix
        after = rt.get_state_sync("t")
        assert before is not None and after is not None
        assert (after.store.to_dict(), after.step_index) == (
            before.store.to_dict(),
            before.step_index,
        )

    def test_resuming_a_finished_thread(self) -> None:
        rt, interrupt_id = paused()
        rt.resume_sync("t", interrupt_id, {"approved": True})
        err = raised(
            NoInterruptToResumeError,
            lambda: rt.resume_sync("t", interrupt_id, {"approved": True}),
        )
        assert err.thread_id == "t"

    def test_forking_onto_an_existing_thread_or_from_a_missing_checkpoint(
        self,
    ) -> None:
        rt, _ = paused()
        snapshot = rt.get_state_sync("t")
        assert snapshot is not None and snapshot.checkpoint_id is not None
        err = raised(
            ThreadExistsError,
            lambda: rt.fork_sync("t", str(snapshot.checkpoint_id), into="t"),
        )
        assert "`t`" in str(err)
        missing = raised(
            CheckpointNotFoundError, lambda: rt.fork_sync("t", "0" * 64, into="u")
        )
        assert missing.checkpoint_id == "0" * 64


def test_a_node_returning_a_routing_sentinel_instead_of_output_names_it() -> None:
    rt = Runtime(one_node(lambda ctx: END))
    err = raised(NodeError, lambda: rt.run_sync("t"))
    assert err.node_id == "n"
    assert str(err).startswith(
        "Node `n` raised TypeError: node returned Next; expected NodeOutput or None"
    )
