"""A damaged or crafted SQLite file gives typed errors, never wrong data or code.

Rows are rewritten with plain ``sqlite3`` behind the store's back, the way a torn
disk, a buggy tool or an attacker with write access to the file would. Whatever
happens, only ``CheckpointDecodeError`` / ``CheckpointCorruptError`` come out,
they name the checkpoint, and checkpoints that do not depend on the damage still
load.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hive_core.errors import CheckpointCorruptError, CheckpointDecodeError
from hive_core.persistence import (
    STORE_SCHEMA_VERSION,
    Checkpoint,
    SQLiteCheckpointStore,
    StoreClosedError,
    StoreDamagedError,
)
from hive_core.persistence._sqlite_rows import body_crc

from .store_support import drive, make_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def log_values(steps: int) -> list[bytes]:
    items = [f"entry {i} ".ljust(300, ".") for i in range(steps)]
    return [msgspec.json.encode(items[: n + 1]) for n in range(steps)]


class Damaged:
    """A file with five checkpoints of one growing ``log`` channel (one snapshot,
    then deltas) and a constant ``cfg`` channel; ``sql`` edits it directly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values = log_values(5)
        self.cps = [
            make_checkpoint(step, {"log": value, "cfg": b'{"mode":"x"}'})
            for step, value in enumerate(self.values)
        ]
        with SQLiteCheckpointStore(path) as store:
            for cp in self.cps:
                drive(store.save(cp))
        self._stores: list[SQLiteCheckpointStore] = []

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        conn = sqlite3.connect(self.path)
        try:
            with conn:
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def open(self) -> SQLiteCheckpointStore:
        store = SQLiteCheckpointStore(self.path)
        self._stores.append(store)
        return store

    def close(self) -> None:
        for store in self._stores:
            store.close()

    def body(self, cp: Checkpoint) -> bytes:
        (row,) = self.sql(
            "SELECT body FROM hive_checkpoints WHERE checkpoint_id = ?", (cp.id,)
        )
        return bytes(row[0])

    def set_body(self, cp: Checkpoint, body: object, *, fix_crc: bool = True) -> None:
        """Replace a body; ``fix_crc`` recomputes its CRC as a crafter would, so the
        decode checks behind the CRC are what the test reaches."""
        crc = 0
        if fix_crc and isinstance(body, bytes):
            crc = body_crc(
                cp.thread_id,
                cp.id,
                cp.run_id,
                cp.step_index,
                int(cp.interruption is not None),
                cp.schema_version,
                cp.graph_version,
                body,
            )
        self.sql(
            "UPDATE hive_checkpoints SET body = ?, "
            "body_crc = CASE WHEN ? THEN ? ELSE body_crc END WHERE checkpoint_id = ?",
            (body, fix_crc, crc, cp.id),
        )

    def blob_keys(self) -> list[tuple[int, int, int | None]]:
        """(stream, version, prefix) of every log row, oldest first."""
        rows = self.sql(
            "SELECT b.key, b.prefix FROM hive_checkpoint_blobs AS b "
            "JOIN hive_checkpoint_streams AS s ON b.key >> 32 = s.stream "
            "WHERE s.channel = 'log' ORDER BY b.key"
        )
        return [(key >> 32, key & 0xFFFFFFFF, prefix) for key, prefix in rows]

    def key(self, version: int) -> int:
        stream = self.blob_keys()[0][0]
        return (stream << 32) | version


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[Damaged]:
    d = Damaged(tmp_path / "damaged.db")
    yield d
    d.close()


def assert_loads(store: SQLiteCheckpointStore, cp: Checkpoint) -> None:
    assert drive(store.load_checkpoint(cp.thread_id, cp.id)) == cp


class TestLayoutAssumptions:
    def test_fixture_has_a_snapshot_then_deltas(self, damaged: Damaged) -> None:
        rows = damaged.blob_keys()
        assert [(version, prefix is None) for _, version, prefix in rows] == [
            (0, True),
            (1, False),
            (2, False),
            (3, False),
            (4, False),
        ]


# --------------------------------------------------------------- checkpoint rows


class TestCorruptCheckpointRow:
    @pytest.mark.parametrize(
        "make_body",
        [
            pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
            pytest.param(lambda b: b[:1], id="one-byte"),
            pytest.param(lambda b: b"", id="empty"),
            pytest.param(lambda b: b"\xc1\xc1\xc1 garbage", id="garbage"),
            pytest.param(lambda b: os.urandom(64), id="random"),
            pytest.param(lambda b: msgspec.msgpack.encode([1, 2, 3]), id="wrong-shape"),
            pytest.param(
                lambda b: msgspec.msgpack.encode({"format_version": 1}), id="a-map"
            ),
            pytest.param(lambda b: b + b"\x00", id="trailing-byte"),
        ],
    )
    def test_bad_latest_body_is_a_decode_error(
        self, damaged: Damaged, make_body: Callable[[bytes], bytes]
    ) -> None:
        latest = damaged.cps[-1]
        damaged.set_body(latest, make_body(damaged.body(latest)))
        store = damaged.open()
        with pytest.raises(CheckpointDecodeError) as info:
            drive(store.load_latest("thread-1"))
        assert info.value.checkpoint_id == latest.id
        assert info.value.subject == "checkpoint"
        assert info.value.code == "checkpoint-decode-failed"
        with pytest.raises(CheckpointDecodeError):
            drive(store.load_checkpoint("thread-1", latest.id))
        # Everything before it is intact, and listing needs no body at all.
        for cp in damaged.cps[:-1]:
            assert_loads(store, cp)
        assert len(drive(store.list_checkpoints("thread-1"))) == 5

    def test_body_of_the_wrong_sql_type(self, damaged: Damaged) -> None:
        latest = damaged.cps[-1]
        damaged.set_body(latest, "text, not a blob")
        with pytest.raises(CheckpointDecodeError, match="not a blob") as info:
            drive(damaged.open().load_latest("thread-1"))
        assert info.value.checkpoint_id == latest.id

    def test_bad_chain_reference_in_body(self, damaged: Damaged) -> None:
        latest = damaged.cps[-1]
        body = msgspec.msgpack.decode(damaged.body(latest))
        body[6] = [["log", 1, 7, 9]]  # snapshot after version
        body[7] = []  # nothing inline
        damaged.set_body(latest, msgspec.msgpack.encode(body))
        with pytest.raises(CheckpointCorruptError, match="bad chain") as info:
            drive(damaged.open().load_latest("thread-1"))
        assert info.value.checkpoint_id == latest.id
        assert info.value.field == "global_data.log"

    def test_a_channel_stored_twice_in_the_body(self, damaged: Damaged) -> None:
        """A crafted body naming a channel both inline and as a stream (or inline
        twice) is refused: neither copy may silently win."""
        latest = damaged.cps[-1]
        body = msgspec.msgpack.decode(damaged.body(latest))
        assert body[6], "the fixture streams its channels"
        name = body[6][0][0]
        for inline in ([[name, b"1"]], [["z", b"1"], ["z", b"2"]]):
            body[7] = inline
            damaged.set_body(latest, msgspec.msgpack.encode(body))
            with pytest.raises(CheckpointDecodeError, match="stored twice") as info:
                drive(damaged.open().load_latest("thread-1"))
            assert info.value.checkpoint_id == latest.id

    def test_reference_to_a_stream_that_does_not_exist(self, damaged: Damaged) -> None:
        latest = damaged.cps[-1]
        body = msgspec.msgpack.decode(damaged.body(latest))
        body[6] = [["log", 12345, 0, 0], ["other", -5, 0, 0]]
        body[7] = []
        damaged.set_body(latest, msgspec.msgpack.encode(body))
        with pytest.raises(CheckpointCorruptError, match="missing") as info:
            drive(damaged.open().load_latest("thread-1"))
        assert info.value.checkpoint_id == latest.id


# ---------------------------------------------------------------------- pickle


class _RunsCode:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class TestNothingIsUnpickled:
    def test_the_payload_is_live(self, tmp_path: Path) -> None:
        """Control: unpickling the crafted bytes really does run the command."""
        marker = tmp_path / "control"
        pickle.loads(pickle.dumps(_RunsCode(marker)))
        assert marker.exists()

    def test_pickled_checkpoint_row_is_only_a_decode_error(
        self, damaged: Damaged, tmp_path: Path
    ) -> None:
        marker = tmp_path / "pwned-row"
        latest = damaged.cps[-1]
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            damaged.set_body(latest, pickle.dumps(_RunsCode(marker), protocol))
            store = damaged.open()
            with pytest.raises(CheckpointDecodeError) as info:
                drive(store.load_latest("thread-1"))
            assert info.value.checkpoint_id == latest.id
            assert_loads(store, damaged.cps[0])
        assert not marker.exists()

    def test_pickled_channel_bytes_come_back_as_bytes(
        self, damaged: Damaged, tmp_path: Path
    ) -> None:
        """Even with a valid CRC, a blob is data: the store hands it back verbatim."""
        marker = tmp_path / "pwned-blob"
        evil = pickle.dumps(_RunsCode(marker))
        damaged.sql(
            "UPDATE hive_checkpoint_blobs SET prefix = NULL, crc = ?, data = ? "
            "WHERE key = ?",
            (zlib.crc32(evil), evil, damaged.key(0)),
        )
        store = damaged.open()
        loaded = drive(store.load_checkpoint("thread-1", damaged.cps[0].id))
        assert loaded is not None
        assert loaded.global_data["log"] == evil
        assert not marker.exists()


# ------------------------------------------------------------------ blob chains


class TestCorruptChains:
    def test_missing_delta(self, damaged: Damaged) -> None:
        damaged.sql(
            "DELETE FROM hive_checkpoint_blobs WHERE key = ?", (damaged.key(3),)
        )
        store = damaged.open()
        for cp in damaged.cps[3:]:
            with pytest.raises(CheckpointCorruptError) as info:
                drive(store.load_checkpoint("thread-1", cp.id))
            err = info.value
            assert err.checkpoint_id == cp.id
            assert err.field == "global_data.log"
            assert "delta version 3" in err.reason
            assert "missing" in err.reason
            assert err.code == "checkpoint-corrupt"
        with pytest.raises(CheckpointCorruptError):
            drive(store.load_latest("thread-1"))
        for cp in damaged.cps[:3]:
            assert_loads(store, cp)

    def test_missing_snapshot(self, damaged: Damaged) -> None:
        damaged.sql(
            "DELETE FROM hive_checkpoint_blobs WHERE key = ?", (damaged.key(0),)
        )
        with pytest.raises(CheckpointCorruptError, match="snapshot version 0") as info:
            drive(damaged.open().load_latest("thread-1"))
        assert info.value.checkpoint_id == damaged.cps[-1].id

    def test_snapshot_replaced_by_a_delta(self, damaged: Damaged) -> None:
        """The chain's first row is a delta: its base is missing."""
        (row,) = damaged.sql(
            "SELECT data FROM hive_checkpoint_blobs WHERE key = ?", (damaged.key(0),)
        )
        data = bytes(row[0])
        damaged.sql(
            "UPDATE hive_checkpoint_blobs SET prefix = 0, crc = ? WHERE key = ?",
            (zlib.crc32(data, 0), damaged.key(0)),
        )
        with pytest.raises(CheckpointCorruptError, match="base version -1"):
            drive(damaged.open().load_latest("thread-1"))

    def test_snapshot_inside_a_chain(self, damaged: Damaged) -> None:
        value = damaged.values[2]
        damaged.sql(
            "UPDATE hive_checkpoint_blobs SET prefix = NULL, crc = ?, data = ? "
            "WHERE key = ?",
            (zlib.crc32(value), value, damaged.key(2)),
        )
        with pytest.raises(CheckpointCorruptError, match="stale"):
            drive(damaged.open().load_latest("thread-1"))

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("data", b"garbage that is not the suffix"),
            ("prefix", 7),
            ("crc", 12345),
        ],
    )
    def test_altered_row_fails_its_crc(
        self, damaged: Damaged, column: str, value: object
    ) -> None:
        damaged.sql(
            f"UPDATE hive_checkpoint_blobs SET {column} = ? WHERE key = ?",
            (value, damaged.key(4)),
        )
        store = damaged.open()
        with pytest.raises(CheckpointCorruptError, match="CRC") as info:
            drive(store.load_latest("thread-1"))
        assert info.value.checkpoint_id == damaged.cps[4].id
        for cp in damaged.cps[:4]:
            assert_loads(store, cp)

    def test_delta_longer_than_its_base(self, damaged: Damaged) -> None:
        (row,) = damaged.sql(
            "SELECT data FROM hive_checkpoint_blobs WHERE key = ?", (damaged.key(1),)
        )
        data = bytes(row[0])
        damaged.sql(
            "UPDATE hive_checkpoint_blobs SET prefix = ?, crc = ? WHERE key = ?",
            (10**6, zlib.crc32(data, 10**6), damaged.key(1)),
        )
        with pytest.raises(CheckpointCorruptError, match="keeps 1000000 bytes"):
            drive(damaged.open().load_latest("thread-1"))

    @pytest.mark.parametrize("value", ["text", 3.5], ids=["text", "real"])
    def test_blob_of_the_wrong_sql_type(self, damaged: Damaged, value: object) -> None:
        damaged.sql(
            "UPDATE hive_checkpoint_blobs SET data = ? WHERE key = ?",
            (value, damaged.key(2)),
        )
        with pytest.raises(CheckpointCorruptError, match="malformed"):
            drive(damaged.open().load_latest("thread-1"))

    def test_saving_onto_a_corrupt_chain_is_an_error_not_a_silent_fork(
        self, damaged: Damaged
    ) -> None:
        """A fresh store rebuilds the chain head before writing a delta: if the
        head is damaged, the save fails and the file is unchanged."""
        damaged.sql(
            "DELETE FROM hive_checkpoint_blobs WHERE key = ?", (damaged.key(4),)
        )
        store = damaged.open()
        nxt = make_checkpoint(5, {"log": damaged.values[-1] + b" ", "cfg": b"{}"})
        with pytest.raises(CheckpointCorruptError, match="missing"):
            drive(store.save(nxt))
        assert drive(store.load_checkpoint("thread-1", nxt.id)) is None


# --------------------------------------------------------------- store file


class TestStoreFile:
    def test_unknown_layout_version_is_refused(self, damaged: Damaged) -> None:
        damaged.sql(
            "UPDATE hive_checkpoint_meta SET value = '99' WHERE name = 'schema_version'"
        )
        with pytest.raises(CheckpointCorruptError, match="store layout '99'"):
            SQLiteCheckpointStore(damaged.path)

    def test_old_layout_version_is_refused_naming_both(self, damaged: Damaged) -> None:
        """A file written by layout "1" (no body CRC) is refused, not upgraded."""
        damaged.sql(
            "UPDATE hive_checkpoint_meta SET value = '1' WHERE name = 'schema_version'"
        )
        before = damaged.sql("SELECT count(*) FROM hive_checkpoints")
        with pytest.raises(CheckpointCorruptError) as info:
            SQLiteCheckpointStore(damaged.path)
        assert "store layout '1'" in info.value.reason
        assert f"reads {STORE_SCHEMA_VERSION!r}" in info.value.reason
        assert str(damaged.path) in info.value.reason
        assert damaged.sql("SELECT count(*) FROM hive_checkpoints") == before

    def test_not_a_database(self, tmp_path: Path) -> None:
        path = tmp_path / "junk.db"
        path.write_bytes(b"this is not SQLite" * 100)
        with pytest.raises(StoreDamagedError) as info:
            SQLiteCheckpointStore(path)
        assert info.value.path == str(path)
        assert "not a database" in info.value.reason

    def test_closed_store_is_a_store_closed_error(self, damaged: Damaged) -> None:
        store = damaged.open()
        store.close()
        with pytest.raises(StoreClosedError, match="closed") as info:
            drive(store.load_checkpoint("thread-1", "x"))
        assert info.value.operation == "load"


# ------------------------------------------------------------- kill -9 mid-save

_WRITER = textwrap.dedent(
    """
    import sys, uuid
    from hive_core.persistence import Checkpoint
    from hive_core.persistence import SQLiteCheckpointStore

    def value(step):
        return b"[" + b",".join(b'"%06d%s"' % (i, b"x" * 4000) for i in range(step)) + b"]"

    store = SQLiteCheckpointStore(sys.argv[1])
    step = 0
    while True:
        cp = Checkpoint(id="%08d" % step, thread_id="t", run_id="r", step_index=step,
                        schema_version="s", graph_version="g",
                        global_data={"log": value(step), "big": bytes([step % 256]) * 50_000})
        coro = store.save(cp)
        try:
            coro.send(None)
        except StopIteration:
            pass
        if step == 0:
            print("ready", flush=True)
        step += 1
    """
)


def _expected(step: int) -> dict[str, bytes]:
    log = b"[" + b",".join(b'"%06d%s"' % (i, b"x" * 4000) for i in range(step)) + b"]"
    return {"log": log, "big": bytes([step % 256]) * 50_000}


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_kill_9_mid_save_leaves_the_last_committed_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.4)  # mostly inside save(): each one writes ~50-100 KB
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with SQLiteCheckpointStore(path) as store:
        latest = drive(store.load_latest("t"))
        assert latest is not None
        assert latest.step_index >= 0
        assert latest.global_data == _expected(latest.step_index)
        summaries = drive(store.list_checkpoints("t"))
        assert [s.step_index for s in summaries] == list(
            range(latest.step_index, -1, -1)
        )
        for summary in summaries[:3]:
            cp = drive(store.load_checkpoint("t", summary.id))
            assert cp is not None
            assert cp.global_data == _expected(cp.step_index)
        # And the file keeps working: the next save extends the chains.
        nxt = Checkpoint(
            id=f"{latest.step_index + 1:08d}",
            thread_id="t",
            run_id="r",
            step_index=latest.step_index + 1,
            schema_version="s",
            graph_version="g",
            global_data=_expected(latest.step_index + 1),
        )
        drive(store.save(nxt))
        assert drive(store.load_latest("t")) == nxt
