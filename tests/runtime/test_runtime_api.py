"""The Runtime's surface: option validation before the sink, one error in one place,
sync twins through the one bridge, and one name per checkpoint policy."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from hive_core import (
    CheckpointPolicy,
    CheckpointStoreMissingError,
    GraphBuilder,
    InMemoryCheckpointStore,
    InvalidRunOptionsError,
    NodeError,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import Event, RunStarted


class K(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def _ok(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(K.log, ["ok"])])


def _boom(ctx: NodeInput) -> NodeOutput:
    raise ValueError("boom")


def _graph(fn: Any = _ok) -> Any:
    return GraphBuilder(K, start=["A"]).add_node("A", fn).compile()


class TestInvalidOptionsWithAListener:
    @pytest.mark.parametrize("capacity", [0, -3])
    def test_run_started_then_the_error(self, capacity: int) -> None:
        rt = Runtime(_graph())
        handle = rt.run("t", None, RunOptions(event_buffer_capacity=capacity))

        async def listen() -> list[Event]:
            seen: list[Event] = []
            with pytest.raises(InvalidRunOptionsError) as info:
                async for ev in handle.events:
                    seen.append(ev)
            assert info.value.option == "event_buffer_capacity"
            return seen

        # a guard against the old hang, not an ordering device
        seen = asyncio.run(asyncio.wait_for(listen(), timeout=10))
        assert [type(e) for e in seen] == [RunStarted]

    def test_validate_is_the_options_own(self) -> None:
        schema = _graph().schema
        with pytest.raises(InvalidRunOptionsError) as info:
            RunOptions(max_concurrent_tasks=0).validate(schema, None)
        assert info.value.option == "max_concurrent_tasks"
        got = RunOptions(output_projection=["log", K.log]).validate(schema, None)
        assert got == ("log",)


class TestOneErrorOnePlace:
    def test_listener_gets_the_error_and_nothing_is_left_unretrieved(self) -> None:
        rt = Runtime(_graph(_boom))
        reported: list[dict[str, Any]] = []

        async def main() -> tuple[BaseException, BaseException]:
            asyncio.get_running_loop().set_exception_handler(
                lambda _loop, ctx: reported.append(ctx)
            )
            handle = rt.run("t")
            with pytest.raises(NodeError) as streamed:
                async for _ in handle.events:
                    pass
            with pytest.raises(NodeError) as awaited:
                await handle
            return streamed.value, awaited.value

        streamed, awaited = asyncio.run(main())
        assert streamed is awaited  # the same error, not a second one

        async def listen_only() -> None:
            asyncio.get_running_loop().set_exception_handler(
                lambda _loop, ctx: reported.append(ctx)
            )
            handle = rt.run("u")
            with pytest.raises(NodeError):
                async for _ in handle.events:
                    pass
            del handle
            gc.collect()

        asyncio.run(listen_only())
        gc.collect()
        assert reported == []  # no "Task exception was never retrieved"


class TestSyncTwins:
    def test_history_has_a_sync_twin(self) -> None:
        rt = Runtime(_graph(), checkpoint_store=InMemoryCheckpointStore())
        rt.run_sync("t", None, RunOptions(checkpoint_policy=CheckpointPolicy.every(1)))
        history = rt.get_checkpoint_history_sync("t")
        assert history == asyncio.run(rt.get_checkpoint_history("t"))
        assert [h.step_index for h in history] == [1]

    @pytest.mark.parametrize(
        ("call", "twin"),
        [
            (lambda rt: rt.run_sync("t"), "invoke"),
            (lambda rt: rt.get_state_sync("t"), "get_state"),
            (lambda rt: rt.get_checkpoint_history_sync("t"), "get_checkpoint_history"),
            (lambda rt: rt.resume_sync("t", "i", None), "resume"),
            (
                lambda rt: rt.apply_external_writes_sync("t", []),
                "apply_external_writes",
            ),
            (lambda rt: rt.fork_sync("t", "c", into="u"), "fork"),
        ],
    )
    def test_refused_inside_a_running_loop(self, call: Any, twin: str) -> None:
        rt = Runtime(_graph(), checkpoint_store=InMemoryCheckpointStore())

        async def main() -> None:
            with pytest.raises(RuntimeError, match=f"await runtime.{twin}"):
                call(rt)

        asyncio.run(main())

    def test_private_internals_are_private(self) -> None:
        rt = Runtime(_graph())
        for name in ("publish", "fresh_state", "acquire", "release", "baseline"):
            assert not hasattr(rt, name)


class TestOneNamePerPolicy:
    def test_the_two_policies(self) -> None:
        assert not hasattr(CheckpointPolicy, "disabled")
        assert not hasattr(CheckpointPolicy, "every_step")
        assert CheckpointPolicy() == CheckpointPolicy.on_interrupt()

    def test_on_interrupt_runs_without_a_store_every_needs_one(self) -> None:
        rt = Runtime(_graph())
        opts = RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt())
        assert rt.run_sync("t", None, opts).output["log"] == ["ok"]
        with pytest.raises(CheckpointStoreMissingError):
            rt.run_sync(
                "u", None, RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
            )


class TestOptionsCheckedOncePerObject:
    """``Attempt.start`` validates an options object once when nothing in it can
    change (its sequences are tuples), and every time otherwise."""

    def _count(self, monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
        seen: list[RunOptions] = []
        validate = RunOptions.validate

        def counted(self: RunOptions, *args: Any) -> Any:
            seen.append(self)
            return validate(self, *args)

        monkeypatch.setattr(RunOptions, "validate", counted)
        return seen

    def test_tuples_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        seen = self._count(monkeypatch)
        rt = Runtime(_graph())
        options = RunOptions(max_steps=5, output_projection=(K.log,))
        for i in range(3):
            assert rt.run_sync(f"t{i}", None, options).output == {"log": ["ok"]}
        rt.run_sync("d")  # the runtime's default options: another object
        assert seen == [options, rt.options]

    def test_a_list_every_time_and_a_changed_list_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen = self._count(monkeypatch)
        rt = Runtime(_graph())
        projection: list[Any] = [K.log]
        options = RunOptions(output_projection=projection)
        assert rt.run_sync("a", None, options).output == {"log": ["ok"]}
        projection.append("nope")
        with pytest.raises(InvalidRunOptionsError, match="nope"):
            rt.run_sync("b", None, options)
        assert rt.get_state_sync("b") is None
        assert seen == [options, options]

    def test_a_bad_one_is_refused_every_time(self) -> None:
        rt = Runtime(_graph())
        options = RunOptions(max_concurrent_tasks=0)
        for i in range(2):
            with pytest.raises(InvalidRunOptionsError):
                rt.run_sync(f"t{i}", None, options)
