"""Stores: the initial cache, global snapshot, task-local overlay, views, HLF1."""

from __future__ import annotations

import hashlib
import struct

import pytest

from hive_core import (
    Channel,
    ChannelTypeMismatchError,
    CodecError,
    GlobalStore,
    InitialCache,
    ScopeMismatchError,
    StoreView,
    TaskLocalStore,
    UnknownChannelError,
    channel,
    fingerprint,
    schema_of,
)
from hive_core.state._store import EMPTY_FINGERPRINT

HLF1_EMPTY = "3b54d1bf22aea64fa72d74e8bca1e504ea5f40f832e6bbf952ba79015becff2f"

counter = channel(int, id="counter")
notes = channel(list[str], id="notes")
draft = channel(str, id="draft", scope="task_local")
attempt = channel(int, id="attempt", scope="task_local")
SCHEMA = schema_of([counter, notes, draft, attempt])


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def view(
    global_values: dict[str, object] | None = None,
    overlay: dict[str, object] | None = None,
) -> StoreView:
    values = {"counter": 7, "notes": ["n"]} if global_values is None else global_values
    return StoreView(SCHEMA, values, overlay or {}, InitialCache(SCHEMA))


class TestInitialCache:
    def test_each_initial_evaluated_once_in_sorted_order(self) -> None:
        calls: list[str] = []

        def recorded(cid: str, value: int) -> Channel[int]:
            def make() -> int:
                calls.append(cid)
                return value

            return channel(int, id=cid, initial=make)

        spec = schema_of(
            [recorded("c", 3), recorded("a", 1), recorded("é", 4), recorded("b", 2)]
        )
        cache = InitialCache(spec)
        assert calls == ["a", "b", "c", "é"]
        assert dict(cache.values) == {"a": 1, "b": 2, "c": 3, "é": 4}
        # Reads go through the cache; the factories are never called again.
        v = StoreView(spec, {"a": 1, "b": 2, "c": 3, "é": 4}, {}, cache)
        v.get("a")
        fingerprint(spec, {}, cache)
        assert calls == ["a", "b", "c", "é"]

    def test_covers_global_and_task_local_channels(self) -> None:
        cache = InitialCache(SCHEMA)
        assert dict(cache.values) == {
            "attempt": 0,
            "counter": 0,
            "draft": "",
            "notes": [],
        }

    def test_initial_of_the_wrong_type_is_rejected(self) -> None:
        spec = schema_of([channel(int, id="n", initial=lambda: "zero")])
        with pytest.raises(ChannelTypeMismatchError) as info:
            InitialCache(spec)
        err = info.value
        assert (err.channel_id, err.expected, err.actual) == ("n", "int", "str")


class TestGlobalStore:
    def test_reads_by_channel_and_by_id(self) -> None:
        store = GlobalStore(SCHEMA, {"counter": 3, "notes": []})
        assert store.get(counter) == 3
        assert store.get("counter") == 3

    def test_to_dict_is_a_copy(self) -> None:
        values = {"counter": 3, "notes": []}
        copied = GlobalStore(SCHEMA, values).to_dict()
        copied["counter"] = 4
        assert values["counter"] == 3


class TestTaskLocalStore:
    def test_unset_value_reads_none(self) -> None:
        assert TaskLocalStore(SCHEMA).get(draft) is None

    def test_set_value_reads_back(self) -> None:
        store = TaskLocalStore(SCHEMA, {"draft": "d"})
        assert store.get(draft) == "d"
        assert store.get("draft") == "d"
        assert store.to_dict() == {"draft": "d"}


class TestStoreView:
    def test_global_key_reads_the_snapshot(self) -> None:
        assert view().get(counter) == 7
        assert view().get("notes") == ["n"]

    def test_task_local_key_reads_the_overlay(self) -> None:
        assert view(overlay={"draft": "mine"}).get(draft) == "mine"

    def test_task_local_key_falls_back_to_the_initial_value(self) -> None:
        v = view(overlay={"draft": "mine"})
        assert v.get(attempt) == 0

    def test_overlay_value_equal_to_initial_is_still_read(self) -> None:
        assert view(overlay={"attempt": 0}).get(attempt) == 0

    def test_global_values_are_not_copied_or_changed(self) -> None:
        values: dict[str, object] = {"counter": 1, "notes": ["x"]}
        v = view(values)
        assert v.get(notes) is values["notes"]
        assert values == {"counter": 1, "notes": ["x"]}


class TestAccessErrors:
    @pytest.mark.parametrize(
        "read",
        [
            lambda key: GlobalStore(SCHEMA, {}).get(key),
            lambda key: TaskLocalStore(SCHEMA).get(key),
            lambda key: view().get(key),
        ],
        ids=["global", "task-local", "view"],
    )
    @pytest.mark.parametrize(
        "key", ["missing", channel(int, id="missing")], ids=["by-id", "by-channel"]
    )
    def test_unknown_channel(self, read: object, key: object) -> None:
        with pytest.raises(UnknownChannelError) as info:
            read(key)  # type: ignore[operator]
        err = info.value
        assert err.code == "unknown-channel"
        assert err.channel_id == "missing"
        assert "`missing`" in str(err)

    def test_unknown_channel_is_a_lookup_error(self) -> None:
        with pytest.raises(LookupError):
            view().get("missing")

    def test_task_local_key_on_the_global_store(self) -> None:
        with pytest.raises(ScopeMismatchError) as info:
            GlobalStore(SCHEMA, {}).get(draft)
        err = info.value
        assert err.code == "scope-mismatch"
        assert (err.channel_id, err.expected, err.actual) == (
            "draft",
            "global",
            "task-local",
        )
        assert str(err) == (
            "Channel `draft` is task-local, but a global channel was expected"
        )

    def test_global_key_on_the_task_local_store(self) -> None:
        with pytest.raises(ScopeMismatchError) as info:
            TaskLocalStore(SCHEMA).get("counter")
        err = info.value
        assert (err.channel_id, err.expected, err.actual) == (
            "counter",
            "task-local",
            "global",
        )

    @pytest.mark.parametrize(
        "read",
        [
            lambda key: GlobalStore(SCHEMA, {"counter": 1}).get(key),
            lambda key: view().get(key),
        ],
        ids=["global", "view"],
    )
    def test_foreign_channel_with_the_same_id_and_another_type(
        self, read: object
    ) -> None:
        foreign = channel(str, id="counter")
        with pytest.raises(ChannelTypeMismatchError) as info:
            read(foreign)  # type: ignore[operator]
        err = info.value
        assert err.code == "channel-type-mismatch"
        assert (err.channel_id, err.expected, err.actual) == ("counter", "int", "str")
        assert str(err) == "Channel `counter` expects int, got str"

    def test_foreign_task_local_channel_with_another_type(self) -> None:
        foreign = channel(list[int], id="draft", scope="task_local")
        with pytest.raises(ChannelTypeMismatchError) as info:
            TaskLocalStore(SCHEMA).get(foreign)
        assert (info.value.expected, info.value.actual) == ("str", "list[int]")

    def test_foreign_channel_with_the_same_id_and_type_is_accepted(self) -> None:
        twin = channel(int, id="counter")
        assert view().get(twin) == 7


class TestFingerprint:
    def test_empty_golden(self) -> None:
        assert EMPTY_FINGERPRINT.hex() == HLF1_EMPTY
        assert hashlib.sha256(b"HLF1" + u32(0)).hexdigest() == HLF1_EMPTY

    def test_schema_without_task_local_channels_gives_the_golden(self) -> None:
        spec = schema_of([channel(int, id="g")])
        result = fingerprint(spec, {}, InitialCache(spec))
        assert result.hex() == HLF1_EMPTY
        assert len(result) == 32

    def test_task_local_initial_values_are_hashed(self) -> None:
        cache = InitialCache(SCHEMA)
        assert fingerprint(SCHEMA, {}, cache).hex() != HLF1_EMPTY

    def test_empty_overlay_equals_overlay_set_to_initial_values(self) -> None:
        cache = InitialCache(SCHEMA)
        empty = fingerprint(SCHEMA, {}, cache)
        assert fingerprint(SCHEMA, {"draft": ""}, cache) == empty
        assert fingerprint(SCHEMA, {"draft": "", "attempt": 0}, cache) == empty

    def test_overlay_value_changes_the_fingerprint(self) -> None:
        cache = InitialCache(SCHEMA)
        assert fingerprint(SCHEMA, {"draft": "x"}, cache) != fingerprint(
            SCHEMA, {}, cache
        )
        assert fingerprint(SCHEMA, {"draft": "x"}, cache) != fingerprint(
            SCHEMA, {"draft": "y"}, cache
        )

    def test_hand_computed_for_one_channel(self) -> None:
        spec = schema_of([channel(str, id="draft", scope="task_local")])
        data = b'"hi"'  # the default JSON codec's canonical bytes
        expected = hashlib.sha256(
            b"HLF1" + u32(1) + u32(5) + b"draft" + u32(len(data)) + data
        ).digest()
        assert fingerprint(spec, {"draft": "hi"}, InitialCache(spec)) == expected

    def test_hand_computed_for_channels_in_sorted_order(self) -> None:
        # attempt (initial 0, JSON "0") sorts before draft (overlay "hi").
        cache = InitialCache(SCHEMA)
        expected = hashlib.sha256(
            b"HLF1"
            + u32(2)
            + u32(7)
            + b"attempt"
            + u32(1)
            + b"0"
            + u32(5)
            + b"draft"
            + u32(4)
            + b'"hi"'
        ).digest()
        assert fingerprint(SCHEMA, {"draft": "hi"}, cache) == expected

    def test_utf8_lengths_are_byte_counts(self) -> None:
        spec = schema_of([channel(str, id="é", scope="task_local")])
        data = '"ü"'.encode()
        expected = hashlib.sha256(
            b"HLF1" + u32(1) + u32(2) + "é".encode() + u32(len(data)) + data
        ).digest()
        assert fingerprint(spec, {"é": "ü"}, InitialCache(spec)) == expected

    def test_encode_failure_names_the_channel(self) -> None:
        class Broken:
            id = "broken.v1"

            def encode(self, value: int, /) -> bytes:
                raise ValueError("cannot")

            def decode(self, data: bytes, /) -> int:
                return 0

        spec = schema_of([channel(int, id="bad", scope="task_local", codec=Broken())])
        with pytest.raises(CodecError) as info:
            fingerprint(spec, {}, InitialCache(spec))
        err = info.value
        assert err.code == "codec-error"
        assert (err.channel_id, err.codec_id, err.operation) == (
            "bad",
            "broken.v1",
            "encode",
        )
        assert "cannot" in err.reason
        assert isinstance(err.__cause__, ValueError)
