"""A reload equals the warm state: whatever the commit accepts comes back from a
checkpoint equal to the in-memory value and of the same classes at every depth, on
every channel kind (typed, untyped, messages, custom codec) and on both the memory
and the SQLite store; whatever would not come back so is refused at commit with a
``ChannelValueTypeError`` and the thread keeps its last committed state."""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hive_core import (
    END,
    ChannelTypeMismatchError,
    ChannelValueTypeError,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
)
from hive_core.models import ChatMessage, messages_channel
from hive_core.persistence import (
    CheckpointStore,
    InMemoryCheckpointStore,
    SQLiteCheckpointStore,
)


class Point(msgspec.Struct, frozen=True):
    x: int
    label: str = ""


class CsvInts:
    """A custom codec: ``list[int]`` as comma-separated text."""

    id = "csv-ints"

    def encode(self, value: list[int], /) -> bytes:
        return ",".join(str(v) for v in value).encode()

    def decode(self, data: bytes, /) -> list[int]:
        return [int(v) for v in data.decode().split(",")] if data else []


class S(Schema):
    n = channel(int)
    ratio = channel(float)
    ratios = channel(dict[str, float])
    text = channel(str)
    tags = channel(list[str])
    grid = channel(list[list[int]])
    pair = channel(tuple[int, str], initial=(0, ""))
    ids = channel(set[int])
    points = channel(list[Point])
    maybe = channel(int | None)
    loose = channel(list[Any])
    anything = channel(Any, initial=lambda: None)
    messages = messages_channel()
    csv = channel(list[int], codec=CsvInts())


def same(a: object, b: object) -> bool:
    """Equal, and of the same class at every depth (``==`` alone says
    ``1 == 1.0`` and ``frozenset({1}) == {1}``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(
            same(k, next(k2 for k2 in b if k2 == k)) and same(v, b[k])
            for k, v in a.items()
        )
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))  # type: ignore[arg-type]
    return a == b


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # nan and inf included: they must be refused, not reloaded as None
    st.text(max_size=5),
    st.sampled_from(["a\udc80", "é"]),  # a lone surrogate cannot be saved
    st.binary(max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.integers(-3, 3), max_size=3),
        st.sets(st.integers(-3, 3), max_size=3),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.dictionaries(st.integers(-3, 3), inner, max_size=2),
        st.builds(Point, x=st.integers(-3, 3)),
    ),
    max_leaves=6,
)
ints = st.integers(min_value=-(2**65), max_value=2**65)
floats_or_ints = st.one_of(st.floats(), ints, st.booleans())
message_like = st.one_of(
    st.text(max_size=4),
    st.tuples(st.sampled_from(["user", "assistant"]), st.text(max_size=4)),
    st.builds(lambda t: {"role": "user", "content": t}, st.text(max_size=4)),
)
WRITES: dict[str, st.SearchStrategy[Any]] = {
    "n": st.one_of(ints, st.booleans()),
    "ratio": floats_or_ints,
    "ratios": st.dictionaries(st.text(max_size=3), floats_or_ints, max_size=3),
    "text": st.one_of(st.text(max_size=5), st.just("x\ud800")),
    "tags": st.lists(st.one_of(st.text(max_size=3), st.just("\udfff")), max_size=3),
    "grid": st.lists(
        st.one_of(st.lists(st.integers(-5, 5), max_size=3), st.tuples(st.integers())),
        max_size=3,
    ),
    "pair": st.tuples(st.integers(-5, 5), st.text(max_size=3)),
    "ids": st.sets(st.integers(-5, 5), max_size=3),
    "points": st.lists(st.builds(Point, x=st.integers(-5, 5)), max_size=3),
    "maybe": st.one_of(st.none(), ints),
    "loose": st.lists(values, max_size=3),
    "anything": values,
    "messages": st.one_of(message_like, st.lists(message_like, max_size=3)),
    "csv": st.lists(st.integers(-9, 9), max_size=3),
}
writes = st.dictionaries(
    st.sampled_from(sorted(WRITES)), st.none(), max_size=4
).flatmap(lambda keys: st.fixed_dictionaries({k: WRITES[k] for k in sorted(keys)}))

_pending: list[dict[str, Any]] = [{}]


def _write_all(ctx: NodeInput) -> NodeOutput:
    by_id = S.spec().by_id
    return NodeOutput(
        writes=[Write(by_id[cid], v) for cid, v in _pending[0].items()], next=END
    )


GRAPH = GraphBuilder(S, start=["w"]).add_node("w", _write_all).compile()
_threads = itertools.count()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[CheckpointStore]:
    if request.param == "memory":
        yield InMemoryCheckpointStore()
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        SQLiteCheckpointStore(str(Path(tmp) / "p.db")) as sqlite,
    ):
        yield sqlite


def _round_trips(cid: str, value: object) -> bool:
    """What the rule promises, checked directly on the channel's codec."""
    ch = S.spec().by_id[cid]
    codec = ch.codec
    assert codec is not None
    try:
        return ch.accepts(value) and same(codec.decode(codec.encode(value)), value)
    except Exception:
        return False


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batch=writes)
def test_a_reload_equals_the_warm_state(
    store: CheckpointStore, batch: dict[str, Any]
) -> None:
    thread = f"t{next(_threads)}"
    warm = Runtime(GRAPH, checkpoint_store=store)
    _pending[0] = {}
    warm.run_sync(thread)  # a first committed state to fall back to
    before = warm.get_state_sync(thread)
    assert before is not None
    _pending[0] = batch
    try:
        warm.run_sync(thread)
    except (ChannelValueTypeError, ChannelTypeMismatchError) as exc:
        # refused: only a value the channel's codec would give back changed
        assert exc.channel_id in batch
        assert exc.channel_id != "messages"  # every message-like write is coerced
        assert not _round_trips(exc.channel_id, batch[exc.channel_id])
        after = warm.get_state_sync(thread)
        assert after is not None and after.checkpoint_id == before.checkpoint_id
        assert same(after.store.to_dict(), before.store.to_dict())
    else:
        for cid, value in batch.items():
            if cid != "messages":  # its writes are coerced; the result is compared
                assert _round_trips(cid, value), (cid, value)
    in_memory = warm.get_state_sync(thread)
    cold = Runtime(GRAPH, checkpoint_store=store).get_state_sync(thread)
    assert in_memory is not None and cold is not None
    assert cold.checkpoint_id == in_memory.checkpoint_id
    warm_values, cold_values = in_memory.store.to_dict(), cold.store.to_dict()
    for cid in sorted(warm_values):
        assert same(cold_values[cid], warm_values[cid]), cid


@pytest.mark.parametrize(
    ("value", "path", "actual"),
    [
        ({1, 2}, "$", "set (a checkpoint reloads it as list)"),
        ((1, 2), "$", "tuple (a checkpoint reloads it as list)"),
        (b"\x00\xff", "$", "bytes (a checkpoint reloads it as str)"),
        (float("nan"), "$", "nan (JSON has no non-finite floats)"),
        ({"a": [1, (2, 3)]}, "$.a[1]", "tuple (a checkpoint reloads it as list)"),
        ({1: "x"}, "$ key 1", "int key (a checkpoint reloads it as a str)"),
        (Point(1), "$", "Point (a checkpoint reloads it as dict)"),
        ("a\udc80", "$", "a str with a lone surrogate at index 1"),
    ],
)
def test_an_untyped_channel_refuses_what_would_reload_changed(
    value: object, path: str, actual: str
) -> None:
    _pending[0] = {"anything": value}
    rt = Runtime(GRAPH)
    with pytest.raises(ChannelValueTypeError) as info:
        rt.run_sync("t")
    err = info.value
    assert (err.channel_id, err.path, err.actual, err.node, err.step) == (
        "anything",
        path,
        actual,
        "w",
        0,
    )
    assert rt.get_state_sync("t") is None  # nothing was committed


def test_typed_channels_refuse_what_converts_but_reloads_as_another_class() -> None:
    _pending[0] = {"grid": [[1], (2, 3)]}
    with pytest.raises(ChannelValueTypeError) as info:
        Runtime(GRAPH).run_sync("t")
    assert (info.value.path, info.value.actual) == ("$[1]", "tuple")
    _pending[0] = {"loose": [{1}]}
    with pytest.raises(ChannelValueTypeError) as info:
        Runtime(GRAPH).run_sync("t")
    assert info.value.path == "$[0]"


def test_a_float_channel_keeps_an_int_and_a_float_as_written() -> None:
    store = InMemoryCheckpointStore()
    _pending[0] = {"ratio": 2, "ratios": {"a": 1, "b": 1.0}}
    Runtime(GRAPH, checkpoint_store=store).run_sync("t")
    cold = Runtime(GRAPH, checkpoint_store=store).get_state_sync("t")
    assert cold is not None
    assert type(cold.store.get(S.ratio)) is int
    ratios = cold.store.get(S.ratios)
    assert (type(ratios["a"]), type(ratios["b"])) == (int, float)


def test_a_custom_codec_that_changes_a_value_is_refused() -> None:
    class Lossy:
        id = "lossy"

        def encode(self, value: str, /) -> bytes:
            return value.strip().encode()

        def decode(self, data: bytes, /) -> str:
            return data.decode()

    class L(Schema):
        note = channel(str, codec=Lossy())

    def w(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(L.note, " padded ")], next=END)

    graph = GraphBuilder(L, start=["w"]).add_node("w", w).compile()
    with pytest.raises(ChannelValueTypeError) as info:
        Runtime(graph).run_sync("t")
    assert info.value.channel_id == "note"
    assert "' padded '" in info.value.actual and "'padded'" in info.value.actual


def test_untracked_untyped_channels_take_any_value() -> None:
    class U(Schema):
        scratch = channel(Any, initial=lambda: None, persistence="untracked")

    def w(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(U.scratch, {1, 2})], next=END)

    graph = GraphBuilder(U, start=["w"]).add_node("w", w).compile()
    assert Runtime(graph).run_sync("t").is_finished


def test_external_writes_are_checked_the_same_way() -> None:
    rt = Runtime(GRAPH, checkpoint_store=InMemoryCheckpointStore())
    _pending[0] = {}
    rt.run_sync("t")
    with pytest.raises(ChannelValueTypeError):
        rt.apply_external_writes_sync("t", [Write(S.anything, (1, 2))])
    rt.apply_external_writes_sync("t", [Write(S.anything, [1, 2])])
    state = rt.get_state_sync("t")
    assert state is not None and state.store.get(S.anything) == [1, 2]


def test_messages_reload_as_chat_messages() -> None:
    store = InMemoryCheckpointStore()
    _pending[0] = {"messages": ["hi", ("assistant", "hello")]}
    warm = Runtime(GRAPH, checkpoint_store=store)
    warm.run_sync("t")
    cold = Runtime(GRAPH, checkpoint_store=store).get_state_sync("t")
    assert cold is not None
    got = cold.store.get(S.messages)
    assert all(type(m) is ChatMessage for m in got)
    assert [m.content for m in got] == ["hi", "hello"]
