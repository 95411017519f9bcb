"""Fault injection on the PostgreSQL stores: only typed store errors come out.

The same bad thread ids the memory and SQLite stores refuse (``test_store_faults``),
rows tampered with behind the store's back, and the server failures a deployment
meets for real: the server stopped under an open store (``pg_ctl stop`` of a cluster
of the test's own), a row lock held by another connection past ``lock_timeout``, and
a table dropped under an open store. No psycopg exception may escape.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
import psycopg
import pytest
from postgres_support import (
    OwnCluster,
    Runner,
    Schema,
    own_cluster,
    postgres_schema,
    postgres_url,
)

from hive_core.errors import CheckpointCorruptError, CheckpointDecodeError, HiveError
from hive_core.memory import PostgresMemoryStore
from hive_core.persistence import (
    InvalidThreadIdError,
    PostgresCheckpointStore,
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
    StoreError,
    StoreFailedError,
    StoreUnavailableError,
)

from .test_store_faults import BAD_IDS, THREAD, bad_id_calls, make_checkpoint

__all__ = ["own_cluster", "postgres_schema", "postgres_url"]


@pytest.fixture
def store(postgres_schema: Schema) -> Any:
    runner = Runner()
    s = PostgresCheckpointStore(postgres_schema.url, timeout=2.0)
    yield s, runner
    runner.run(s.aclose())
    runner.close()


@pytest.mark.parametrize("bad", sorted(BAD_IDS))
def test_bad_thread_ids_are_refused_before_the_server(store: Any, bad: str) -> None:
    s, runner = store
    for call in bad_id_calls(s, BAD_IDS[bad]):
        with pytest.raises(InvalidThreadIdError) as info:
            runner.run(call())
        assert info.value.code == "invalid-thread-id"
        assert len(info.value.value_repr) <= 80
    assert not runner.run(s.thread_exists(THREAD))


def test_nul_in_other_text_fields_is_an_encode_error(store: Any) -> None:
    s, runner = store
    base = make_checkpoint(0)
    for bad in (
        msgspec.structs.replace(base, run_id="r\x00"),
        msgspec.structs.replace(base, graph_version="g\x00"),
        msgspec.structs.replace(base, global_data={"a\x00b": b"1"}),
    ):
        with pytest.raises(HiveError) as info:
            runner.run(s.save(bad))
        assert info.value.code == "checkpoint-encode-failed"
    assert not runner.run(s.thread_exists(THREAD))


TAMPER = {
    "body-garbage": "UPDATE hive_checkpoints SET body = '\\x00ff00ff'::bytea",
    "body-empty": "UPDATE hive_checkpoints SET body = ''::bytea",
    "blob-data": "UPDATE hive_checkpoint_blobs SET data = data || '\\x01'::bytea",
    "blob-crc": "UPDATE hive_checkpoint_blobs SET crc = crc + 1",
    "blob-prefix": "UPDATE hive_checkpoint_blobs SET prefix = 999999",
    "blobs-deleted": "DELETE FROM hive_checkpoint_blobs",
    "meta-version": "UPDATE hive_checkpoint_meta SET value = '99'",
    "column-dropped": "ALTER TABLE hive_checkpoints DROP COLUMN run_id",
    "column-retyped": "ALTER TABLE hive_checkpoint_blobs ALTER COLUMN crc TYPE text",
}


@pytest.mark.parametrize("tamper", sorted(TAMPER))
def test_tampered_rows_are_typed_errors(postgres_schema: Schema, tamper: str) -> None:
    runner = Runner()
    try:
        s = PostgresCheckpointStore(postgres_schema.url)
        for step in range(4):
            runner.run(s.save(make_checkpoint(step)))
        runner.run(s.aclose())
        postgres_schema.sql(TAMPER[tamper])
        fresh = PostgresCheckpointStore(postgres_schema.url)
        raised: list[HiveError] = []
        for call in (
            partial(fresh.load_latest, THREAD),
            partial(fresh.load_checkpoint, THREAD, make_checkpoint(1).id),
            partial(fresh.list_checkpoints, THREAD),
            partial(fresh.save, make_checkpoint(4)),
        ):
            try:
                runner.run(call())
            except HiveError as exc:
                raised.append(exc)
            except Exception as exc:  # pragma: no cover - this is the failure
                pytest.fail(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
        runner.run(fresh.aclose())
    finally:
        runner.close()
    assert raised, f"{tamper} went unnoticed"
    typed = (CheckpointDecodeError, CheckpointCorruptError, StoreDamagedError)
    assert all(isinstance(e, typed) for e in raised), raised
    if tamper == "column-dropped":
        damaged = [e for e in raised if isinstance(e, StoreDamagedError)]
        assert damaged and damaged[0].kind == "database"
        assert all("run_id" in e.reason and "42703" in e.reason for e in damaged)


def test_a_dropped_table_is_a_damaged_error_naming_it(
    store: Any, postgres_schema: Schema
) -> None:
    s, runner = store
    schema = postgres_schema
    runner.run(s.save(make_checkpoint(0)))
    runner.run(s.load_latest(THREAD))  # the pool is warm, setup done
    schema.sql("DROP TABLE hive_checkpoint_blobs")
    for call in (
        partial(s.load_latest, THREAD),
        partial(s.save, make_checkpoint(1)),
    ):
        with pytest.raises(StoreDamagedError) as info:
            runner.run(call())
        assert "hive_checkpoint_blobs" in info.value.reason
        assert "42P01" in info.value.reason
        assert info.value.retryable is False


def test_a_held_row_lock_past_lock_timeout_is_retryable_busy(
    postgres_schema: Schema,
) -> None:
    runner = Runner()
    url = psycopg.conninfo.make_conninfo(
        postgres_schema.url,
        options=f"{_options(postgres_schema.url)} -c lock_timeout=200",
    )
    s = PostgresCheckpointStore(url)
    try:
        runner.run(s.save(make_checkpoint(0)))
        with psycopg.connect(postgres_schema.url) as holder:  # a transaction
            holder.execute(
                "SELECT 1 FROM hive_checkpoint_threads WHERE thread_id = %s FOR UPDATE",
                (THREAD,),
            )
            with pytest.raises(StoreBusyError) as info:
                runner.run(s.save(make_checkpoint(1)))
            holder.rollback()
        assert info.value.retryable is True
        assert "55P03" in info.value.reason
        assert info.value.waited >= 0.2
        assert runner.run(s.load_latest(THREAD)) == make_checkpoint(0)  # nothing
        runner.run(s.save(make_checkpoint(1)))  # the lock is gone: the retry works
        assert runner.run(s.load_latest(THREAD)) == make_checkpoint(1)
        runner.run(s.aclose())
    finally:
        runner.close()


def _options(url: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(url).get("options") or "")


def test_a_stopped_server_is_store_unavailable(own_cluster: OwnCluster) -> None:
    schema = Schema(own_cluster.url)
    runner = Runner()
    checkpoints = PostgresCheckpointStore(schema.url, timeout=1.0)
    memories = PostgresMemoryStore(schema.url, timeout=1.0)
    try:
        runner.run(checkpoints.save(make_checkpoint(0)))
        runner.run(memories.remember(("u",), "k", "a note"))
        own_cluster.stop()
        try:
            for call in (
                partial(checkpoints.save, make_checkpoint(1)),
                partial(checkpoints.load_latest, THREAD),
                partial(memories.recall, ("u",), "note"),
                partial(memories.remember, ("u",), "k2", "another"),
            ):
                with pytest.raises(StoreUnavailableError) as info:
                    runner.run(call())
                assert info.value.retryable is True
                assert isinstance(info.value, StoreError)
        finally:
            own_cluster.start()
        # Retryable means it: the same store works again once the server is back
        # (its pool reconnects with backoff, so a few calls may still time out).
        for _ in range(30):
            try:
                latest = runner.run(checkpoints.load_latest(THREAD))
                break
            except StoreUnavailableError:
                continue
        assert latest == make_checkpoint(0)
        runner.run(checkpoints.aclose())
        runner.run(memories.aclose())
    finally:
        runner.close()
        schema.drop()


def test_a_closed_store_is_store_closed(store: Any) -> None:
    s, runner = store
    runner.run(s.save(make_checkpoint(0)))
    runner.run(s.aclose())
    with pytest.raises(StoreClosedError) as info:
        runner.run(s.load_latest(THREAD))
    assert info.value.operation == "load_latest"


def test_memory_store_maps_a_dropped_table(postgres_schema: Schema) -> None:
    runner = Runner()
    m = PostgresMemoryStore(postgres_schema.url)
    try:
        runner.run(m.remember(("u",), "k", "a note"))
        tables = postgres_schema.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE 'hive_memory%%' ORDER BY tablename"
        )
        for (table,) in tables:
            postgres_schema.sql(f'DROP TABLE "{table}" CASCADE')
        with pytest.raises(StoreDamagedError) as info:
            runner.run(m.remember(("u",), "k2", "another note"))
        assert "hive_memory" in info.value.reason
        with pytest.raises(HiveError) as bad:
            runner.run(m.remember(("u\x00",), "k3", "x"))
        assert bad.value.code == "memory-invalid-namespace"  # refused before SQL
        runner.run(m.aclose())
    finally:
        runner.close()


def test_a_read_only_server_is_store_failed_with_its_sqlstate(
    postgres_schema: Schema,
) -> None:
    runner = Runner()
    read_only = psycopg.conninfo.make_conninfo(
        postgres_schema.url,
        options=f"{_options(postgres_schema.url)} -c default_transaction_read_only=on",
    )
    try:
        writer = PostgresCheckpointStore(postgres_schema.url)
        runner.run(writer.save(make_checkpoint(0)))
        runner.run(writer.aclose())
        s = PostgresCheckpointStore(read_only)
        # The first call runs the (idempotent) DDL of `setup`, which a read-only
        # session refuses: the server's verdict, typed, with its SQLSTATE.
        with pytest.raises(StoreFailedError) as info:
            runner.run(s.save(make_checkpoint(1)))
        assert info.value.sqlstate == "25006"
        assert info.value.operation == "setup"
        assert "read-only" in info.value.reason
        assert not info.value.retryable
        runner.run(s.aclose())
    finally:
        runner.close()
