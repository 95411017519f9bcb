"""What one SQLite save executes: a fenced save of a known thread reads once.

The statements of a save are its cost at ``synchronous=NORMAL`` (docs/performance.md,
"Checkpoints"): a thread's row is read only on the store object's first save of it
(thread rows never change once committed), and the fence and the stream rows come
from one statement. A save of a known thread whose channels are all inline is one
statement on a file with the keyed checkpoints table: the fence is inside the
upsert. The fence itself still holds: ``test_store_fencing.py`` and the
conformance suite check the refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hive_core.persistence import CheckpointConflict, SQLiteCheckpointStore
from hive_core.persistence._chains import INLINE_BYTES
from hive_core.persistence._fence import UNFENCED, Unfenced

from .store_support import as_rowid_shape, drive, make_checkpoint


def _traced_save(
    store: SQLiteCheckpointStore,
    step: int,
    expected: str | Unfenced | None,
    data: bytes | None = None,
) -> list[str]:
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        drive(
            store.save(
                make_checkpoint(step, {"n": data or str(step).encode()}),
                expected_latest=expected,
            )
        )
    finally:
        store._conn.set_trace_callback(None)
    return statements


def test_a_fenced_save_of_a_known_thread_reads_once(
    open_sqlite: Callable[[], SQLiteCheckpointStore],
) -> None:
    store = open_sqlite()
    first = _traced_save(store, 0, None)
    assert any("FROM hive_checkpoint_threads" in s for s in first)
    cid = make_checkpoint(0).id
    second = _traced_save(store, 1, cid, data=b"x" * (INLINE_BYTES + 1))
    selects = [s for s in second if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, second
    assert not any("hive_checkpoint_threads" in s for s in second), second
    assert second[0] == "BEGIN IMMEDIATE" and second[-1] == "COMMIT"
    latest = drive(store.load_latest("thread-1"))
    assert latest is not None and latest.step_index == 1


def test_the_remembered_thread_row_still_meets_the_fence(
    open_sqlite: Callable[[], SQLiteCheckpointStore], sqlite_path: Path
) -> None:
    store = open_sqlite()
    _traced_save(store, 0, None)
    with SQLiteCheckpointStore(sqlite_path) as other:
        # Another writer moves the thread on; this store's cached row is unchanged
        # but the fence is read inside the transaction.
        drive(other.save(make_checkpoint(1), expected_latest=make_checkpoint(0).id))
    with pytest.raises(CheckpointConflict) as caught:
        _traced_save(store, 1, make_checkpoint(0).id)
    assert caught.value.actual == make_checkpoint(1).id
    loaded = drive(store.load_latest("thread-1"))
    assert loaded is not None and loaded.id == make_checkpoint(1).id  # the other's
    assert _traced_save(store, 2, make_checkpoint(1).id)
    latest = drive(store.load_latest("thread-1"))
    assert latest is not None and latest.step_index == 2


def test_a_failed_first_save_remembers_no_thread_row(
    open_sqlite: Callable[[], SQLiteCheckpointStore],
) -> None:
    store = open_sqlite()
    with pytest.raises(CheckpointConflict):
        _traced_save(store, 0, make_checkpoint(5).id)
    assert not drive(store.thread_exists("thread-1"))
    statements = _traced_save(store, 0, None)
    # The rolled-back transaction's thread row was not kept: it is made again.
    assert any("INSERT INTO hive_checkpoint_threads" in s for s in statements)
    assert drive(store.thread_exists("thread-1"))


def test_a_save_of_small_channels_writes_only_the_checkpoint_row(
    open_sqlite: Callable[[], SQLiteCheckpointStore],
) -> None:
    """Channel bytes up to INLINE_BYTES live in the body: the save touches no blob
    or stream row, so its commit writes fewer pages, and with the fence inside the
    upsert it is one statement (docs/performance.md)."""
    store = open_sqlite()
    _traced_save(store, 0, None)
    second = _traced_save(store, 1, make_checkpoint(0).id)
    assert len(second) == 1, second  # the fenced upsert, its own transaction
    assert second[0].startswith("INSERT INTO hive_checkpoints "), second
    assert "SELECT checkpoint_id FROM hive_checkpoints" in second[0], second
    third = _traced_save(store, 2, UNFENCED)
    assert len(third) == 1 and "VALUES" in third[0], third
    latest = drive(store.load_latest("thread-1"))
    assert latest is not None and latest.global_data == {"n": b"2"}


def test_saving_the_latest_id_again_is_one_statement(
    open_sqlite: Callable[[], SQLiteCheckpointStore],
) -> None:
    """The fence holds when the id saved is the latest itself (a step saved
    twice): the one-statement path overwrites it."""
    store = open_sqlite()
    _traced_save(store, 0, None)
    cid = make_checkpoint(0).id
    again = _traced_save(store, 0, cid, data=b"again")
    assert len(again) == 1 and again[0].startswith("INSERT INTO"), again
    latest = drive(store.load_latest("thread-1"))
    assert latest is not None and latest.global_data == {"n": b"again"}
    assert [s.id for s in drive(store.list_checkpoints("thread-1"))] == [cid]


def test_a_load_remembers_the_thread_row_for_the_next_save(
    open_sqlite: Callable[[], SQLiteCheckpointStore],
) -> None:
    """A store that only loaded the thread (a resumed run, another process)
    saves its next step without reading the thread's row: one statement."""
    writer = open_sqlite()
    _traced_save(writer, 0, None)
    reader = open_sqlite()
    loaded = drive(reader.load_latest("thread-1"))
    assert loaded is not None
    first = _traced_save(reader, 1, loaded.id)
    assert len(first) == 1 and first[0].startswith("INSERT INTO"), first
    latest = drive(writer.load_latest("thread-1"))
    assert latest is not None and latest.step_index == 1


def test_a_rowid_file_saves_small_channels_in_a_transaction(
    sqlite_path: Path,
) -> None:
    """On the older rowid table the fence stays a read of its own, inside
    ``BEGIN IMMEDIATE`` (the upsert's subquery would sort there)."""
    with SQLiteCheckpointStore(sqlite_path) as store:
        _traced_save(store, 0, None)
    as_rowid_shape(sqlite_path)
    with SQLiteCheckpointStore(sqlite_path) as store:
        _traced_save(store, 1, make_checkpoint(0).id)
        second = _traced_save(store, 2, make_checkpoint(1).id)
        assert len(second) == 4, second  # BEGIN, the fence, the row, COMMIT
        assert second[0] == "BEGIN IMMEDIATE" and second[-1] == "COMMIT"
        assert not any("hive_checkpoint_blobs" in s for s in second), second
        with pytest.raises(CheckpointConflict):
            _traced_save(store, 3, make_checkpoint(0).id)
        latest = drive(store.load_latest("thread-1"))
        assert latest is not None and latest.global_data == {"n": b"2"}


def test_full_keeps_a_small_wal(sqlite_path: Path) -> None:
    """At FULL the WAL is copied back every FULL_WAL_PAGES pages (a fsync of a
    growing file costs more); NORMAL keeps SQLite's default."""
    from hive_core.persistence._connection import FULL_WAL_PAGES

    with SQLiteCheckpointStore(sqlite_path, synchronous="FULL") as store:
        (pages,) = store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert pages == FULL_WAL_PAGES
    with SQLiteCheckpointStore(sqlite_path) as store:
        (pages,) = store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert pages == 1000
