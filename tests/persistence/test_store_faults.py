"""Fault injection: whatever goes wrong under a store, only a ``HiveError`` comes out.

Damaged, truncated and foreign files, a second real connection holding the write
lock, bad thread ids, columns tampered with behind the store's back and single bit
flips in stored bodies, against both checkpoint stores and the SQLite memory store.
No ``sqlite3`` error, ``UnicodeError`` or ``TypeError`` may escape, and a flipped
bit must never load as a checkpoint with other content.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from hive_core.errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    HiveError,
)
from hive_core.memory import (
    InvalidNamespaceError,
    MemoryStoreClosedError,
    MemoryStoreError,
    SQLiteMemoryStore,
)
from hive_core.persistence import (
    MAX_THREAD_ID_BYTES,
    BusyPolicy,
    Checkpoint,
    CheckpointInterruption,
    FrontierEntry,
    InMemoryCheckpointStore,
    InvalidStoreOptionError,
    InvalidThreadIdError,
    SQLiteCheckpointStore,
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
    decode_checkpoint,
    encode_checkpoint,
    validate_thread_id,
)

T = TypeVar("T")
THREAD = "thread-1"


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run an inline store's coroutine (it never suspends)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("an inline store's coroutine suspended")


def make_checkpoint(step: int, thread_id: str = THREAD, size: int = 200) -> Checkpoint:
    return Checkpoint(
        id=hashlib.sha256(f"{thread_id}/{step}".encode()).hexdigest(),
        thread_id=thread_id,
        run_id="run-1",
        step_index=step,
        schema_version="s" * 64,
        graph_version="g" * 64,
        global_data={"log": b"[" + b"x" * (size + step) + b"]", "cfg": b"{}"},
        frontier=(
            FrontierEntry(node="work", fingerprint=bytes(range(32)), local={"a": b"1"}),
        ),
        join_barriers={"join:a+b:c": ("a",)},
        interruption=CheckpointInterruption(id="i-1", node="work", payload=b'"ok?"')
        if step % 2
        else None,
    )


def sql(path: Path, *statements: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Edit the file behind the store's back (the last statement's rows)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows: list[Any] = []
        for statement in statements:
            rows = conn.execute(
                statement, params if statement is statements[-1] else ()
            ).fetchall()
        return rows
    finally:
        conn.close()


def only_hive_errors(*calls: Callable[[], object]) -> list[HiveError]:
    """Run each call; every exception must be a HiveError. Returns those raised."""
    raised: list[HiveError] = []
    for call in calls:
        try:
            call()
        except HiveError as exc:
            raised.append(exc)
        except Exception as exc:  # pragma: no cover - this is the failure
            pytest.fail(f"{type(exc).__module__}.{type(exc).__name__} escaped: {exc}")
    return raised


def exercise_checkpoints(path: Path) -> list[HiveError]:
    """Open a checkpoint store on ``path`` and use every method."""
    holder: list[SQLiteCheckpointStore] = []

    def open_() -> None:
        holder.append(SQLiteCheckpointStore(path, timeout=0.2))

    raised = only_hive_errors(open_)
    if holder:
        store = holder[0]
        raised += only_hive_errors(
            lambda: drive(store.load_latest(THREAD)),
            lambda: drive(store.list_checkpoints(THREAD)),
            lambda: drive(store.load_checkpoint(THREAD, make_checkpoint(3).id)),
            lambda: drive(store.thread_exists(THREAD)),
            lambda: drive(store.save(make_checkpoint(99))),
            store.storage_stats,
        )
        store.close()
    return raised


def exercise_memory(path: Path) -> list[HiveError]:
    holder: list[SQLiteMemoryStore] = []

    def open_() -> None:
        holder.append(SQLiteMemoryStore(path, timeout=0.2))

    raised = only_hive_errors(open_)
    if holder:
        store = holder[0]
        raised += only_hive_errors(
            lambda: asyncio.run(store.recall(("user", "1"), "note")),
            lambda: asyncio.run(store.get(("user", "1"), "k3")),
            lambda: asyncio.run(store.remember(("user", "1"), "new", "a new note")),
            lambda: asyncio.run(store.delete(("user", "1"), "k4")),
        )
        store.close()
    return raised


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    """A closed file (WAL folded back in) with many pages of checkpoints."""
    path = tmp_path / "checkpoints.db"
    with SQLiteCheckpointStore(path) as store:
        for step in range(120):
            drive(store.save(make_checkpoint(step, size=2000 * (step % 3))))
    return path


@pytest.fixture
def memory_file(tmp_path: Path) -> Path:
    path = tmp_path / "memory.db"

    async def fill() -> None:
        with SQLiteMemoryStore(path) as store:
            for i in range(300):
                await store.remember(("user", "1"), f"k{i}", f"note {i} " * 20)

    asyncio.run(fill())
    return path


# ------------------------------------------------------------- damaged files

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "random-bytes": lambda data: random.Random(7).randbytes(len(data)),
    "text-file": lambda data: b"this is not SQLite\n" * 200,
    "truncated-half": lambda data: data[: len(data) // 2],
    "truncated-header": lambda data: data[:100],
    "truncated-odd": lambda data: data[: len(data) - 1234],
    "garbage-pages": lambda data: (
        data[:4096] + random.Random(3).randbytes(len(data) - 4096)
    ),
    "bad-header": lambda data: b"SQLite format 3\x00" + bytes(84) + data[100:],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_checkpoint_file(checkpoint_file: Path, damage: str) -> None:
    checkpoint_file.write_bytes(DAMAGE[damage](checkpoint_file.read_bytes()))
    raised = exercise_checkpoints(checkpoint_file)
    assert raised, "a damaged file went unnoticed"
    damaged = [e for e in raised if isinstance(e, StoreDamagedError)]
    for exc in damaged:
        assert exc.path == str(checkpoint_file)
        assert str(checkpoint_file) in str(exc)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_memory_file(memory_file: Path, damage: str) -> None:
    memory_file.write_bytes(DAMAGE[damage](memory_file.read_bytes()))
    raised = exercise_memory(memory_file)
    assert raised, "a damaged file went unnoticed"
    for exc in raised:
        if isinstance(exc, StoreDamagedError):
            assert exc.path == str(memory_file)


@pytest.mark.parametrize("make_store", [SQLiteCheckpointStore, SQLiteMemoryStore])
def test_opening_a_foreign_file_names_it(
    tmp_path: Path, make_store: Callable[[Path], object]
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
    with pytest.raises(StoreDamagedError) as info:
        make_store(path)
    assert info.value.path == str(path)
    assert info.value.operation == "open"
    assert "not a database" in info.value.reason
    assert not info.value.retryable


def test_a_table_dropped_under_an_open_store(checkpoint_file: Path) -> None:
    with SQLiteCheckpointStore(checkpoint_file) as store:
        sql(checkpoint_file, "DROP TABLE hive_checkpoint_blobs")
        with pytest.raises(StoreDamagedError, match="no such table"):
            drive(store.load_latest(THREAD))
        with pytest.raises(StoreDamagedError):
            drive(store.save(make_checkpoint(200)))
    # Reopened, the table is back but empty: the chains are gone, and say so.
    assert all(
        isinstance(e, CheckpointCorruptError)
        for e in exercise_checkpoints(checkpoint_file)
    )


def test_a_column_dropped_from_the_file(checkpoint_file: Path) -> None:
    sql(checkpoint_file, "ALTER TABLE hive_checkpoints DROP COLUMN body_crc")
    raised = exercise_checkpoints(checkpoint_file)
    assert raised and all(isinstance(e, StoreDamagedError) for e in raised)


def test_a_memory_table_dropped_under_an_open_store(memory_file: Path) -> None:
    store = SQLiteMemoryStore(memory_file)
    try:
        sql(memory_file, "DROP TABLE hive_memory_log")
        with pytest.raises(StoreDamagedError, match="no such table"):
            asyncio.run(store.remember(("user", "1"), "k", "text"))
    finally:
        store.close()


# ------------------------------------------------------------- locked database


class FakeClock:
    """A deadline clock that only moves when the store sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class LockHolder:
    """A second real connection, in its own thread, holding the write lock until
    ``release()``; barriers order everything, nothing sleeps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Timeouts only turn a broken test into a failure instead of a hang.
        self._locked = threading.Barrier(2, timeout=60)
        self._release = threading.Event()
        self._released = threading.Barrier(2, timeout=60)
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock at once
        self._locked.wait()
        self._release.wait(timeout=60)
        conn.execute("ROLLBACK")
        conn.close()
        self._released.wait()

    def __enter__(self) -> LockHolder:
        self._thread.start()
        self._locked.wait()
        return self

    def release(self) -> None:
        if not self._release.is_set():
            self._release.set()
            self._released.wait()

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._thread.join()


def test_a_held_lock_ends_in_a_retryable_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLiteCheckpointStore(path) as writer:
        for step in range(3):
            drive(writer.save(make_checkpoint(step)))
    fake = FakeClock()
    policy = BusyPolicy(
        timeout=1.0,
        attempt_timeout=0,
        first_backoff=0.01,
        max_backoff=0.2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    with (
        LockHolder(path),
        SQLiteCheckpointStore(path, timeout=policy) as store,
        pytest.raises(StoreBusyError) as info,
    ):
        drive(store.save(make_checkpoint(3)))
    err = info.value
    assert err.retryable and err.code == "store-busy"
    assert err.operation == "save" and err.path == str(path)
    assert err.waited >= 1.0 and err.attempts == len(fake.sleeps) + 1
    # Exponential backoff, capped, never past the deadline.
    assert fake.sleeps[:4] == [0.01, 0.02, 0.04, 0.08]
    assert max(fake.sleeps) <= 0.2 and sum(fake.sleeps) == pytest.approx(1.0)
    # Committed checkpoints are intact and the failed save wrote nothing.
    with SQLiteCheckpointStore(path) as store:
        assert drive(store.load_latest(THREAD)) == make_checkpoint(2)
        assert len(drive(store.list_checkpoints(THREAD))) == 3


def test_a_lock_released_while_retrying_lets_the_save_through(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    SQLiteCheckpointStore(path).close()
    holder = LockHolder(path)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            holder.release()  # returns once the other connection rolled back

    policy = BusyPolicy(timeout=60, attempt_timeout=0, sleep=sleep)
    with holder, SQLiteCheckpointStore(path, timeout=policy) as store:
        drive(store.save(make_checkpoint(0)))
        assert drive(store.load_latest(THREAD)) == make_checkpoint(0)
    assert len(pauses) == 3


def test_memory_store_waits_then_raises_busy(memory_file: Path) -> None:
    fake = FakeClock()
    policy = BusyPolicy(
        timeout=0.5, attempt_timeout=0, clock=fake.clock, sleep=fake.sleep
    )
    holder = LockHolder(memory_file)
    store = SQLiteMemoryStore(memory_file, timeout=policy)
    try:
        with holder:
            with pytest.raises(StoreBusyError) as info:
                asyncio.run(store.remember(("user", "1"), "k-new", "blocked"))
            assert info.value.retryable
            # Reads do not need the write lock in WAL mode.
            assert asyncio.run(store.get(("user", "1"), "k1")) is not None
        asyncio.run(store.remember(("user", "1"), "k-new", "after the release"))
        item = asyncio.run(store.get(("user", "1"), "k-new"))
        assert item is not None and item.text == "after the release"
    finally:
        store.close()


def test_the_real_clock_gives_up_within_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    SQLiteCheckpointStore(path).close()
    with LockHolder(path), SQLiteCheckpointStore(path, timeout=0.05) as store:
        started = time.monotonic()
        with pytest.raises(StoreBusyError):
            drive(store.save(make_checkpoint(0)))
        assert time.monotonic() - started < 5  # bounded: 0.05 s + one attempt


def test_writer_contention_is_absorbed_by_retries(tmp_path: Path) -> None:
    """Four stores on one file saving at once, with a short busy timeout per
    attempt: retries absorb the contention and every checkpoint is stored."""
    path = tmp_path / "contended.db"
    SQLiteCheckpointStore(path).close()
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        policy = BusyPolicy(timeout=30, attempt_timeout=0.001)
        with SQLiteCheckpointStore(path, timeout=policy) as store:
            start.wait()
            try:
                for step in range(25):
                    drive(store.save(make_checkpoint(step, thread_id=f"t{n}")))
            except BaseException as exc:  # pragma: no cover - the failure
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with SQLiteCheckpointStore(path) as store:
        for n in range(4):
            assert len(drive(store.list_checkpoints(f"t{n}"))) == 25


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True])
def test_busy_policy_rejects_bad_timeouts(bad: object) -> None:
    with pytest.raises(InvalidStoreOptionError) as info:
        BusyPolicy(timeout=bad)  # type: ignore[arg-type]
    assert info.value.option == "timeout"


# ------------------------------------------------------------- bad thread ids

BAD_IDS: dict[str, object] = {
    "none": None,
    "empty": "",
    "lone-surrogate": "thread-\ud800",
    "over-long": "x" * (MAX_THREAD_ID_BYTES + 1),
    "over-long-utf8": "é" * (MAX_THREAD_ID_BYTES // 2 + 1),
    "nul": "thread\x00id",
    "int": 42,
    "bytes": b"thread-1",
}


def checkpoint_stores(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    yield "memory", InMemoryCheckpointStore()
    with SQLiteCheckpointStore(tmp_path / "ids.db") as store:
        yield "sqlite", store


def bad_id_calls(
    store: Any, value: Any
) -> list[Callable[[], Coroutine[Any, Any, object]]]:
    """Every checkpoint store entry point, called with the bad id ``value``."""
    bad_cp = msgspec.structs.replace(make_checkpoint(0), thread_id=value)
    return [
        partial(store.save, bad_cp),
        partial(store.load_latest, value),
        partial(store.list_checkpoints, value),
        partial(store.load_checkpoint, value, "x"),
        partial(store.load_checkpoint, THREAD, value),
        partial(store.thread_exists, value),
    ]


@pytest.mark.parametrize("bad", sorted(BAD_IDS))
def test_bad_thread_ids_are_refused_everywhere(tmp_path: Path, bad: str) -> None:
    value: Any = BAD_IDS[bad]
    for _, store in checkpoint_stores(tmp_path):
        for call in bad_id_calls(store, value):
            with pytest.raises(InvalidThreadIdError) as info:
                drive(call())
            assert info.value.code == "invalid-thread-id"
            assert len(info.value.value_repr) <= 80
            assert isinstance(info.value, ValueError)
        assert not drive(store.thread_exists(THREAD))  # nothing was saved


def test_the_id_limit_is_inclusive() -> None:
    assert validate_thread_id("x" * MAX_THREAD_ID_BYTES) == "x" * MAX_THREAD_ID_BYTES
    assert validate_thread_id("é" * (MAX_THREAD_ID_BYTES // 2))
    with pytest.raises(InvalidThreadIdError, match="fork target"):
        validate_thread_id("", what="fork target")


@pytest.mark.parametrize(
    "namespace",
    [(None,), ("",), ("\ud800",), ("x" * (MAX_THREAD_ID_BYTES + 1),), "user"],
    ids=["none", "empty", "surrogate", "over-long", "str"],
)
def test_bad_namespace_parts_are_refused_by_the_memory_store(
    tmp_path: Path, namespace: Any
) -> None:
    with SQLiteMemoryStore(tmp_path / "ns.db") as store:
        for call in (
            lambda: store.remember(namespace, "k", "t"),
            lambda: store.get(namespace, "k"),
            lambda: store.recall(namespace, "t"),
            lambda: store.delete(namespace, "k"),
        ):
            with pytest.raises(InvalidNamespaceError):
                asyncio.run(call())


# ------------------------------------------------------------- tampered columns


def unconstrained(path: Path) -> None:
    """Rebuild ``hive_checkpoints`` without its NOT NULL constraints."""
    sql(
        path,
        "CREATE TABLE loose AS SELECT * FROM hive_checkpoints",
        "DROP TABLE hive_checkpoints",
        "ALTER TABLE loose RENAME TO hive_checkpoints",
    )


TAMPER = {
    "step-index-text": "UPDATE hive_checkpoints SET step_index = 'three'",
    "step-index-real": "UPDATE hive_checkpoints SET step_index = step_index + 0.5",
    "run-id-blob": "UPDATE hive_checkpoints SET run_id = X'00ff'",
    "run-id-int": "UPDATE hive_checkpoints SET run_id = 7",
    "checkpoint-id-int": "UPDATE hive_checkpoints SET checkpoint_id = 12",
    "body-null": "UPDATE hive_checkpoints SET body = NULL",
    "body-garbage": "UPDATE hive_checkpoints SET body = randomblob(40)",
    "body-text": "UPDATE hive_checkpoints SET body = 'text'",
    "crc-null": "UPDATE hive_checkpoints SET body_crc = NULL",
    "crc-text": "UPDATE hive_checkpoints SET body_crc = 'abc'",
    "crc-off-by-one": "UPDATE hive_checkpoints SET body_crc = body_crc + 1",
    "flag-null": "UPDATE hive_checkpoints SET has_interruption = NULL",
    "flag-flipped": "UPDATE hive_checkpoints SET has_interruption = 1 - has_interruption",
    "step-moved": "UPDATE hive_checkpoints SET step_index = step_index + 1000",
    "schema-version-blob": "UPDATE hive_checkpoint_threads SET schema_version = X'01'",
    "graph-version-changed": "UPDATE hive_checkpoint_threads SET graph_version = 'other'",
    "thread-id-invalid-utf8": "UPDATE hive_checkpoint_threads SET thread_id = CAST(X'ff' AS TEXT)",
    "blob-data-text": "UPDATE hive_checkpoint_blobs SET data = 'text'",
    "blob-prefix-text": "UPDATE hive_checkpoint_blobs SET prefix = 'p'",
    "blob-crc-null": "UPDATE hive_checkpoint_blobs SET crc = 0",
    "stream-head-back": "UPDATE hive_checkpoint_streams SET head = 0",
    "meta-version-blob": "UPDATE hive_checkpoint_meta SET value = X'02'",
}


@pytest.mark.parametrize("tamper", sorted(TAMPER))
def test_tampered_checkpoint_columns(tmp_path: Path, tamper: str) -> None:
    path = tmp_path / "tampered.db"
    with SQLiteCheckpointStore(path) as store:
        for step in range(4):
            drive(store.save(make_checkpoint(step)))
    unconstrained(path)
    sql(path, TAMPER[tamper])
    raised = exercise_checkpoints(path)
    assert raised, f"{tamper} went unnoticed"
    if tamper.startswith(("body", "crc", "flag", "step", "run", "checkpoint-id")):
        # Loads name the damage; a save into the rebuilt table (which lost its
        # UNIQUE constraint) is refused as a damaged file.
        typed = (CheckpointDecodeError, CheckpointCorruptError)
        assert any(isinstance(e, typed) for e in raised)
        assert all(isinstance(e, (*typed, StoreDamagedError)) for e in raised)


MEMORY_TAMPER = {
    "text-blob": "UPDATE hive_memory_items SET text = X'00ff'",
    "metadata-garbage": "UPDATE hive_memory_items SET metadata = '{not json'",
    "metadata-list": "UPDATE hive_memory_items SET metadata = '[1, 2]'",
    "metadata-ints": "UPDATE hive_memory_items SET metadata = '{\"a\": 1}'",
    "log-namespace-garbage": (
        "UPDATE hive_memory_log SET ns = 'not json', seq = seq + 100000 "
        "WHERE key = 'k5'"
    ),
    "namespaces-garbage": """UPDATE hive_memory_namespaces SET ns = '["user",1]'""",
    "meta-tokenizer": "UPDATE hive_memory_meta SET value = 'v0' WHERE name = 'tokenizer'",
}


@pytest.mark.parametrize("tamper", sorted(MEMORY_TAMPER))
def test_tampered_memory_columns(memory_file: Path, tamper: str) -> None:
    warm = SQLiteMemoryStore(memory_file)  # an open store with a warm index
    try:
        asyncio.run(warm.recall(("user", "1"), "note"))
        sql(memory_file, MEMORY_TAMPER[tamper])
        raised = only_hive_errors(
            lambda: asyncio.run(warm.remember(("user", "1"), "k-late", "a late note")),
            lambda: asyncio.run(
                warm.recall(("user",), "note", include_descendants=True)
            ),
        )
        raised += exercise_memory(memory_file)
    finally:
        warm.close()
    assert raised, f"{tamper} went unnoticed"
    assert all(isinstance(e, MemoryStoreError | StoreDamagedError) for e in raised)


# ------------------------------------------------------------- flipped bits


def flips(data: bytes, count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        bit = rng.randrange(len(data) * 8)
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield bytes(flipped)


def test_80_bit_flips_in_sqlite_bodies_are_all_detected(tmp_path: Path) -> None:
    path = tmp_path / "flips.db"
    cps = [make_checkpoint(step) for step in range(4)]
    with SQLiteCheckpointStore(path) as store:
        for cp in cps:
            drive(store.save(cp))
    rows = sql(
        path, "SELECT checkpoint_id, body FROM hive_checkpoints ORDER BY step_index"
    )
    detected = 0
    with SQLiteCheckpointStore(path) as store:
        for n, (cp, (cid, body)) in enumerate(zip(cps, rows, strict=True)):
            for flipped in flips(bytes(body), 20, seed=n):
                sql(
                    path,
                    "UPDATE hive_checkpoints SET body = ? WHERE checkpoint_id = ?",
                    params=(flipped, cid),
                )
                with pytest.raises(CheckpointCorruptError) as info:
                    drive(store.load_checkpoint(THREAD, cp.id))
                assert info.value.checkpoint_id == cp.id
                assert info.value.thread_id == THREAD
                assert "CRC" in info.value.reason
                detected += 1
            sql(
                path,
                "UPDATE hive_checkpoints SET body = ? WHERE checkpoint_id = ?",
                params=(body, cid),
            )
            assert drive(store.load_checkpoint(THREAD, cp.id)) == cp
    assert detected == 80


def test_every_flipped_byte_of_a_sqlite_body_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "bytes.db"
    cp = make_checkpoint(1)
    with SQLiteCheckpointStore(path) as store:
        drive(store.save(cp))
        ((body,),) = [tuple(r) for r in sql(path, "SELECT body FROM hive_checkpoints")]
        for i in range(len(body)):
            flipped = bytearray(body)
            flipped[i] ^= 0xFF
            sql(path, "UPDATE hive_checkpoints SET body = ?", params=(bytes(flipped),))
            with pytest.raises(CheckpointCorruptError):
                drive(store.load_latest(THREAD))


def test_80_bit_flips_in_memory_store_entries_are_all_detected() -> None:
    store = InMemoryCheckpointStore()
    cps = [make_checkpoint(step) for step in range(4)]
    for cp in cps:
        drive(store.save(cp))
    entries = store._threads[THREAD]
    detected = 0
    for n, cp in enumerate(cps):
        original = entries[cp.id]
        for flipped in flips(original, 20, seed=100 + n):
            entries[cp.id] = flipped
            with pytest.raises(CheckpointCorruptError) as info:
                drive(store.load_checkpoint(THREAD, cp.id))
            assert info.value.checkpoint_id == cp.id
            assert info.value.thread_id == THREAD
            detected += 1
        entries[cp.id] = original
        assert drive(store.load_checkpoint(THREAD, cp.id)) == cp
    assert detected == 80


def test_decode_checkpoint_detects_every_flip_and_names_what_it_was_asked() -> None:
    cp = make_checkpoint(3)
    data = encode_checkpoint(cp)
    assert decode_checkpoint(data) == cp
    for flipped in flips(data, 80, seed=5):
        with pytest.raises(CheckpointCorruptError):
            decode_checkpoint(flipped, thread_id=THREAD, checkpoint_id=cp.id)
    with pytest.raises(CheckpointDecodeError):
        decode_checkpoint(b"")
    with pytest.raises(CheckpointCorruptError, match="holds checkpoint"):
        decode_checkpoint(data, thread_id="another-thread")


# ------------------------------------------------------------- bad checkpoints


BAD_FIELDS: dict[str, dict[str, Any]] = {
    "step-text": {"step_index": "3"},
    "step-negative": {"step_index": -1},
    "step-bool": {"step_index": True},
    "run-id-none": {"run_id": None},
    "schema-int": {"schema_version": 1},
    "global-data-int": {"global_data": {"log": 1}},
    "global-data-list": {"global_data": [("log", b"x")]},
    "frontier-object": {"frontier": (object(),)},
    "barriers-wrong": {"join_barriers": {"j": 3}},
    "interruption-dict": {"interruption": {"id": "x"}},
}


@pytest.mark.parametrize("bad", sorted(BAD_FIELDS))
def test_a_checkpoint_with_wrong_field_types_is_refused_at_save(
    tmp_path: Path, bad: str
) -> None:
    cp = msgspec.structs.replace(make_checkpoint(0), **BAD_FIELDS[bad])
    for _, store in checkpoint_stores(tmp_path):
        with pytest.raises(CheckpointEncodeError):
            drive(store.save(cp))
        assert not drive(store.thread_exists(THREAD))
        assert drive(store.load_latest(THREAD)) is None


def test_closed_stores_share_one_error(tmp_path: Path) -> None:
    assert MemoryStoreClosedError is StoreClosedError
    checkpoints = SQLiteCheckpointStore(tmp_path / "c.db")
    memory = SQLiteMemoryStore(tmp_path / "m.db")
    checkpoints.close()
    memory.close()
    with pytest.raises(StoreClosedError) as first:
        drive(checkpoints.load_latest(THREAD))
    with pytest.raises(StoreClosedError) as second:
        asyncio.run(memory.get(("n",), "k"))
    assert first.value.code == second.value.code == "store-closed"
    assert (first.value.store, second.value.store) == (
        "SQLiteCheckpointStore",
        "SQLiteMemoryStore",
    )
