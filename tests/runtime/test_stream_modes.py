"""Stream modes (``Runtime.stream``): each mode sync and async, mixed modes, steps,
fan-out, interrupts, determinism, and equality with ``project_stream`` of the
recorded events."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import msgspec
import pytest

from hive_core import (
    EventsNotRequestedError,
    GraphBuilder,
    InMemoryCheckpointStore,
    InvalidRunOptionsError,
    Next,
    NodeError,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    StreamPart,
    Write,
    channel,
    project_stream,
    reducers,
)
from hive_core.events import CustomEvent, ModelToken, decode_event, trace_to_builtins
from hive_core.runtime._stream import normalize_modes
from hive_core.testing import SequentialIds


class S(Schema):
    total = channel(int, reducer=reducers.sum, update="multi")
    log = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(int, scope="task_local", initial=lambda: 0)
    answer = channel(str, initial=lambda: "")


def fan(ctx: NodeInput) -> NodeOutput:
    ctx.emit(ModelToken("plan"))
    return NodeOutput(
        writes=[Write(S.log, ["fan"])],
        spawn=[Spawn("work", {S.item: i}) for i in (3, 1, 2)],
        next=[],
    )


def work(ctx: NodeInput) -> NodeOutput:
    item = ctx.store.get(S.item)
    ctx.emit(ModelToken(f"t{item}"))
    ctx.emit(CustomEvent({"item": item}))
    return NodeOutput(writes=[Write(S.total, item), Write(S.log, [f"w{item}"])])


def sum_up(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(S.log, ["done"])])


def fanout_graph() -> Any:
    return (
        GraphBuilder(S, start=["fan"])
        .add_node("fan", fan)
        .add_node("work", work)
        .add_node("sum_up", sum_up)
        .add_edge("work", "sum_up")
        .compile()
    )


def ask(ctx: NodeInput) -> NodeOutput:
    if ctx.resume is not None:
        return NodeOutput(writes=[Write(S.answer, str(ctx.resume.payload))], next=[])
    # asks, and runs again when answered
    return NodeOutput(
        writes=[Write(S.log, ["asked"])], interrupt="approve?", next=["ask"]
    )


def ask_graph() -> Any:
    return GraphBuilder(S, start=["ask"]).add_node("ask", ask).compile()


def runtime(graph: Any, *, store: bool = False) -> Runtime:
    return Runtime(
        graph,
        ids=SequentialIds(),
        checkpoint_store=InMemoryCheckpointStore() if store else None,
    )


async def astream(rt: Runtime, modes: Any, input: object = None) -> list[StreamPart]:
    return [p async for p in rt.stream("t", input, modes=modes)]


def of(parts: list[StreamPart], mode: str) -> list[StreamPart]:
    return [p for p in parts if p.mode == mode]


# --------------------------------------------------------------- single modes


@pytest.mark.parametrize("entry", ["sync", "async"])
class TestEachMode:
    def parts(self, modes: Any, entry: str) -> list[StreamPart]:
        rt = runtime(fanout_graph())
        if entry == "sync":
            return list(rt.stream_sync("t", modes=modes))
        return asyncio.run(astream(rt, modes))

    def test_values_after_every_step(self, entry: str) -> None:
        parts = self.parts("values", entry)
        assert [p.mode for p in parts] == ["values"] * 3
        assert [p.step for p in parts] == [0, 1, 2]
        assert [p.data for p in parts] == [
            {"answer": "", "log": ["fan"], "total": 0},
            {"answer": "", "log": ["fan", "w3", "w1", "w2"], "total": 6},
            {"answer": "", "log": ["fan", "w3", "w1", "w2", "done"], "total": 6},
        ]
        assert all(p.node is None and p.namespace == () for p in parts)

    def test_updates_keyed_by_node_in_ordinal_order(self, entry: str) -> None:
        parts = self.parts(["updates"], entry)
        assert [(p.step, p.data) for p in parts] == [
            (0, {"fan": {"log": ["fan"]}}),
            (1, {"work": {"log": ["w3"], "total": 3}}),
            (1, {"work": {"log": ["w1"], "total": 1}}),
            (1, {"work": {"log": ["w2"], "total": 2}}),
            (2, {"sum_up": {"log": ["done"]}}),
        ]
        assert [p.node for p in parts] == ["fan", "work", "work", "work", "sum_up"]
        task_ids = [p.task_id for p in parts]
        assert all(task_ids) and len(set(task_ids)) == 5

    def test_messages_tagged_with_node_task_and_step(self, entry: str) -> None:
        parts = self.parts("messages", entry)
        assert [(p.data["text"], p.node, p.step) for p in parts] == [
            ("plan", "fan", 0),
            ("t3", "work", 1),
            ("t1", "work", 1),
            ("t2", "work", 1),
        ]
        updates = self.parts("updates", entry)
        assert [p.task_id for p in parts] == [p.task_id for p in updates[:4]]

    def test_custom_carries_the_node_data(self, entry: str) -> None:
        parts = self.parts("custom", entry)
        assert [(p.data, p.node, p.step) for p in parts] == [
            ({"item": 3}, "work", 1),
            ({"item": 1}, "work", 1),
            ({"item": 2}, "work", 1),
        ]

    def test_events_is_the_full_trace(self, entry: str) -> None:
        parts = self.parts("events", entry)
        kinds = [p.data["kind"] for p in parts]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
        assert [p.data["index"] for p in parts] == list(range(len(parts)))
        # only the modes that need values put them in the trace
        assert "step_values" not in kinds and "task_writes" not in kinds
        assert parts[0].step == -1
        started = [p for p in parts if p.data["kind"] == "task_started"]
        assert [p.node for p in started] == ["fan", "work", "work", "work", "sum_up"]


# ---------------------------------------------------------------- mixed modes


def test_mixed_modes_in_event_order_sync_equals_async() -> None:
    modes = ("updates", "values", "messages", "custom")
    sync = list(runtime(fanout_graph()).stream_sync("t", modes=modes))
    async_ = asyncio.run(astream(runtime(fanout_graph()), modes))
    assert sync == async_
    step1 = [p.mode for p in sync if p.step == 1]
    # tokens and custom data as emitted (live), then the step's updates, then values
    assert step1 == ["messages", "custom"] * 3 + ["updates"] * 3 + ["values"]
    assert of(sync, "values") == list(
        runtime(fanout_graph()).stream_sync("t", modes="values")
    )


def test_same_parts_twice() -> None:
    modes = ["values", "updates", "messages", "custom", "events"]
    first = list(runtime(fanout_graph()).stream_sync("t", modes=modes))
    second = list(runtime(fanout_graph()).stream_sync("t", modes=modes))
    assert first == second
    assert msgspec.json.encode(first) == msgspec.json.encode(second)


def test_parts_are_json_compatible() -> None:
    parts = list(runtime(fanout_graph()).stream_sync("t", modes=["values", "events"]))
    raw = msgspec.json.decode(msgspec.json.encode(parts), type=list[StreamPart])
    assert raw == parts


# ----------------------------------------------------------------- projection


@pytest.mark.parametrize(
    "modes",
    [
        ("values",),
        ("updates",),
        ("messages", "custom"),
        ("values", "updates", "messages", "custom"),
        ("values", "updates", "events"),
    ],
)
@pytest.mark.parametrize("graph", [fanout_graph, ask_graph])
def test_stream_equals_projection_of_recorded_events(
    modes: tuple[str, ...], graph: Any
) -> None:
    """A server replaying persisted events yields what the process streamed
    (which, without ``events``, builds its values/updates parts directly)."""
    streamed = list(runtime(graph(), store=True).stream_sync("t", modes=modes))
    assert streamed or set(modes) <= {"messages", "custom"}  # ask_graph: no tokens

    async def record() -> list[Any]:
        rt = runtime(graph(), store=True)
        handle = rt.run("t", options=RunOptions(stream_modes=modes))
        return [ev async for ev in handle.events]

    events = asyncio.run(record())
    # persisted and read back, as a run service's events table would
    decoded = [decode_event(msgspec.json.encode(ev)) for ev in events]
    assert decoded == events
    assert list(project_stream(decoded, modes)) == streamed
    assert list(project_stream(events, modes)) == streamed


def test_default_trace_has_no_values() -> None:
    """Without stream modes the trace is the one the snapshots pin."""

    async def trace(options: RunOptions | None) -> list[dict[str, Any]]:
        handle = runtime(fanout_graph()).run("t", options=options)
        return trace_to_builtins([ev async for ev in handle.events])

    plain = asyncio.run(trace(None))
    messages_only = asyncio.run(trace(RunOptions(stream_modes=("messages",))))
    assert plain == messages_only
    kinds = {e["kind"] for e in plain}
    assert not kinds & {"step_values", "task_writes"}
    with_values = asyncio.run(trace(RunOptions(stream_modes=("values", "updates"))))
    without = [
        e for e in with_values if e["kind"] not in ("step_values", "task_writes")
    ]
    renumbered = [{**e, "index": i} for i, e in enumerate(without)]
    assert renumbered == plain


# ----------------------------------------------------------------- interrupts


def test_interrupted_run_values_carry_the_interrupt_then_resume_streams() -> None:
    rt = runtime(ask_graph(), store=True)
    parts = list(rt.stream_sync("t", modes=["values", "updates"]))
    last = of(parts, "values")[-1]
    snapshot = rt.get_state_sync("t")
    assert snapshot is not None and snapshot.interrupt is not None
    interrupt_id = snapshot.interrupt.id
    assert last.data == {
        "answer": "",
        "log": ["asked"],
        "total": 0,
        "__interrupt__": [{"id": interrupt_id, "value": "approve?"}],
    }
    resumed = list(
        rt.stream_resume_sync("t", interrupt_id, "yes", modes=["values", "updates"])
    )
    assert [(p.mode, p.data) for p in resumed] == [
        ("updates", {"ask": {"answer": "yes"}}),
        ("values", {"answer": "yes", "log": ["asked"], "total": 0}),
    ]


def test_stream_resume_async() -> None:
    async def main() -> list[StreamPart]:
        rt = runtime(ask_graph(), store=True)
        first = [p async for p in rt.stream("t", modes="events")]
        interrupt_id = first[-1].data["interrupt_id"]
        assert first[-1].data["kind"] == "run_interrupted"
        return [
            p async for p in rt.stream_resume("t", interrupt_id, "no", modes="values")
        ]

    parts = asyncio.run(main())
    assert [p.data["answer"] for p in parts] == ["no"]


# ------------------------------------------------------------ edges and errors


BLOCK = [True]


async def slow(ctx: NodeInput) -> NodeOutput:
    if BLOCK[0]:
        await asyncio.Event().wait()  # never set: only a cancel ends it
    return NodeOutput(writes=[Write(S.log, ["slow"])])


def test_breaking_out_cancels_the_run_and_frees_the_thread() -> None:
    graph = (
        GraphBuilder(S, start=["fan"])
        .add_node("fan", lambda ctx: NodeOutput(writes=[Write(S.log, ["fan"])]))
        .add_node("slow", slow)
        .add_edge("fan", "slow")
        .compile()
    )
    rt = runtime(graph)
    BLOCK[0] = True
    try:
        for part in rt.stream_sync("t", modes="values"):
            assert part.step == 0
            break
        state = rt.get_state_sync("t")
        assert state is not None and state.step_index == 1  # step 0 committed only
        assert state.next_nodes == ("slow",)
        BLOCK[0] = False  # the thread is free again: a second run continues it
        parts = list(rt.stream_sync("t", modes="values"))
        assert [p.data["log"] for p in parts] == [["fan", "slow"]]
    finally:
        BLOCK[0] = True


def test_unknown_mode_is_refused_before_anything_runs() -> None:
    rt = runtime(fanout_graph())
    with pytest.raises(InvalidRunOptionsError, match="stream modes are"):
        rt.stream_sync("t", modes=["values", "tokens"])
    with pytest.raises(InvalidRunOptionsError):
        rt.stream_sync("t", modes=[])
    assert rt.get_state_sync("t") is None
    with pytest.raises(InvalidRunOptionsError, match="stream_modes"):
        rt.run_sync("t", options=RunOptions(stream_modes=("bogus",)))


def test_stream_sync_inside_a_loop_is_refused() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"runtime\.stream\(\.\.\.\)"):
            runtime(fanout_graph()).stream_sync("t")

    asyncio.run(main())


def test_custom_data_must_be_json_able() -> None:
    def bad(ctx: NodeInput) -> NodeOutput:
        ctx.emit(CustomEvent(object()))
        return NodeOutput()

    graph = GraphBuilder(S, start=["bad"]).add_node("bad", bad).compile()
    with pytest.raises(NodeError, match="TypeError"):
        list(runtime(graph).stream_sync("t", modes="custom"))


def test_handle_stream_then_outcome() -> None:
    async def main() -> None:
        rt = runtime(fanout_graph())
        handle = rt.run("t")
        parts = [p async for p in handle.stream(["values"])]
        outcome = await handle.outcome()
        assert outcome.status == "finished"
        assert dict(outcome.output) == parts[-1].data
        with pytest.raises(EventsNotRequestedError):
            handle.events  # noqa: B018 - the property raises
        with pytest.raises(EventsNotRequestedError):
            handle.stream("values")

    asyncio.run(main())


def test_a_failing_run_ends_its_stream_with_the_error() -> None:
    def boom(ctx: NodeInput) -> NodeOutput:
        raise ValueError("no")

    graph = (
        GraphBuilder(S, start=["fan"])
        .add_node("fan", lambda ctx: NodeOutput(writes=[Write(S.log, ["fan"])]))
        .add_node("boom", boom)
        .add_edge("fan", "boom")
        .compile()
    )
    seen: list[StreamPart] = []
    with pytest.raises(NodeError, match="ValueError: no"):
        seen.extend(runtime(graph).stream_sync("t", modes="values"))
    # parts of the committed step arrived before the error
    stream = runtime(graph).stream_sync("t", modes="values")
    assert next(stream).data["log"] == ["fan"]
    with pytest.raises(NodeError):
        next(stream)


class Two(Schema):
    a = channel(int, initial=lambda: 0)
    b = channel(list[str], reducer=reducers.append, update="multi")


def test_values_reencode_only_written_channels_and_stay_equal_to_the_store() -> None:
    """A step that writes one channel re-encodes only that one; every part still
    equals the committed store after its step (``docs/guides/streaming.md``)."""

    def first(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Two.a, 1)])

    def second(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Two.b, ["x"])])

    def third(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Two.a, 2), Write(Two.b, ["y"])])

    b = GraphBuilder(Two, start=["first"])
    for name, fn in (("first", first), ("second", second), ("third", third)):
        b = b.add_node(name, fn)
    graph = b.add_edge("first", "second").add_edge("second", "third").compile()
    parts = list(Runtime(graph).stream_sync("t", modes="values"))
    assert [p.data for p in parts] == [
        {"a": 1, "b": []},
        {"a": 1, "b": ["x"]},
        {"a": 2, "b": ["x", "y"]},
    ]
    assert [p.step for p in parts] == [0, 1, 2]


@pytest.mark.parametrize(
    "bad",
    [
        "tokens",
        ("values", "tokens"),
        ["values", ["updates"]],
        (["values"],),
        7,
        None,
        (),
    ],
)
def test_modes_of_any_shape_are_checked_every_time(bad: Any) -> None:
    """Valid modes are remembered once normalised; a bad value is refused with a typed
    error on every call (never a ``TypeError``, never cached as good)."""
    rt = runtime(fanout_graph())
    for _ in range(3):
        with pytest.raises(InvalidRunOptionsError, match="stream modes are"):
            rt.stream_sync("t", modes=bad)
    assert rt.get_state_sync("t") is None


def test_equal_modes_in_any_shape_stream_the_same() -> None:
    want = list(runtime(fanout_graph()).stream_sync("t", modes=["updates", "values"]))
    for modes in (("updates", "values"), ("updates", "values", "updates")) * 2:
        assert list(runtime(fanout_graph()).stream_sync("t", modes=modes)) == want


@pytest.mark.parametrize(
    ("modes", "streaming"),
    [
        ("values", False),
        ("updates", False),
        (("values", "updates"), False),
        ("messages", True),
        ("custom", True),
        ("events", True),
        (("values", "custom"), True),
    ],
)
def test_nodes_get_an_emitter_only_when_a_mode_reads_node_events(
    modes: Any, streaming: bool
) -> None:
    """A values/updates stream reads no node events, so nodes run as without a
    listener (``docs/guides/streaming.md``); messages, custom and events do."""
    seen: list[bool] = []

    def probe(ctx: NodeInput) -> NodeOutput:
        seen.append(ctx.streaming)
        ctx.emit(CustomEvent({"n": len(seen)}))  # a no-op without an emitter
        return NodeOutput(writes=[Write(S.total, 1)])

    graph = GraphBuilder(S, start=["probe"]).add_node("probe", probe).compile()
    parts = list(runtime(graph).stream_sync("t", modes=modes))
    assert seen == [streaming]
    assert bool(of(parts, "custom")) == ("custom" in normalize_modes(modes))


class Mode(enum.StrEnum):
    VALUES = "values"
    UPDATES = "updates"


class Liar(str):
    """A str that claims to equal anything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def test_modes_are_read_once_by_their_string_value_and_given_back_as_plain_str() -> (
    None
):
    """An iterator of modes is read once (``RunHandle.stream`` checks before the
    state check, then drives); a ``str`` enum member counts as its value; a str
    subclass never passes by its own ``==`` and never becomes a cached key."""
    assert normalize_modes(Mode.VALUES) == ("values",)
    assert type(normalize_modes(Mode.VALUES)[0]) is str
    assert [type(m) for m in normalize_modes("values")] == [str]
    assert normalize_modes([Mode.UPDATES, "updates", Mode.VALUES]) == (
        "updates",
        "values",
    )
    for _ in range(2):
        with pytest.raises(InvalidRunOptionsError, match="stream modes are"):
            normalize_modes(Liar("tokens"))
        with pytest.raises(InvalidRunOptionsError, match="stream modes are"):
            normalize_modes((Liar("tokens"),))
    with pytest.raises(InvalidRunOptionsError):
        normalize_modes("tokens")

    async def handle_stream() -> list[StreamPart]:
        handle = runtime(fanout_graph()).run("t")
        modes = iter(["values"])  # not the declared Sequence, but read once anyway
        return [p async for p in handle.stream(modes)]  # type: ignore[arg-type]

    assert [p.step for p in asyncio.run(handle_stream())] == [0, 1, 2]
    handle = runtime(fanout_graph()).run("t")
    parts = handle.stream_inline(iter(("updates",)))  # type: ignore[arg-type]
    assert len(list(parts)) == 5


def test_stream_sync_inside_a_loop_is_refused_before_its_modes_are_read() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"runtime\.stream\(\.\.\.\)"):
            runtime(fanout_graph()).stream_sync("t", modes="bogus")

    asyncio.run(main())


class Point(msgspec.Struct, frozen=True):
    x: int


class Mixed(Schema):
    zeta = channel(list[str], reducer=reducers.append, update="multi")
    alpha = channel(Point, initial=lambda: Point(0))
    tags = channel(list[str], initial=list)


def test_updates_of_one_task_steps_equal_the_projection_and_copy_values() -> None:
    """A one-task step's ``updates`` part is built from what its commit grouped
    (``CommitResult.grouped``): channels in id order, a channel written twice as
    the list of its writes, structs as builtins, a task that writes nothing as
    ``{}``, and no part aliases a value the store holds."""

    def many(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            writes=[
                Write(Mixed.zeta, ["a"]),
                Write(Mixed.alpha, Point(3)),
                Write(Mixed.zeta, ["b"]),
                Write(Mixed.tags, ["kept"]),
            ]
        )

    def quiet(ctx: NodeInput) -> NodeOutput:
        return NodeOutput()

    graph = (
        GraphBuilder(Mixed, start=["many"])
        .add_node("many", many)
        .add_node("quiet", quiet)
        .add_edge("many", "quiet")
        .compile()
    )
    rt = Runtime(graph, ids=SequentialIds(), checkpoint_store=InMemoryCheckpointStore())
    parts = list(rt.stream_sync("t", modes="updates"))
    assert [(p.node, p.step, p.data) for p in parts] == [
        (
            "many",
            0,
            {"many": {"alpha": {"x": 3}, "tags": ["kept"], "zeta": [["a"], ["b"]]}},
        ),
        ("quiet", 1, {"quiet": {}}),
    ]
    assert list(parts[0].data["many"]) == ["alpha", "tags", "zeta"]
    parts[0].data["many"]["tags"].append("poisoned")
    state = rt.get_state_sync("t")
    assert state is not None and state.store.get(Mixed.tags) == ["kept"]

    async def record() -> list[Any]:
        other = Runtime(
            graph, ids=SequentialIds(), checkpoint_store=InMemoryCheckpointStore()
        )
        handle = other.run("t", options=RunOptions(stream_modes=("updates",)))
        return [ev async for ev in handle.events]

    projected = list(project_stream(asyncio.run(record()), ("updates",)))
    assert [p.data for p in projected] == [
        {"many": {"alpha": {"x": 3}, "tags": ["kept"], "zeta": [["a"], ["b"]]}},
        {"quiet": {}},
    ]
    assert [(p.node, p.task_id) for p in projected] == [
        (p.node, p.task_id) for p in parts
    ]


class Box:
    """A value ``msgspec.to_builtins`` refuses: its channel's codec encodes it."""

    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and other.v == self.v

    __hash__ = None  # type: ignore[assignment]


class BoxCodec:
    id = "box.v1"

    def encode(self, value: Box, /) -> bytes:
        return msgspec.json.encode({"v": value.v})

    def decode(self, data: bytes, /) -> Box:
        return Box(msgspec.json.decode(data)["v"])


class Boxes(Schema):
    box = channel(
        Box,
        reducer=lambda _old, new: new,
        update="multi",
        codec=BoxCodec(),
        initial=lambda: Box(0),
    )
    n = channel(int, initial=lambda: 0)


@pytest.mark.parametrize("spawn", [False, True], ids=["grouped", "general"])
def test_updates_encode_by_codec_when_builtins_fail(spawn: bool) -> None:
    """A write ``to_builtins`` cannot convert is encoded by its channel's codec,
    on the one-task path (the commit's grouping) and the general one alike."""

    def boxes(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            writes=[
                Write(Boxes.n, 1),
                Write(Boxes.box, Box(1)),
                Write(Boxes.box, Box(2)),
            ],
            spawn=[Spawn("after")] if spawn else [],
            next=[] if spawn else Next.USE_GRAPH_EDGES,
        )

    graph = (
        GraphBuilder(Boxes, start=["boxes"])
        .add_node("boxes", boxes)
        .add_node("after", lambda ctx: NodeOutput())
        .compile()
    )
    parts = list(runtime(graph).stream_sync("t", modes="updates"))
    assert parts[0].data == {"boxes": {"box": [{"v": 1}, {"v": 2}], "n": 1}}
