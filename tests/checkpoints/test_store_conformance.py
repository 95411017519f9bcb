"""The checkpoint store contract (docs/persistence.md), run against every store.

Each test takes ``backend`` (see ``store_support.py``): the in-memory store, the
SQLite store on a file, the SQLite store on ``":memory:"`` and the PostgreSQL store
(on a schema of its own; skipped without a server, failed under ``CI=true``). The
last classes hold SQLite-only properties: linear storage, query counts, concurrency,
lifecycle.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_core.errors import CheckpointEncodeError
from hive_core.persistence import SQLiteCheckpointStore, StoreClosedError
from hive_core.persistence._format import (
    Checkpoint,
    CheckpointInterruption,
    CheckpointSummary,
    FrontierEntry,
    encode_checkpoint,
    summarize,
)

from .store_support import (
    BACKENDS,
    Backend,
    SyncStore,
    drive,
    make_checkpoint,
)


def full_checkpoint(step: int = 3, thread_id: str = "thread-1") -> Checkpoint:
    """Every field set to something other than its default."""
    return make_checkpoint(
        step,
        {
            "messages": b'["hello","world"]',
            "binary": bytes(range(256)) + b"\x00\x00",
            "empty": b"",
            "unicode \u00e9\u4e2d": "caf\u00e9".encode(),
        },
        thread_id=thread_id,
        frontier=(
            FrontierEntry(node="writer", fingerprint=b"\x01" * 32),
            FrontierEntry(
                node="section",
                provenance="spawn",
                is_join=False,
                fingerprint=bytes(range(32)),
                local={"title": b'"Intro"', "attempt": b"2"},
            ),
            FrontierEntry(node="merge", is_join=True, fingerprint=b"\xff" * 32),
        ),
        join_barriers={"join:a+b:merge": ("a",), "join:c+d:end": ()},
        interruption=CheckpointInterruption(
            id="i" * 64, node="writer", payload=b'{"question":"ok?"}'
        ),
    )


def assert_same(loaded: Checkpoint | None, expected: Checkpoint) -> None:
    assert loaded == expected
    assert loaded is not None
    # Byte-exact: the canonical encoding (sorted keys) is identical too.
    assert encode_checkpoint(loaded) == encode_checkpoint(expected)
    for channel, data in expected.global_data.items():
        assert type(loaded.global_data[channel]) is bytes
        assert loaded.global_data[channel] == data


# ----------------------------------------------------------------------- basics


class TestRoundTrip:
    def test_every_field_round_trips(self, backend: Backend) -> None:
        cp = full_checkpoint()
        backend.store.save(cp)
        assert_same(backend.store.load_latest(cp.thread_id), cp)
        assert_same(backend.store.load_checkpoint(cp.thread_id, cp.id), cp)

    def test_defaults_round_trip(self, backend: Backend) -> None:
        cp = make_checkpoint(0)
        backend.store.save(cp)
        assert_same(backend.store.load_latest(cp.thread_id), cp)

    def test_summary_matches_checkpoint(self, backend: Backend) -> None:
        cp = full_checkpoint()
        plain = make_checkpoint(1, {"messages": b"[]"})
        backend.store.save(cp)
        backend.store.save(plain)
        assert backend.store.list_checkpoints(cp.thread_id) == [
            summarize(cp),
            summarize(plain),
        ]
        assert backend.store.list_checkpoints(cp.thread_id)[0].has_interruption

    def test_versions_may_change_within_a_thread(self, backend: Backend) -> None:
        first = make_checkpoint(1, {"a": b"1"})
        upgraded = make_checkpoint(2, {"a": b"2"}, schema_version="s2")
        regraphed = make_checkpoint(3, {"a": b"3"}, graph_version="g3")
        back = make_checkpoint(4, {"a": b"4"})
        for cp in (first, upgraded, regraphed, back):
            backend.store.save(cp)
        for cp in (first, upgraded, regraphed, back):
            assert_same(backend.store.load_checkpoint(cp.thread_id, cp.id), cp)

    def test_channels_can_come_and_go(self, backend: Backend) -> None:
        first = make_checkpoint(1, {"a": b"1" * 100, "b": b"2" * 100})
        second = make_checkpoint(2, {"b": b"2" * 100 + b"3", "c": b"c"})
        third = make_checkpoint(3, {"a": b"1" * 100})
        for cp in (first, second, third):
            backend.store.save(cp)
        for cp in (first, second, third):
            assert_same(backend.store.load_checkpoint(cp.thread_id, cp.id), cp)


class TestLatest:
    def test_greatest_step_wins_whatever_the_save_order(self, backend: Backend) -> None:
        cps = [make_checkpoint(step, {"n": str(step).encode()}) for step in range(6)]
        for cp in (cps[3], cps[5], cps[0], cps[4], cps[1], cps[2]):
            backend.store.save(cp)
        assert_same(backend.store.load_latest("thread-1"), cps[5])

    def test_ties_go_to_the_greatest_id(self, backend: Backend) -> None:
        low = make_checkpoint(4, {"n": b"low"}, cid="aaaa")
        high = make_checkpoint(4, {"n": b"high"}, cid="ffff")
        older = make_checkpoint(3, {"n": b"older"}, cid="zzzz")
        for cp in (high, older, low):
            backend.store.save(cp)
        assert_same(backend.store.load_latest("thread-1"), high)

    def test_ids_compare_by_code_point(self, backend: Backend) -> None:
        ascii_ = make_checkpoint(1, cid="z")
        accented = make_checkpoint(1, cid="\u00e9")  # > "z" by code point
        backend.store.save(accented)
        backend.store.save(ascii_)
        latest = backend.store.load_latest("thread-1")
        assert latest is not None
        assert latest.id == "\u00e9"

    def test_saving_the_same_id_again_overwrites(self, backend: Backend) -> None:
        run = uuid.UUID(int=99)
        first = make_checkpoint(2, {"n": b"first"}, run=run)
        again = make_checkpoint(2, {"n": b"second", "m": b"new"}, run=run)
        assert first.id == again.id
        backend.store.save(first)
        backend.store.save(again)
        assert [s.id for s in backend.store.list_checkpoints("thread-1")] == [first.id]
        assert_same(backend.store.load_latest("thread-1"), again)
        assert_same(backend.store.load_checkpoint("thread-1", first.id), again)

    def test_overwrite_may_move_the_step(self, backend: Backend) -> None:
        moved = make_checkpoint(1, cid="same")
        backend.store.save(make_checkpoint(5, cid="same"))
        backend.store.save(make_checkpoint(3, cid="other"))
        backend.store.save(moved)
        assert [
            (s.id, s.step_index) for s in backend.store.list_checkpoints("thread-1")
        ] == [
            ("other", 3),
            ("same", 1),
        ]


class TestQueries:
    def test_list_is_newest_first_and_honours_limit(self, backend: Backend) -> None:
        cps = [make_checkpoint(step % 4, cid=f"id-{step}") for step in range(8)]
        for cp in cps:
            backend.store.save(cp)
        expected = sorted(
            (summarize(cp) for cp in cps),
            key=lambda s: (s.step_index, s.id),
            reverse=True,
        )
        store = backend.store
        assert store.list_checkpoints("thread-1") == expected
        assert store.list_checkpoints("thread-1", None) == expected
        assert store.list_checkpoints("thread-1", 0) == []
        assert store.list_checkpoints("thread-1", 1) == expected[:1]
        assert store.list_checkpoints("thread-1", 3) == expected[:3]
        assert store.list_checkpoints("thread-1", 100) == expected

    def test_unknown_ids_and_threads(self, backend: Backend) -> None:
        store = backend.store
        assert store.load_latest("nobody") is None
        assert store.list_checkpoints("nobody") == []
        assert store.load_checkpoint("nobody", "x") is None
        assert store.thread_exists("nobody") is False
        cp = make_checkpoint(1)
        store.save(cp)
        assert store.load_checkpoint("thread-1", "not-an-id") is None
        assert store.load_checkpoint("other-thread", cp.id) is None
        assert store.thread_exists("thread-1") is True
        assert store.thread_exists("other-thread") is False

    def test_threads_are_isolated(self, backend: Backend) -> None:
        a = [
            make_checkpoint(s, {"log": b"a" * (100 + s)}, thread_id="a")
            for s in range(3)
        ]
        b = [
            make_checkpoint(s, {"log": b"b" * (100 + s)}, thread_id="b")
            for s in range(2)
        ]
        assert a[0].id == b[0].id  # same run and step: same checkpoint id
        for x, y in zip(a, b, strict=False):
            backend.store.save(x)
            backend.store.save(y)
        backend.store.save(a[2])
        assert_same(backend.store.load_latest("a"), a[2])
        assert_same(backend.store.load_latest("b"), b[1])
        for cp in a + b:
            assert_same(backend.store.load_checkpoint(cp.thread_id, cp.id), cp)
        assert len(backend.store.list_checkpoints("a")) == 3
        assert len(backend.store.list_checkpoints("b")) == 2

    def test_store_is_inline(self, backend: Backend) -> None:
        # Every store built from a path or URL is inline (Postgres: off a loop).
        assert getattr(backend.store.inner, "inline", False) is True


# ----------------------------------------------------------- version chains

# Byte-value scripts: each step derives the channel's next bytes from its history.
_blob = st.binary(min_size=0, max_size=80)
_op = st.one_of(
    st.tuples(st.just("append"), _blob),  # grows: every byte kept
    st.tuples(st.just("json_append"), _blob),  # `[a,b]` -> `[a,b,c]`: drops 1 byte
    st.tuples(st.just("splice"), st.integers(0, 300), _blob),  # keep a prefix
    st.tuples(st.just("rewrite"), _blob),
    st.tuples(st.just("repeat")),
    st.tuples(st.just("revert"), st.integers(0, 1000)),
    st.tuples(st.just("reopen")),
)


def _apply(history: list[bytes], op: tuple[Any, ...]) -> bytes:
    current = history[-1] if history else b""
    kind = op[0]
    if kind == "append":
        return cast(bytes, current + op[1])
    if kind == "json_append":
        return cast(bytes, current[:-1] + op[1] + b"]")
    if kind == "splice":
        return cast(bytes, current[: op[1]] + op[2])
    if kind == "rewrite":
        return cast(bytes, op[1])
    if kind == "revert" and history:
        return cast(bytes, history[op[1] % len(history)])
    return current


@pytest.mark.parametrize("backend_name", BACKENDS)
@given(
    scripts=st.lists(
        st.tuples(st.sampled_from(["log", "notes", "cfg"]), _op, st.booleans()),
        min_size=1,
        max_size=40,
    ),
    tune=st.booleans(),
)
def test_every_version_of_every_channel_loads_back(
    backend_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    scripts: list[tuple[str, tuple[Any, ...], bool]],
    tune: bool,
) -> None:
    """Random appends, splices, rewrites, repeats and reverts over several channels
    and two threads: every saved checkpoint loads back byte-identical, including
    after reopening the file (which drops the writer's cache of chain heads)."""
    backend = Backend(backend_name, tmp_path_factory.mktemp("chains"))
    try:
        store = backend.store

        def tune_store(s: SyncStore) -> None:
            # Small thresholds so short values exercise deltas and chain caps.
            inner: Any = s.inner  # the tuning knobs are not part of the protocol
            if tune and hasattr(inner, "delta_cost_factor"):  # SQLite, Postgres
                inner.delta_min_prefix = 1
                inner.delta_row_cost = 4
                inner.delta_cost_factor = 3

        tune_store(store)
        histories: dict[tuple[str, str], list[bytes]] = {}
        state: dict[str, dict[str, bytes]] = {"t1": {}, "t2": {}}
        saved: list[Checkpoint] = []
        for step, (channel, op, other_thread) in enumerate(scripts):
            if op[0] == "reopen":
                store = backend.reopen()
                tune_store(store)
                continue
            thread = "t2" if other_thread else "t1"
            history = histories.setdefault((thread, channel), [])
            value = _apply(history, op)
            history.append(value)
            state[thread][channel] = value
            cp = make_checkpoint(step, dict(state[thread]), thread_id=thread)
            store.save(cp)
            saved.append(cp)
        for cp in saved:
            assert_same(store.load_checkpoint(cp.thread_id, cp.id), cp)
        for thread in ("t1", "t2"):
            mine = [cp for cp in saved if cp.thread_id == thread]
            if mine:
                assert_same(store.load_latest(thread), mine[-1])
            assert store.thread_exists(thread) is bool(mine)
        store = backend.reopen()
        for cp in saved:
            assert_same(store.load_checkpoint(cp.thread_id, cp.id), cp)
    finally:
        backend.close()


# ------------------------------------------------------------------ persistence


class TestPersistence:
    def test_reopening_the_file_gives_the_same_answers(self, tmp_path: Path) -> None:
        backend = Backend("sqlite-file", tmp_path)
        try:
            cps = [
                make_checkpoint(
                    s, {"log": b"[" + b"x," * (s * 50) + b"]", "cfg": b"{}"}
                )
                for s in range(10)
            ]
            cps.append(full_checkpoint(step=10))
            for cp in cps:
                backend.store.save(cp)
            listing = backend.store.list_checkpoints("thread-1")
            store = backend.reopen()
            assert store.list_checkpoints("thread-1") == listing
            assert_same(store.load_latest("thread-1"), cps[-1])
            for cp in cps:
                assert_same(store.load_checkpoint("thread-1", cp.id), cp)
            assert store.thread_exists("thread-1")
            # The reopened store keeps writing onto the same chains.
            more = make_checkpoint(11, {"log": cps[9].global_data["log"] + b"y"})
            store.save(more)
            assert_same(backend.reopen().load_latest("thread-1"), more)
        finally:
            backend.close()


# ------------------------------------------------------------- SQLite specifics


def _json_list_steps(steps: int, item: int) -> list[bytes]:
    items = [f"{i:06d}".ljust(item, "x") for i in range(steps)]
    return [msgspec.json.encode(items[: n + 1]) for n in range(steps)]


class TestSQLiteStorage:
    def test_append_only_channel_grows_linearly(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore], sqlite_path: Path
    ) -> None:
        store = open_sqlite()
        values = _json_list_steps(100, 1024)
        cfg = b'{"k":"' + b"x" * 40 + b'"}'  # over INLINE_BYTES: a stream
        for step, value in enumerate(values, start=1):
            drive(store.save(make_checkpoint(step, {"log": value, "cfg": cfg})))
        stats = store.storage_stats()
        payload = len(values[-1])
        # Each step stores its new item once; "cfg" never changes: one row.
        assert stats["snapshots"] + stats["deltas"] == 100 + 1
        assert stats["snapshot_bytes"] + stats["delta_bytes"] < 1.1 * payload
        other = b'{"j":"' + b"y" * 40 + b'"}'
        drive(store.save(make_checkpoint(101, {"log": values[-1], "cfg": other})))
        assert store.storage_stats()["snapshots"] == stats["snapshots"] + 1
        store.close()
        assert sqlite_path.stat().st_size < 3 * payload

    def test_rewrites_snapshot_and_chains_stay_bounded(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        value = b"p" * 2000
        for step in range(60):
            # Keeps a long prefix but rewrites a growing tail: deltas, then a
            # snapshot once the chain would cost too much to load.
            value = value[:1500] + bytes([step]) * 600
            drive(store.save(make_checkpoint(step, {"doc": value})))
        stats = store.storage_stats()
        assert stats["deltas"] > stats["snapshots"] > 1
        rows = store._conn.execute(
            "SELECT max(chain_rows), max(chain_bytes) FROM hive_checkpoint_streams"
        ).fetchone()
        assert rows[0] * store.delta_row_cost + rows[1] <= store.delta_cost_factor * (
            len(value) + store.delta_row_cost
        )
        latest = drive(store.load_latest("thread-1"))
        assert latest is not None
        assert latest.global_data["doc"] == value

    def test_load_latest_is_two_queries_whatever_the_history(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        values = _json_list_steps(50, 100)
        for step, value in enumerate(values):
            channels = {f"ch{i}": value[: 50 + i] for i in range(5)}
            drive(store.save(make_checkpoint(step, {"log": value, **channels})))
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        latest = drive(store.load_latest("thread-1"))
        store._conn.set_trace_callback(None)
        assert latest is not None
        assert latest.global_data["log"] == values[-1]
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 2, statements

    def test_many_channels_span_several_blob_queries(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        cps = [
            make_checkpoint(
                step,
                {
                    f"c{i:03d}": f"{i}:{step // (i % 3 + 1)}".encode()
                    for i in range(450)
                },
            )
            for step in range(3)
        ]
        for cp in cps:
            drive(store.save(cp))
        for cp in cps:
            assert_same(drive(store.load_checkpoint("thread-1", cp.id)), cp)

    def test_small_head_cache_evicts_and_stays_correct(self, sqlite_path: Path) -> None:
        class SmallCache(SQLiteCheckpointStore):
            head_cache_bytes = 700

        with SmallCache(sqlite_path) as store:
            saved = []
            for step, value in enumerate(_json_list_steps(8, 100)):
                # Three ~100-900 byte channels: never all cached at once.
                data = {"a": value, "b": value.upper(), "c": value[::-1]}
                cp = make_checkpoint(step, data)
                drive(store.save(cp))
                saved.append(cp)
            for cp in saved:
                assert_same(drive(store.load_checkpoint("thread-1", cp.id)), cp)

    def test_two_store_objects_on_one_file_share_chains(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        a, b = open_sqlite(), open_sqlite()
        values = _json_list_steps(12, 200)
        saved = []
        for step, value in enumerate(values):
            writer = a if step % 3 else b  # each has a stale head cache at times
            cp = make_checkpoint(step, {"log": value})
            drive(writer.save(cp))
            saved.append(cp)
        for reader in (a, b):
            for cp in saved:
                assert_same(drive(reader.load_checkpoint("thread-1", cp.id)), cp)

    def test_concurrent_saves_from_threads(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        shared = open_sqlite()
        other = open_sqlite()
        errors: list[BaseException] = []

        def work(store: SQLiteCheckpointStore, thread_id: str) -> None:
            try:
                value = b"["
                for step in range(30):
                    value = value[:-1] + b'"' + bytes([65 + step % 26]) * 100 + b'"]'
                    cp = make_checkpoint(step, {"log": value}, thread_id=thread_id)
                    drive(store.save(cp))
                    assert_same(drive(store.load_latest(thread_id)), cp)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [
            threading.Thread(target=work, args=(store, f"t{i}"))
            for i, store in enumerate([shared, shared, other, other])
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        for i in range(4):
            assert len(drive(shared.list_checkpoints(f"t{i}"))) == 30

    def test_failed_save_changes_nothing(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        good = make_checkpoint(1, {"a": b"[1]" * 40, "b": b"[2]" * 40})
        drive(store.save(good))
        bad = make_checkpoint(
            2,
            {"a": b"[1]" * 41, "b": 12},  # type: ignore[dict-item]
        )
        with pytest.raises(CheckpointEncodeError) as info:
            drive(store.save(bad))
        assert info.value.channel_id == "b"
        assert_same(drive(store.load_latest("thread-1")), good)
        assert store.storage_stats()["deltas"] == 0
        # The rolled-back version numbers are reused; the cache was not touched.
        after = make_checkpoint(3, {"a": b"[1]" * 42, "b": b"[2]" * 40})
        drive(store.save(after))
        assert_same(drive(store.load_latest("thread-1")), after)
        assert_same(drive(store.load_checkpoint("thread-1", good.id)), good)

    def test_byte_like_values_are_stored_as_bytes(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        cp = make_checkpoint(1, {"a": bytearray(b"xy"), "b": memoryview(b"z")})  # type: ignore[dict-item]
        drive(store.save(cp))
        loaded = drive(store.load_latest("thread-1"))
        assert loaded is not None
        assert loaded.global_data == {"a": b"xy", "b": b"z"}


class TestSQLiteLifecycle:
    def test_durability_settings(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        assert open_sqlite().pragmas == {"journal_mode": "wal", "synchronous": "NORMAL"}

    def test_full_synchronous_is_available(self, sqlite_path: Path) -> None:
        with SQLiteCheckpointStore(sqlite_path, synchronous="FULL") as store:
            assert store.pragmas["synchronous"] == "FULL"
        with pytest.raises(ValueError, match="synchronous"):
            SQLiteCheckpointStore(sqlite_path, synchronous="OFF")  # type: ignore[arg-type]

    def test_memory_database(self) -> None:
        with SQLiteCheckpointStore(":memory:") as store:
            assert store.path == ":memory:"
            assert store.pragmas["journal_mode"] == "memory"
            drive(store.save(make_checkpoint(1)))
            assert drive(store.thread_exists("thread-1"))

    def test_context_manager_closes_and_close_is_idempotent(
        self, sqlite_path: Path
    ) -> None:
        with SQLiteCheckpointStore(sqlite_path) as store:
            drive(store.save(make_checkpoint(1)))
        store.close()
        with pytest.raises(StoreClosedError, match="closed") as info:
            drive(store.load_latest("thread-1"))
        assert info.value.code == "store-closed"
        assert info.value.store == "SQLiteCheckpointStore"
        assert info.value.path == str(sqlite_path)
        with pytest.raises(StoreClosedError, match="closed"):
            drive(store.save(make_checkpoint(2)))
        with pytest.raises(StoreClosedError, match="closed"):
            drive(store.list_checkpoints("thread-1"))
        with pytest.raises(StoreClosedError, match="closed"):
            drive(store.thread_exists("thread-1"))
        with pytest.raises(StoreClosedError, match="closed"):
            store.storage_stats()

    def test_negative_limit_is_refused(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        with pytest.raises(ValueError, match="limit"):
            drive(open_sqlite().list_checkpoints("thread-1", -1))

    def test_body_covers_every_checkpoint_field(self) -> None:
        """The row keeps id, thread, run and step as columns, ``global_data`` as
        chains or inline bytes, and everything else in the MessagePack body: a new ``Checkpoint``
        field must be added there too."""
        from hive_core.persistence._sqlite_rows import Body

        columns = {"id", "thread_id", "run_id", "step_index", "global_data"}
        body = set(Body.__struct_fields__) - {"channels", "inline"}
        assert set(Checkpoint.__struct_fields__) == columns | body
        assert not columns & body

    def test_summaries_are_summary_structs(
        self, open_sqlite: Callable[[], SQLiteCheckpointStore]
    ) -> None:
        store = open_sqlite()
        drive(store.save(full_checkpoint()))
        (summary,) = drive(store.list_checkpoints("thread-1"))
        assert type(summary) is CheckpointSummary
        assert summary == summarize(full_checkpoint())
