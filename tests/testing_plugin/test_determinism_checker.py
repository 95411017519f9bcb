"""``check_determinism`` / ``hive_determinism``: shuffled reruns catch nodes whose
writes depend on timing, and pass graphs whose writes do not."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import threading
from collections.abc import Callable

import pytest

from hive_core import (
    CompiledGraph,
    Environment,
    GraphBuilder,
    NodeError,
    NodeInput,
    NodeOutput,
    NoInterruptToResumeError,
    RetryPolicy,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)
from hive_core.testing import (
    NondeterminismError,
    ScriptedService,
    Trace,
    Tracer,
    UnexpectedCallError,
    check_determinism,
    check_determinism_async,
)
from hive_core.testing._determinism import shuffled_graph


class Fan(Schema):
    item = channel(str, scope="task_local")
    results = channel(list[str], reducer=reducers.append, update="multi")
    total = channel(int)


def fan_graph(work: Callable[[NodeInput], object], **options: object) -> CompiledGraph:
    """`fan` spawns six `work` tasks; `tally` runs after them."""

    def fan(node: NodeInput) -> NodeOutput:
        return NodeOutput(spawn=[Spawn("work", {Fan.item: i}) for i in "abcdef"])

    def tally(node: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Fan.total, len(node.store.get(Fan.results)))])

    return (
        GraphBuilder(Fan, start=["fan"])
        .add_node("fan", fan)
        .add_node("work", work, **options)  # type: ignore[arg-type]
        .add_node("tally", tally)
        .add_edge("work", "tally")
        .compile()
    )


async def careful(node: NodeInput) -> NodeOutput:
    """Depends only on what the task reads."""
    await asyncio.sleep(0)
    item = node.store.get(Fan.item)
    return NodeOutput(writes=[Write(Fan.results, [item.upper()])])


class TestCatchesNondeterminism:
    def test_a_write_that_depends_on_completion_order(self) -> None:
        arrivals: list[str] = []

        async def racy(node: NodeInput) -> NodeOutput:
            if node.store.get(Fan.item) == "a":
                arrivals.clear()
            await asyncio.sleep(0)
            arrivals.append(node.store.get(Fan.item))
            return NodeOutput(writes=[Write(Fan.results, [str(len(arrivals))])])

        with pytest.raises(NondeterminismError) as info:
            check_determinism(fan_graph(racy), seed=3)
        err = info.value
        assert (err.seed, err.runs) == (3, 5)
        assert err.diff is not None
        assert (err.diff.step, err.diff.kind, err.diff.channel) == (
            1,
            "write_applied",
            "results",
        )
        assert err.diff.field == "payload_hash"
        message = str(err)
        assert message.startswith(
            f"the graph is not deterministic: shuffled run {err.run} of 5 (seed=3) "
            "differs from the reference run\nfirst divergence at event "
        )
        assert "the final store differs too, first at channel `results`" in message
        assert message.endswith("reproduce with seed=3 (under pytest: --hive-seed=3)")

    def test_a_node_that_reads_a_global_counter(self) -> None:
        counter = itertools.count()

        def numbered(node: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Fan.results, [str(next(counter))])])

        with pytest.raises(NondeterminismError) as info:
            check_determinism(fan_graph(numbered), runs=1, seed=0)
        assert info.value.run == 1

    def test_a_random_seed_is_drawn_and_reported(self) -> None:
        def noisy(node: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Fan.results, [str(random.random())])])

        with pytest.raises(NondeterminismError) as info:
            check_determinism(fan_graph(noisy), runs=1)
        seed = info.value.seed
        assert f"(seed={seed})" in str(info.value)

    def test_a_run_that_fails_only_when_shuffled_is_reported_with_its_error(
        self,
    ) -> None:
        shared = ScriptedService(search=["r"] * 6)  # one run's worth of answers

        async def search(node: NodeInput) -> NodeOutput:
            svc = node.environment.extras["search"]
            assert isinstance(svc, ScriptedService)
            return NodeOutput(writes=[Write(Fan.results, [await svc.search()])])

        env = Environment(extras={"search": shared})
        with pytest.raises(NondeterminismError) as info:
            check_determinism(fan_graph(search), runs=1, seed=1, environment=env)
        assert isinstance(info.value.error, NodeError)
        assert isinstance(info.value.error.__cause__, UnexpectedCallError)
        # a HiveError from inside a node keeps its class (and is a NodeError too)
        assert isinstance(info.value.error, UnexpectedCallError)
        assert "shuffled run 1 raised UnexpectedCallError: Node `work` raised" in str(
            info.value
        )


class TestPassesDeterministicGraphs:
    def test_returns_the_reference_trace(self, hive_trace: Tracer) -> None:
        graph = fan_graph(careful)
        trace = check_determinism(graph, seed=5)
        assert trace == hive_trace(graph)
        assert trace.store["results"] == ["A", "B", "C", "D", "E", "F"]
        assert trace.store["total"] == 6

    def test_fresh_services_from_a_factory(self) -> None:
        async def search(node: NodeInput) -> NodeOutput:
            svc = node.environment.extras["search"]
            assert isinstance(svc, ScriptedService)
            return NodeOutput(writes=[Write(Fan.results, [await svc.search()])])

        def fresh() -> Environment:
            return Environment(extras={"search": ScriptedService(search=["r"] * 6)})

        trace = check_determinism(fan_graph(search), seed=2, environment=fresh)
        assert trace.store["results"] == ["r"] * 6

    def test_blocking_and_retrying_nodes_keep_their_behaviour(self) -> None:
        failed_once: set[str] = set()
        lock = threading.Lock()
        on_main: list[bool] = []

        def flaky(node: NodeInput) -> NodeOutput:
            on_main.append(threading.current_thread() is threading.main_thread())
            item = node.store.get(Fan.item)
            with lock:
                if item == "c" and node.task_id not in failed_once:
                    failed_once.add(node.task_id)
                    raise ConnectionError("first attempt fails")
            return NodeOutput(writes=[Write(Fan.results, [item])])

        graph = fan_graph(
            flaky, blocking=True, retry_policy=RetryPolicy(max_attempts=2)
        )
        trace = check_determinism(graph, runs=2, seed=4)
        assert trace.store["total"] == 6
        assert not any(on_main)

    def test_the_first_runs_error_is_raised_unless_captured(self) -> None:
        def broken(node: NodeInput) -> NodeOutput:
            raise ValueError("always")

        with pytest.raises(NodeError):
            check_determinism(fan_graph(broken), runs=1, seed=0)
        trace = check_determinism(
            fan_graph(broken), runs=2, seed=0, capture_errors=True
        )
        assert isinstance(trace.error, NodeError)

    def test_async_use_and_argument_checks(self) -> None:
        async def main() -> Trace:
            with pytest.raises(RuntimeError, match="check_determinism_async"):
                check_determinism(fan_graph(careful))
            return await check_determinism_async(fan_graph(careful), runs=1, seed=0)

        assert asyncio.run(main()).status == "finished"
        with pytest.raises(ValueError, match="runs must be at least 1, got 0"):
            check_determinism(fan_graph(careful), runs=0)

    def test_the_fixture_is_check_determinism(
        self, hive_determinism: Callable[..., Trace]
    ) -> None:
        assert hive_determinism(fan_graph(careful), runs=2).store["total"] == 6


class Gate(Schema):
    item = channel(str, scope="task_local")
    results = channel(list[str], reducer=reducers.append, update="multi")
    answers = channel(list[str], reducer=reducers.append, update="multi")


def gated_graph(work: Callable[[NodeInput], object], *, asks: int = 1) -> CompiledGraph:
    """`approve` interrupts ``asks`` times, then spawns six `work` tasks."""

    def approve(node: NodeInput) -> NodeOutput:
        asked = len(node.store.get(Gate.answers)) + 1
        if node.resume is None:  # the resumed run starts by running us again
            return NodeOutput(interrupt=f"question {asked}", next=["approve"])
        answer = [Write(Gate.answers, [str(node.resume.payload)])]
        if asked < asks:
            question = f"question {asked + 1}"
            return NodeOutput(writes=answer, interrupt=question, next=["approve"])
        return NodeOutput(
            writes=answer, spawn=[Spawn("work", {Gate.item: i}) for i in "abcdef"]
        )

    return (
        GraphBuilder(Gate, start=["approve"])
        .add_node("approve", approve)
        .add_node("work", work)  # type: ignore[arg-type]
        .compile()
    )


async def gate_work(node: NodeInput) -> NodeOutput:
    await asyncio.sleep(0)
    return NodeOutput(writes=[Write(Gate.results, [node.store.get(Gate.item)])])


class TestWorkAfterAnInterrupt:
    def test_racy_work_after_the_resume_is_caught(self) -> None:
        arrivals: list[str] = []

        async def racy(node: NodeInput) -> NodeOutput:
            if node.store.get(Gate.item) == "a":
                arrivals.clear()
            await asyncio.sleep(0)
            arrivals.append(node.store.get(Gate.item))
            return NodeOutput(writes=[Write(Gate.results, [str(len(arrivals))])])

        graph = gated_graph(racy)
        # without resume the check stops at the interrupt, before the race
        assert check_determinism(graph, seed=3).status == "interrupted"
        with pytest.raises(NondeterminismError) as info:
            check_determinism(graph, seed=3, resume=["go"])
        err = info.value
        assert (err.resume, err.resumes) == (1, 1)
        assert err.diff is not None
        assert (err.diff.kind, err.diff.channel) == ("write_applied", "results")
        assert str(err).startswith(
            f"the graph is not deterministic: shuffled run {err.run} of 5 (seed=3) "
            "differs from the reference run in resume 1 of 1\n"
        )

    def test_each_payload_answers_the_next_interrupt(self, hive_trace: Tracer) -> None:
        graph = gated_graph(gate_work, asks=2)
        half = check_determinism(graph, seed=1, resume=["yes"])
        assert half.status == "interrupted" and half.store["answers"] == ["yes"]
        trace = check_determinism(graph, seed=1, resume=["yes", "sure"])
        assert trace.status == "finished"
        assert trace.store["answers"] == ["yes", "sure"]
        assert trace.store["results"] == list("abcdef")
        # the trace returned is the last resumed run's, as hive_trace sees it
        hive_trace(graph)
        hive_trace.resume("yes")
        assert trace == hive_trace.resume("sure")

    def test_a_payload_with_nothing_pending(self) -> None:
        graph = gated_graph(gate_work)
        with pytest.raises(NoInterruptToResumeError):
            check_determinism(graph, runs=1, seed=0, resume=["go", "again"])
        trace = check_determinism(
            graph, runs=1, seed=0, resume=["go", "again"], capture_errors=True
        )
        assert isinstance(trace.error, NoInterruptToResumeError)

    def test_payloads_come_as_a_sequence(self) -> None:
        with pytest.raises(TypeError, match=r"e\.g\. resume=\['go'\]"):
            check_determinism(gated_graph(gate_work), resume="go")

    def test_the_fixture_takes_resume_too(
        self, hive_determinism: Callable[..., Trace]
    ) -> None:
        trace = hive_determinism(gated_graph(gate_work), runs=2, resume=["go"])
        assert trace.store["results"] == list("abcdef")


def test_shuffled_copies_keep_the_ir_and_wrap_every_node() -> None:
    graph = fan_graph(careful)
    copy = shuffled_graph(graph, random.Random(0))
    assert copy.ir is graph.ir and copy.joins == graph.joins
    assert set(copy.nodes) == set(graph.nodes)
    assert all(spec.is_async and not spec.inline for spec in copy.nodes.values())
    assert copy.nodes["work"].successors == graph.nodes["work"].successors
    assert re.fullmatch(r"[0-9a-f]{64}", copy.graph_version)
