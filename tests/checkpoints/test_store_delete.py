"""``delete_thread`` on every store (``docs/persistence.md``, "Deleting a thread").

A deleted thread leaves nothing behind, other threads keep everything, and its id
starts a new thread. What another store object still remembers of the deleted
thread (its thread row, its stream heads' bytes) must never be taken for the new
thread's: the tests give a second store object warm caches, delete under it, and
check that what it saves next loads back byte for byte.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from hive_core.persistence import (
    CheckpointConflict,
    InvalidThreadIdError,
    SQLiteCheckpointStore,
)

from .store_support import Backend, SyncStore, make_checkpoint

RUN_2 = uuid.UUID(int=0x5678)
BIG = 200
"""Bytes of a channel value: past ``INLINE_BYTES``, so it lives in a stream and
later versions are deltas of the head (their first ``BIG`` bytes are shared)."""


def value(stem: bytes, n: int) -> bytes:
    return stem * BIG + str(n).encode()


def fill(backend: Backend, thread_id: str, stem: bytes, steps: int) -> list[str]:
    """``steps`` checkpoints of ``thread_id``, each fenced on the one before."""
    ids: list[str] = []
    for step in range(steps):
        cp = make_checkpoint(
            step,
            {"log": value(stem, step), "n": str(step).encode()},
            thread_id=thread_id,
        )
        backend.store.save(cp, expected_latest=ids[-1] if ids else None)
        ids.append(cp.id)
    return ids


class TestDeleteThread:
    def test_deletes_every_checkpoint_of_the_thread_and_nothing_else(
        self, backend: Backend
    ) -> None:
        fill(backend, "gone", b"a", 4)
        kept = fill(backend, "kept", b"b", 3)
        assert backend.store.delete_thread("gone") is True

        def check(store: SyncStore) -> None:
            assert store.load_latest("gone") is None
            assert store.list_checkpoints("gone") == []
            assert store.thread_exists("gone") is False
            latest = store.load_latest("kept")
            assert latest is not None and latest.id == kept[-1]
            assert latest.global_data["log"] == value(b"b", 2)
            assert [s.id for s in store.list_checkpoints("kept")] == kept[::-1]

        check(backend.store)
        check(backend.reopen())
        assert backend.store.delete_thread("gone") is False
        assert backend.store.delete_thread("never-saved") is False

    def test_a_bad_id_is_refused(self, backend: Backend) -> None:
        for bad in ("", "nul\x00", 7):
            with pytest.raises(InvalidThreadIdError):
                backend.store.delete_thread(bad)  # type: ignore[arg-type]

    def test_the_id_starts_a_new_thread_and_old_fences_fail(
        self, backend: Backend
    ) -> None:
        old = fill(backend, "t", b"a", 3)
        backend.store.delete_thread("t")
        stale = make_checkpoint(3, {"log": value(b"a", 3)}, thread_id="t")
        with pytest.raises(CheckpointConflict) as info:
            backend.store.save(stale, expected_latest=old[-1])
        assert info.value.actual is None
        assert backend.store.load_latest("t") is None  # the refused save wrote nothing
        fresh = make_checkpoint(0, {"log": value(b"c", 0)}, thread_id="t", run=RUN_2)
        backend.store.save(fresh, expected_latest=None)
        loaded = backend.reopen().load_latest("t")
        assert loaded is not None and loaded.id == fresh.id
        assert loaded.global_data == fresh.global_data

    def test_another_store_objects_memory_of_the_thread_is_never_reused(
        self, backend: Backend
    ) -> None:
        """``other`` saved the thread (so it remembers its row and stream heads);
        then the thread is deleted and written again through ``backend.store``
        with values sharing the old head's first bytes but not the new head's.
        A delta built on the remembered head would rebuild to the wrong bytes."""
        ids = fill(backend, "t", b"a", 1)
        other = backend.open()
        step1 = make_checkpoint(1, {"log": value(b"a", 1)}, thread_id="t")
        other.save(step1, expected_latest=ids[-1])  # its head: version 1
        assert backend.store.delete_thread("t") is True
        again: list[str] = []
        for step in range(2):  # the new thread's head: version 1 again
            head = b"a" * (BIG // 2) + b"z" * (BIG // 2) + str(step).encode()
            cp = make_checkpoint(step, {"log": head}, thread_id="t", run=RUN_2)
            backend.store.save(cp, expected_latest=again[-1] if again else None)
            again.append(cp.id)
        mine = make_checkpoint(2, {"log": value(b"a", 2)}, thread_id="t", run=RUN_2)
        other.save(mine, expected_latest=again[-1])

        def check(store: SyncStore) -> None:
            loaded = store.load_latest("t")
            assert loaded is not None and loaded.id == mine.id
            assert loaded.global_data["log"] == value(b"a", 2)
            earlier = store.load_checkpoint("t", again[-1])
            assert earlier is not None
            assert earlier.global_data["log"] == b"a" * 100 + b"z" * 100 + b"1"

        check(other)
        check(backend.store)
        check(backend.reopen())

    def test_a_new_thread_saved_by_a_store_that_remembers_the_old_one(
        self, backend: Backend
    ) -> None:
        """Right after the delete, the store object that remembers the thread
        saves a new thread under its id (a fresh run: no checkpoint expected)."""
        ids = fill(backend, "t", b"a", 3)
        other = backend.open()
        other.save(
            make_checkpoint(3, {"log": value(b"a", 3)}, thread_id="t"),
            expected_latest=ids[-1],
        )
        backend.store.delete_thread("t")
        first = make_checkpoint(0, {"log": value(b"a", 9)}, thread_id="t", run=RUN_2)
        other.save(first, expected_latest=None)

        def check(store: SyncStore) -> None:
            loaded = store.load_latest("t")
            assert loaded is not None and loaded.id == first.id
            assert loaded.global_data["log"] == value(b"a", 9)
            assert [s.id for s in store.list_checkpoints("t")] == [first.id]

        check(other)
        check(backend.reopen())


class TestSQLiteDeleteFreesRows:
    def test_blob_rows_go_and_stream_keys_are_not_handed_out_again(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "hive.db"
        with SQLiteCheckpointStore(path) as raw:
            store = SyncStore(raw)
            for tid in ("a", "b"):
                for step in range(3):
                    cp = make_checkpoint(
                        step, {"log": value(b"x", step)}, thread_id=tid
                    )
                    store.save(cp)
            before = raw.storage_stats()
            assert store.delete_thread("b") is True
            after = raw.storage_stats()
            assert after["checkpoints"] == before["checkpoints"] - 3
            assert (
                after["snapshots"] + after["deltas"]
                == (before["snapshots"] + before["deltas"]) // 2
            )
            store.save(make_checkpoint(0, {"log": value(b"y", 0)}, thread_id="c"))
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(
                "SELECT stream, thread FROM hive_checkpoint_streams ORDER BY stream"
            ).fetchall()
        finally:
            conn.close()
        (_, a_thread), (b_key, b_thread), (c_key, c_thread) = rows
        assert b_thread == -b_key  # the tombstone keeps its key taken
        assert c_key > b_key and a_thread > 0 and c_thread > 0
