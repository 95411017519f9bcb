"""Subgraphs behave like nodes of the parent: an interrupt in the child pauses the
parent and resume continues inside the child (the paused child is kept in the
parent's checkpoint store, so fork covers it), child events stream through the
parent under the subgraph node's id, and shared channels map by name by default.
Resuming from a new process is in tests/examples/test_langgraph_patterns.py."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from hive_core import (
    InMemoryCheckpointStore,
    NodeError,
    NodeInput,
    Runtime,
    Schema,
    channel,
)
from hive_core.events import trace_to_builtins
from hive_core.testing import SequentialIds
from hive_dsl import (
    Chain,
    Effects,
    Subgraph,
    SubgraphResumeError,
    Workflow,
    Write,
    interrupt,
)
from hive_dsl._subgraph import parked_thread


class Verdict(msgspec.Struct, frozen=True):
    approved: bool


class Review(Schema):  # the child
    draft = channel(str)
    verdict = channel(str)
    interrupt_payload = str
    resume_payload = Verdict


class Post(Schema):  # the parent: `draft` and `verdict` are shared by name
    topic = channel(str)
    draft = channel(str)
    verdict = channel(str)
    published = channel(bool)
    interrupt_payload = str
    resume_payload = Verdict


def review_child(calls: list[str] | None = None) -> Workflow:
    child = Workflow(Review, name="review")

    @child.node(start=True)
    def polish(ctx: NodeInput) -> Effects:
        if calls is not None:
            calls.append("polish")
        return Effects(Write(Review.draft, ctx.store.get(Review.draft) + "!"))

    @child.node
    def ask(ctx: NodeInput) -> Effects:
        verdict = interrupt(
            ctx, f"publish {ctx.store.get(Review.draft)}?", expect=Verdict
        )
        return Effects(Write(Review.verdict, "yes" if verdict.approved else "no"))

    Chain(child, polish, ask)
    return child


def post_graph(child: Workflow) -> Any:
    wf = Workflow(Post)

    @wf.node(start=True)
    def write(ctx: NodeInput) -> Effects:
        return Effects(Write(Post.draft, f"all about {ctx.store.get(Post.topic)}"))

    sub = wf.node(Subgraph(child), node_id="review")

    @wf.node
    def publish(ctx: NodeInput) -> Effects:
        return Effects(Write(Post.published, ctx.store.get(Post.verdict) == "yes"))

    Chain(wf, write, sub, publish)
    return wf.compile()


def runtime(graph: Any, store: Any = None) -> Runtime:
    return Runtime(
        graph,
        checkpoint_store=store if store is not None else InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )


class TestPauseInsideTheChild:
    def test_the_parent_pauses_and_resume_continues_in_the_child(self) -> None:
        calls: list[str] = []
        rt = runtime(post_graph(review_child(calls)))
        paused = rt.run_sync("t", {Post.topic: "bees"})
        assert paused.status == "interrupted" and paused.interrupt is not None
        assert paused.interrupt.payload == "publish all about bees!?"
        assert paused.interrupt.node == "review"  # the subgraph node asks
        assert paused.output["verdict"] == ""  # nothing of the child committed yet
        assert calls == ["polish"]
        done = rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert done.status == "finished"
        assert done.output["draft"] == "all about bees!"  # shared by name, both ways
        assert (done.output["verdict"], done.output["published"]) == ("yes", True)
        assert calls == ["polish"]  # the child resumed; it did not start over

    def test_the_paused_child_is_kept_in_the_parents_store(self) -> None:
        store = InMemoryCheckpointStore()
        rt = runtime(post_graph(review_child()), store)
        paused = rt.run_sync("t", {Post.topic: "bees"})
        assert paused.interrupt is not None
        parked = asyncio.run(store.load_latest(parked_thread(paused.interrupt.id)))
        assert parked is not None and parked.interruption is not None
        # a new runtime on the same store resumes it: nothing lives in memory only
        again = runtime(post_graph(review_child()), store)
        done = again.resume_sync("t", paused.interrupt.id, {"approved": False})
        assert (done.output["verdict"], done.output["published"]) == ("no", False)

    def test_fork_covers_the_child_answer_it_differently(self) -> None:
        rt = runtime(post_graph(review_child()))
        paused = rt.run_sync("t", {Post.topic: "ants"})
        assert paused.interrupt is not None and paused.checkpoint_id is not None
        rt.fork_sync("t", paused.checkpoint_id, into="t-no")
        no = rt.resume_sync("t-no", paused.interrupt.id, {"approved": False})
        yes = rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert (no.output["verdict"], yes.output["verdict"]) == ("no", "yes")
        history = rt.get_checkpoint_history_sync("t")
        assert any(c.has_interruption for c in history)

    def test_a_missing_paused_child_is_a_typed_error(self) -> None:
        store = InMemoryCheckpointStore()
        rt = runtime(post_graph(review_child()), store)
        paused = rt.run_sync("t", {Post.topic: "bees"})
        assert paused.interrupt is not None
        elsewhere = runtime(post_graph(review_child()), InMemoryCheckpointStore())
        cp = asyncio.run(store.load_latest("t"))
        assert cp is not None
        asyncio.run(elsewhere.checkpoint_store.save(cp))  # type: ignore[union-attr]
        with pytest.raises(NodeError) as info:
            elsewhere.resume_sync("t", paused.interrupt.id, {"approved": True})
        cause = info.value.__cause__
        assert isinstance(cause, SubgraphResumeError)
        assert cause.code == "subgraph-resume-failed"
        assert cause.child_thread_id == parked_thread(paused.interrupt.id)


class TestNestedPause:
    def test_a_grandchild_pauses_the_top_and_resumes_from_its_store(self) -> None:
        store = InMemoryCheckpointStore()
        middle = Workflow(Review, name="middle")
        middle.node(Subgraph(review_child()), node_id="inner", start=True)
        top = Workflow(Post)
        top.node(Subgraph(middle), node_id="outer", start=True)
        graph = top.compile()
        paused = runtime(graph, store).run_sync("t", {Post.draft: "wasps"})
        assert paused.interrupt is not None
        assert (paused.interrupt.node, paused.interrupt.payload) == (
            "outer",
            "publish wasps!?",
        )
        again = runtime(graph, store)  # a fresh runtime: only the store remembers
        done = again.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert (done.status, done.output["verdict"]) == ("finished", "yes")
        assert done.output["draft"] == "wasps!"


def traced(rt: Runtime, thread: str, input: object = None) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        handle = rt.run(thread, input)
        events = [ev async for ev in handle.events]
        await handle.outcome()
        return trace_to_builtins(events)

    return asyncio.run(go())


class Counter(Schema):
    n = channel(int)


def adder(name: str) -> Workflow:
    wf = Workflow(Counter, name=name)

    @wf.node(start=True)
    def add(ctx: NodeInput) -> Effects:
        return Effects(Write(Counter.n, ctx.store.get(Counter.n) + 1))

    return wf


class TestEventsAndMapping:
    def test_child_events_stream_through_the_parent_namespaced(self) -> None:
        inner = adder("inner")
        middle = Workflow(Counter, name="middle")
        middle.node(Subgraph(inner), node_id="deep", start=True)
        outer = Workflow(Counter)
        outer.node(Subgraph(middle), node_id="mid", start=True)
        trace = traced(runtime(outer.compile()), "t", {Counter.n: 40})
        subs = [e for e in trace if e["kind"] == "subgraph_event"]
        spaces = {tuple(e["namespace"]) for e in subs}
        assert spaces == {("mid",), ("mid", "deep")}
        deep = [e["event"] for e in subs if tuple(e["namespace"]) == ("mid", "deep")]
        assert deep[0]["kind"] == "run_started"
        assert deep[-1]["kind"] == "run_finished"
        assert any(e["kind"] == "task_started" and e["node"] == "add" for e in deep)
        assert all("run_id" not in e["event"] for e in subs)
        # deterministic: the same trace on every run
        assert traced(runtime(outer.compile()), "t", {Counter.n: 40}) == trace

    def test_no_listener_builds_no_child_events_and_the_result_is_the_same(
        self,
    ) -> None:
        wf = Workflow(Counter)
        wf.node(Subgraph(adder("inner")), node_id="sub", start=True)
        graph = wf.compile()
        assert runtime(graph).run_sync("t", {Counter.n: 1}).output["n"] == 2

    def test_shared_channels_map_by_name_and_explicit_mappings_still_win(
        self,
    ) -> None:
        wf = Workflow(Counter)
        wf.node(Subgraph(adder("inner")), node_id="by_name", start=True)
        assert runtime(wf.compile()).run_sync("t", {Counter.n: 1}).output["n"] == 2
        explicit = Workflow(Counter)
        explicit.node(
            Subgraph(
                adder("inner"),
                input=lambda view: {Counter.n: 10},
                output=lambda store: [Write(Counter.n, store.get(Counter.n) * 2)],
            ),
            node_id="mapped",
            start=True,
        )
        out = runtime(explicit.compile()).run_sync("t", {Counter.n: 1})
        assert out.output["n"] == 22
