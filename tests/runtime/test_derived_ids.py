"""``DerivedIds``: reproducible run and attempt ids for production runs.

Two fresh runtimes with the same namespace give byte-identical traces (run and
attempt ids included); a different namespace changes every id derived from them.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest

from hive_core import (
    END,
    CheckpointPolicy,
    DefinitionError,
    DerivedIds,
    GraphBuilder,
    IdSource,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RandomIds,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.events import trace_to_builtins

OPTIONS = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Flow(Schema):
    results = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local", codec=Utf8Codec())
    interrupt_payload = str
    resume_payload = str


def start(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(spawn=[Spawn("work", {Flow.item: x}) for x in ("a", "b")])


async def work(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Flow.results, [ctx.store.get(Flow.item)])])


def gate(ctx: NodeInput) -> NodeOutput:
    if ctx.resume is None:
        return NodeOutput(interrupt="ok?", next=["gate"])
    return NodeOutput(writes=[Write(Flow.results, [str(ctx.resume.payload)])], next=END)


GRAPH = (
    GraphBuilder(Flow, start=["start"])
    .add_node("start", start)
    .add_node("work", work)
    .add_node("gate", gate)
    .add_edge("work", "gate")
    .compile()
)


def full_trace(ids: IdSource) -> bytes:
    """Run to the interrupt and resume it on one fresh runtime; every event with its
    run and attempt ids, encoded."""
    rt = Runtime(GRAPH, checkpoint_store=InMemoryCheckpointStore(), ids=ids)

    async def go() -> list[object]:
        handle = rt.run("t", None, OPTIONS)
        events = [e async for e in handle.events]
        paused = await handle
        assert paused.interrupt is not None
        handle = rt.resume("t", paused.interrupt.id, "yes", OPTIONS)
        events += [e async for e in handle.events]
        done = await handle
        assert done.output["results"] == ["a", "b", "yes"]
        return [*trace_to_builtins(events, ids=True), msgspec.to_builtins(done)]

    return msgspec.json.encode(asyncio.run(go()))


def test_same_namespace_gives_byte_identical_traces() -> None:
    first = full_trace(DerivedIds("billing-prod/t"))
    second = full_trace(DerivedIds("billing-prod/t"))
    assert first == second
    # the comparison sees the ids: random ones make the same run differ
    assert full_trace(RandomIds()) != full_trace(RandomIds())


def test_different_namespaces_give_different_ids() -> None:
    def ids_of(namespace: str) -> dict[str, set[str]]:
        events = msgspec.json.decode(full_trace(DerivedIds(namespace)))
        found: dict[str, set[str]] = {}
        for ev in events[:-1]:
            for key in ("run_id", "attempt_id", "task_id", "checkpoint_id"):
                if key in ev:
                    found.setdefault(key, set()).add(ev[key])
        return found

    prod, staging = ids_of("prod/t"), ids_of("staging/t")
    assert set(prod) == {"run_id", "attempt_id", "task_id", "checkpoint_id"}
    for key, values in prod.items():
        assert values.isdisjoint(staging[key]), key
    assert len(prod["run_id"]) == 1  # one thread, one run id across its attempts
    assert len(prod["attempt_id"]) == 2  # the run and the resume


def test_ids_are_pinned_and_counters_are_separate() -> None:
    ids = DerivedIds("hive")
    # Persisted in checkpoints: a change here would change every derived id.
    assert ids.new_run_id() == uuid.UUID("1f74b017-f620-574f-943e-302d86f3f1c0")
    first_attempt = ids.new_attempt_id()
    assert ids.new_run_id() == DerivedIds("hive", runs=1).new_run_id()
    assert DerivedIds("hive", attempts=0).new_attempt_id() == first_attempt
    assert (ids.runs, ids.attempts) == (2, 1)
    assert first_attempt.version == 5


def test_the_runtime_uses_it_for_new_threads() -> None:
    rt = Runtime(GRAPH, checkpoint_store=InMemoryCheckpointStore(), ids=DerivedIds("n"))
    out = rt.run_sync("t")
    assert out.run_id == str(DerivedIds("n").new_run_id())


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"namespace": ""}, "non-empty str namespace"),
        ({"namespace": 7}, "non-empty str namespace"),
        ({"namespace": "a\ud800"}, "not valid UTF-8"),
        ({"namespace": "n", "runs": -1}, "DerivedIds.runs"),
        ({"namespace": "n", "attempts": 2**64}, "DerivedIds.attempts"),
        ({"namespace": "n", "runs": True}, "DerivedIds.runs"),
    ],
)
def test_bad_arguments_are_definition_errors(
    kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(DefinitionError, match=needle.replace(".", r"\.")):
        DerivedIds(**kwargs)  # type: ignore[arg-type]


class Ticks(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def test_interleaved_runs_of_one_runtime_save_under_their_own_run_ids() -> None:
    """The codec keeps the last run's id text and HCP1 prefix: two threads whose
    steps alternate on one loop still save every checkpoint under its own run."""
    from hive_core.ids import checkpoint_id

    async def tick(ctx: NodeInput) -> NodeOutput:
        await asyncio.sleep(0)  # the other thread steps in between
        return NodeOutput(writes=[Write(Ticks.n, 1)])

    graph = (
        GraphBuilder(Ticks, start=["tick"])
        .add_node("tick", tick)
        .add_router("tick", lambda v: ["tick"] if v.get(Ticks.n) < 6 else END)
        .compile()
    )
    store = InMemoryCheckpointStore()
    rt = Runtime(graph, checkpoint_store=store, ids=RandomIds())

    async def both() -> list[str]:
        outs = await asyncio.gather(
            rt.invoke("a", None, OPTIONS), rt.invoke("b", None, OPTIONS)
        )
        return [str(o.run_id) for o in outs]

    runs = dict(zip("ab", asyncio.run(both()), strict=True))
    assert runs["a"] != runs["b"]
    for thread in "ab":
        summaries = asyncio.run(store.list_checkpoints(thread))
        assert len(summaries) == 6
        for s in summaries:
            cp = asyncio.run(store.load_checkpoint(thread, s.id))
            assert cp is not None and cp.run_id == runs[thread]
            assert cp.id == checkpoint_id(uuid.UUID(runs[thread]), cp.step_index)


def test_random_attempt_ids_are_uuid4_strings() -> None:
    """``attempt_id_of`` writes ``RandomIds``' attempt ids straight from 16 random
    bytes: each is a version-4, RFC 4122 UUID in its canonical form."""
    from hive_core.runtime._ids import attempt_id_of

    got = [attempt_id_of(RandomIds()) for _ in range(2000)]
    assert len(set(got)) == len(got)
    for s in got:
        u = uuid.UUID(s)
        assert str(u) == s
        assert u.version == 4 and u.variant == uuid.RFC_4122
    variants = {s[19] for s in got}
    assert variants == set("89ab")  # every variant nibble occurs: the bits are random
    rt = Runtime(
        GraphBuilder(Flow, start=["a"])
        .add_node("a", lambda ctx: NodeOutput())
        .compile()
    )
    out = rt.run_sync("t")
    assert uuid.UUID(out.run_id or "").version == 4

    async def first_event() -> Any:
        async for ev in rt.run("u").events:
            return ev
        return None

    attempt = asyncio.run(first_event()).attempt_id
    assert uuid.UUID(attempt).version == 4 and str(uuid.UUID(attempt)) == attempt
