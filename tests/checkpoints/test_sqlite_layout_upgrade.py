"""Layouts 3 and 4 of the SQLite checkpoint file, and older files opened by them.

Layout 3 stores frontier entries as arrays and a canonical run id as its 16 UUID
bytes (``hive_core/persistence/_sqlite_rows.py``); layout 4 keeps small channel
bytes in the body (``Body.inline``). A layout-2 file (map entries, text run ids)
or a layout-3 file (every channel a stream) loads unchanged and is upgraded on
opening by rewriting its version row only. See
``docs/concepts/checkpoint-storage.md``.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from pathlib import Path

import msgspec
import pytest

from hive_core.persistence import STORE_SCHEMA_VERSION, SQLiteCheckpointStore
from hive_core.persistence._chains import INLINE_BYTES
from hive_core.persistence._format import FrontierEntry
from hive_core.persistence._sqlite_rows import (
    LATEST_ID,
    SELECT_LATEST,
    SELECT_SUMMARIES,
    Body,
    body_crc,
    decode_body,
    encode_body,
)

from .store_support import as_rowid_shape, drive, make_checkpoint, rebuild_as_rowid

FP = bytes(range(32))


def _checkpoints(run: uuid.UUID) -> list[object]:
    frontier = (
        FrontierEntry(node="a", fingerprint=FP),
        FrontierEntry(
            node="b",
            provenance="spawn",
            is_join=True,
            fingerprint=FP,
            local={"x": b"1"},
        ),
    )
    return [
        make_checkpoint(step, {"n": str(step).encode()}, run=run, frontier=frontier)
        for step in range(3)
    ]


_ROWS = (
    "SELECT c.rowid, c.checkpoint_id, c.run_id, c.step_index, "
    "c.has_interruption, c.body, t.thread_id, t.schema_version, "
    "t.graph_version FROM hive_checkpoints AS c JOIN hive_checkpoint_threads "
    "AS t ON t.thread = c.thread"
)


def _as_layout_2(path: Path) -> None:
    """Rewrite every row as layout 2 wrote it: map entries, text run id."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        rebuild_as_rowid(conn)
        rows = conn.execute(_ROWS).fetchall()
        for rowid, cid, run, step, flag, raw, thread, schema, graph in rows:
            run_id = str(uuid.UUID(bytes=run))
            old = decode_body(raw)
            entries = tuple(
                FrontierEntry(
                    node=e[0],
                    provenance=e[1],
                    is_join=e[2],
                    fingerprint=e[3],
                    local=e[4],
                )
                for e in old.frontier
                if not isinstance(e, FrontierEntry)
            )
            # Layout 2 had no ``inline`` field: the body is its first seven.
            fields = msgspec.structs.astuple(
                msgspec.structs.replace(old, frontier=entries)
            )
            assert not old.inline, "write the file with nothing inline"
            body = encode_body(fields[:7])
            crc = body_crc(thread, cid, run_id, step, flag, schema, graph, body)
            conn.execute(
                "UPDATE hive_checkpoints SET run_id = ?, body = ?, body_crc = ? "
                "WHERE rowid = ?",
                (run_id, body, crc, rowid),
            )
        conn.execute(
            "UPDATE hive_checkpoint_meta SET value = '2' WHERE name = 'schema_version'"
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _meta(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"
        ).fetchone()
        return str(row[0])
    finally:
        conn.close()


def test_layout_3_rows_are_compact(tmp_path: Path) -> None:
    path = tmp_path / "hive.db"
    run = uuid.UUID(int=7)
    with SQLiteCheckpointStore(path) as store:
        for cp in _checkpoints(run):
            drive(store.save(cp))  # type: ignore[arg-type]
    assert _meta(path) == STORE_SCHEMA_VERSION == "4"
    conn = sqlite3.connect(path)
    try:
        run_id, raw = conn.execute(
            "SELECT run_id, body FROM hive_checkpoints LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    assert run_id == run.bytes
    body = decode_body(raw)
    assert isinstance(body, Body)
    assert all(isinstance(e, tuple) for e in body.frontier)


def test_a_non_canonical_run_id_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "hive.db"
    cp = make_checkpoint(0, {}, cid="c0")
    odd = msgspec.structs.replace(cp, run_id=cp.run_id.upper())
    with SQLiteCheckpointStore(path) as store:
        drive(store.save(odd))
        loaded = drive(store.load_checkpoint("thread-1", "c0"))
        summary = drive(store.list_checkpoints("thread-1"))[0]
    assert loaded is not None and loaded.run_id == odd.run_id
    assert summary.run_id == odd.run_id


def _as_layout_3(path: Path) -> None:
    """Drop the ``inline`` field of every body, as layout 3 wrote them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        rebuild_as_rowid(conn)
        rows = conn.execute(_ROWS).fetchall()
        for rowid, cid, run, step, flag, raw, thread, schema, graph in rows:
            old = decode_body(raw)
            assert not old.inline, "write the file with nothing inline"
            body = encode_body(msgspec.structs.astuple(old)[:7])
            run_id = str(uuid.UUID(bytes=run))
            crc = body_crc(thread, cid, run_id, step, flag, schema, graph, body)
            conn.execute(
                "UPDATE hive_checkpoints SET body = ?, body_crc = ? WHERE rowid = ?",
                (body, crc, rowid),
            )
        conn.execute(
            "UPDATE hive_checkpoint_meta SET value = '3' WHERE name = 'schema_version'"
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _save_streamed(path: Path, cps: list[object]) -> None:
    """Save with nothing inline, as layouts 2 and 3 stored every channel."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("hive_core.persistence._sqlite.INLINE_BYTES", -1)
        with SQLiteCheckpointStore(path) as store:
            for cp in cps:
                drive(store.save(cp))  # type: ignore[arg-type]


def test_a_layout_3_file_loads_and_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "hive.db"
    run = uuid.UUID(int=11)
    cps = _checkpoints(run)
    _save_streamed(path, cps)
    _as_layout_3(path)
    assert _meta(path) == "3"
    with SQLiteCheckpointStore(path) as store:
        assert _meta(path) == STORE_SCHEMA_VERSION
        for cp in cps:
            assert drive(store.load_checkpoint("thread-1", cp.id)) == cp  # type: ignore[attr-defined]
        # The next save of the streamed channel goes inline; both load.
        nxt = make_checkpoint(3, {"n": b"3"}, run=run)
        drive(store.save(nxt, expected_latest=cps[-1].id))  # type: ignore[attr-defined]
        assert drive(store.load_latest("thread-1")) == nxt
        assert drive(store.load_checkpoint("thread-1", cps[0].id)) == cps[0]  # type: ignore[attr-defined]


def test_small_channels_are_kept_in_the_body(tmp_path: Path) -> None:
    """Bytes up to INLINE_BYTES add no blob or stream row; longer ones do."""
    path = tmp_path / "hive.db"
    small, big = b"x" * INLINE_BYTES, b"y" * (INLINE_BYTES + 1)
    with SQLiteCheckpointStore(path) as store:
        for step in range(3):
            cp = make_checkpoint(step, {"a": small, "b": big, "c": str(step).encode()})
            drive(store.save(cp))
            assert drive(store.load_latest("thread-1")) == cp
        stats = store.storage_stats()
        streams = store._conn.execute(
            "SELECT channel FROM hive_checkpoint_streams"
        ).fetchall()
    assert stats["snapshots"] + stats["deltas"] == 1  # "b", saved once
    assert streams == [("b",)]


def test_a_layout_2_file_loads_and_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "hive.db"
    run = uuid.UUID(int=9)
    cps = _checkpoints(run)
    _save_streamed(path, cps)
    _as_layout_2(path)
    assert _meta(path) == "2"
    with SQLiteCheckpointStore(path) as store:
        assert _meta(path) == STORE_SCHEMA_VERSION
        for cp in cps:
            assert drive(store.load_checkpoint("thread-1", cp.id)) == cp  # type: ignore[attr-defined]
        summaries = drive(store.list_checkpoints("thread-1"))
        assert [s.run_id for s in summaries] == [str(run)] * 3
        nxt = make_checkpoint(3, {"n": b"3"}, run=run)
        drive(store.save(nxt, expected_latest=cps[-1].id))  # type: ignore[attr-defined]
        assert drive(store.load_latest("thread-1")) == nxt


def _table_sql(path: Path) -> tuple[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        (table,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'hive_checkpoints'"
        ).fetchone()
        indexes = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'hive_checkpoints' AND sql IS NOT NULL"
            )
        ]
    finally:
        conn.close()
    return str(table), indexes


def test_a_new_file_keys_checkpoints_by_thread_step_and_id(tmp_path: Path) -> None:
    """The table is its own latest index: a save writes no third b-tree, and
    "latest" and listings read the key backwards without sorting."""
    path = tmp_path / "hive.db"
    with SQLiteCheckpointStore(path) as store:
        for cp in _checkpoints(uuid.UUID(int=3)):
            drive(store.save(cp))  # type: ignore[arg-type]
    table, indexes = _table_sql(path)
    assert "WITHOUT ROWID" in table
    assert "PRIMARY KEY (thread, step_index, checkpoint_id)" in table
    assert indexes == []  # the unique (thread, checkpoint_id) is the table's own
    conn = sqlite3.connect(path)
    try:
        for statement, params in (
            (LATEST_ID, (1,)),
            (SELECT_LATEST, ("thread-1",)),
            (SELECT_SUMMARIES, ("thread-1", 5)),
        ):
            plan = " ".join(
                str(r[3])
                for r in conn.execute("EXPLAIN QUERY PLAN " + statement, params)
            )
            assert "PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def test_a_file_of_the_rowid_shape_keeps_it(tmp_path: Path) -> None:
    """A file created before the key keeps its table and latest index when opened
    and written (the ``sqlite-rowid`` conformance backend runs every store test on
    such a file)."""
    path = tmp_path / "hive.db"
    run = uuid.UUID(int=5)
    cps = [make_checkpoint(step, {"n": b"x" * 40}, run=run) for step in range(3)]
    with SQLiteCheckpointStore(path) as store:
        drive(store.save(cps[0]))
    as_rowid_shape(path)
    with SQLiteCheckpointStore(path) as store:
        for before, cp in itertools.pairwise(cps):
            drive(store.save(cp, expected_latest=before.id))
        assert drive(store.load_latest("thread-1")) == cps[-1]
    table, indexes = _table_sql(path)
    assert "WITHOUT ROWID" not in table
    assert indexes == ["hive_checkpoints_latest"]
    assert _meta(path) == STORE_SCHEMA_VERSION
