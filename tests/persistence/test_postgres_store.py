"""PostgresCheckpointStore beyond the shared conformance suite: the runtime on it
(sync entry points, resume, fork, migrate, decode validation), several writers on one
thread, linear storage, its layout version and its typed errors.

Every test runs on a schema of its own (``postgres_support``); without a server they
skip, and under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from postgres_support import Schema, postgres_schema, postgres_url

from hive_core import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointPolicy,
    CheckpointVersionMismatchError,
    GraphBuilder,
    RunOptions,
    Runtime,
    StoreUnavailableError,
)
from hive_core.persistence import (
    Checkpoint,
    InvalidThreadIdError,
    PostgresCheckpointStore,
    StoreClosedError,
)
from hive_core.persistence._postgres import POSTGRES_SCHEMA_VERSION

from .tiny_workflow import SEEN, Tiny, build_tiny

__all__ = ["postgres_schema", "postgres_url"]

EVERY = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


def cp(step: int, data: dict[str, bytes], thread: str = "t", **kw: Any) -> Checkpoint:
    return Checkpoint(
        id=kw.pop("cid", f"{step:08d}"),
        thread_id=thread,
        run_id="r",
        step_index=step,
        schema_version="s",
        graph_version="g",
        global_data=data,
        **kw,
    )


@pytest.fixture
def store(postgres_schema: Schema) -> Iterator[PostgresCheckpointStore]:
    s = PostgresCheckpointStore(postgres_schema.url)
    yield s
    s.close()


class TestRuntimeOnPostgres:
    def test_sync_entry_points_resume_and_fork(
        self, store: PostgresCheckpointStore
    ) -> None:
        """Each ``*_sync`` call runs inline (the store's sync pool) or, for a graph
        that needs one, on a fresh event loop: the store opens a pool per loop and
        the loop's shutdown closes it."""
        SEEN.clear()
        tiny = build_tiny()
        rt = Runtime(tiny, checkpoint_store=store)
        out = rt.run_sync("t", None, EVERY)
        assert out.interrupt is not None and out.checkpoint_id is not None
        done = rt.resume_sync("t", out.interrupt.id, "approved")
        assert done.output["results"][-1] == "finalized: approved"
        summary = rt.fork_sync("t", out.checkpoint_id, into="t-alt")
        assert summary.has_interruption
        alt = Runtime(tiny, checkpoint_store=store).resume_sync(
            "t-alt", out.interrupt.id, "rejected"
        )
        assert alt.output["results"][-1] == "finalized: rejected"
        state = rt.get_state_sync("t")
        assert state is not None
        assert state.store.get(Tiny.results)[-1] == "finalized: approved"
        assert SEEN == [("Finalize", "approved"), ("Finalize", "rejected")]

    def test_async_runs_share_one_pool(self, store: PostgresCheckpointStore) -> None:
        tiny = build_tiny()

        async def main() -> list[Any]:
            rt = Runtime(tiny, checkpoint_store=store)
            outs = await asyncio.gather(
                *(rt.run(f"t{i}", None, EVERY) for i in range(4))
            )
            await store.aclose()
            return list(outs)

        outs = asyncio.run(main())
        assert all(o.interrupt is not None for o in outs)

    def test_version_mismatch_names_both_versions(
        self, store: PostgresCheckpointStore
    ) -> None:
        tiny = build_tiny()
        Runtime(tiny, checkpoint_store=store).run_sync("t")
        g = GraphBuilder(Tiny, start=["Start"])
        for node in tiny.ir.nodes:
            g.add_node(node.id, tiny.nodes[node.id].fn)
        g.add_join_edge(["WorkerA", "WorkerB"], "Gate")  # ... but no Gate->Finalize
        changed = g.compile()
        with pytest.raises(CheckpointVersionMismatchError) as err:
            Runtime(changed, checkpoint_store=store).get_state_sync("t")
        assert err.value.found_graph == tiny.graph_version
        assert err.value.expected_graph == changed.graph_version

    def test_corrupt_channel_set_is_refused_on_load(
        self, store: PostgresCheckpointStore
    ) -> None:
        tiny = build_tiny()
        Runtime(tiny, checkpoint_store=store).run_sync("t")
        latest = asyncio.run(store.load_latest("t"))
        assert latest is not None
        bad = msgspec.structs.replace(
            latest, global_data={**latest.global_data, "x": b"1"}
        )
        asyncio.run(store.save(bad))
        with pytest.raises(CheckpointCorruptError) as err:
            Runtime(tiny, checkpoint_store=store).get_state_sync("t")
        assert err.value.field == "global_data"

    def test_migrate_moves_the_checkpoint(self, store: PostgresCheckpointStore) -> None:
        from hive_dsl import WorkflowPatch

        tiny = build_tiny()
        out = Runtime(tiny, checkpoint_store=store).run_sync("t")
        assert out.interrupt is not None

        def probe(ctx: Any) -> None:
            return None

        patch = WorkflowPatch().insert_probe(probe, between="Gate", and_="Finalize")
        new, _ = patch.apply(tiny)
        moved = patch.migrate_sync(tiny, new, store, "t")
        assert moved.graph_version == new.graph_version
        assert asyncio.run(store.load_latest("t")) == moved
        done = Runtime(new, checkpoint_store=store).resume_sync(
            "t", out.interrupt.id, "yes"
        )
        assert done.output["results"][-1] == "finalized: yes"
        assert patch.migrate_sync(tiny, new, store, "t").id != moved.id  # moved on


class TestWriters:
    def test_two_stores_alternate_on_one_thread(self, postgres_schema: Schema) -> None:
        """Each writer's memory of the stream heads goes stale in turn; the blob key
        catches it and the writer re-reads, so every version loads back."""
        values = [b"[" + b'"x",' * (20 * n) + b"]" for n in range(1, 13)]

        async def main() -> None:
            a = PostgresCheckpointStore(postgres_schema.url)
            b = PostgresCheckpointStore(postgres_schema.url)
            saved = []
            for step, value in enumerate(values):
                writer = a if step % 3 else b
                c = cp(step, {"log": value, "cfg": b"{}"})
                await writer.save(c)
                saved.append(c)
            for reader in (a, b):
                for c in saved:
                    assert await reader.load_checkpoint("t", c.id) == c
                assert await reader.load_latest("t") == saved[-1]
            await a.aclose()
            await b.aclose()

        asyncio.run(main())

    def test_concurrent_writers_on_one_thread_never_fork_a_chain(
        self, postgres_schema: Schema
    ) -> None:
        async def main() -> None:
            stores = [PostgresCheckpointStore(postgres_schema.url) for _ in range(3)]
            value = b"[" + b"0" * 200
            expected: dict[str, Checkpoint] = {}
            for round_ in range(8):
                batch = []
                for i, s in enumerate(stores):
                    data = {"log": value + bytes([65 + i]) * round_ + b"]"}
                    c = cp(round_ * 3 + i, data)
                    expected[c.id] = c
                    batch.append(s.save(c))
                await asyncio.gather(*batch)
            for c in expected.values():
                assert await stores[0].load_checkpoint("t", c.id) == c
            for s in stores:
                await s.aclose()

        asyncio.run(main())


class TestStorage:
    def test_append_only_channel_grows_linearly(
        self, store: PostgresCheckpointStore
    ) -> None:
        items = [f"{i:06d}".ljust(1024, "x") for i in range(100)]
        values = [msgspec.json.encode(items[: n + 1]) for n in range(100)]

        cfg = b'{"k":"' + b"x" * 40 + b'"}'  # over INLINE_BYTES: a stream

        async def main() -> dict[str, int]:
            for step, value in enumerate(values):
                await store.save(cp(step, {"log": value, "cfg": cfg}))
            latest = await store.load_latest("t")
            assert latest is not None and latest.global_data["log"] == values[-1]
            stats = await store.storage_stats()
            await store.aclose()
            return stats

        stats = asyncio.run(main())
        assert stats["snapshots"] + stats["deltas"] == 100 + 1
        assert stats["blob_bytes"] < 1.1 * len(values[-1])

    def test_body_covers_every_checkpoint_field(self) -> None:
        from hive_core.persistence._postgres_plan import Body

        columns = {"id", "thread_id", "run_id", "step_index", "global_data"}
        body = set(Body.__struct_fields__) - {"channels", "inline"}
        assert set(Checkpoint.__struct_fields__) == columns | body

    def test_small_channels_are_kept_in_the_body(
        self, store: PostgresCheckpointStore, postgres_schema: Schema
    ) -> None:
        """Bytes up to INLINE_BYTES get no stream and no version row."""
        from hive_core.persistence._chains import INLINE_BYTES

        small, big = b"x" * INLINE_BYTES, b"y" * (INLINE_BYTES + 1)
        saved = [cp(s, {"a": small, "b": big, "c": str(s).encode()}) for s in range(3)]

        async def main() -> list[Checkpoint | None]:
            loaded = []
            for c in saved:
                await store.save(c)
                loaded.append(await store.load_latest("t"))
            await store.aclose()
            return loaded

        assert asyncio.run(main()) == saved
        streams = postgres_schema.sql("SELECT channel FROM hive_checkpoint_streams")
        assert streams == [("b",)]
        assert postgres_schema.sql("SELECT count(*) FROM hive_checkpoint_blobs") == [
            (1,)
        ]

    def test_inline_and_streamed_saves_share_the_fence_and_the_latest(
        self, store: PostgresCheckpointStore, postgres_schema: Schema
    ) -> None:
        """A save with every channel inline takes the shorter statement
        (``sql.WRITE_INLINE``); it fences and orders exactly like the full one."""
        from hive_core.persistence import CheckpointConflict

        small, big = b"s", b"b" * 100
        first, second = cp(1, {"a": small}), cp(2, {"a": big})
        third, fourth = cp(3, {"a": small}), cp(4, {"a": small})

        async def main() -> tuple[Checkpoint | None, ...]:
            await store.save(first, expected_latest=None)
            await store.save(second, expected_latest=first.id)  # streamed
            with pytest.raises(CheckpointConflict) as err:  # inline, stale fence
                await store.save(third, expected_latest=first.id)
            assert (err.value.expected, err.value.actual) == (first.id, second.id)
            after_refusal = await store.load_latest("t")
            await store.save(third, expected_latest=second.id)
            # The latest rewritten at a lower step: the greatest of the others wins.
            await store.save(cp(0, {"a": small}, cid=third.id))
            after_rewrite = await store.load_latest("t")
            # ... and the fence knows it: a save following `second` is accepted.
            await store.save(fourth, expected_latest=second.id)
            return after_refusal, after_rewrite, await store.load_latest("t")

        after_refusal, after_rewrite, latest = asyncio.run(main())
        assert after_refusal == second
        assert after_rewrite == second
        assert latest == fourth
        ids = postgres_schema.sql("SELECT checkpoint_id FROM hive_checkpoints")
        assert sorted(ids) == [(c.id,) for c in (first, second, third, fourth)]

    def test_a_channel_stored_twice_in_the_body_is_refused(
        self, store: PostgresCheckpointStore, postgres_schema: Schema
    ) -> None:
        big = b"y" * 64

        async def save() -> None:
            await store.save(cp(0, {"b": big}))
            await store.aclose()

        asyncio.run(save())
        (raw,) = postgres_schema.sql("SELECT body FROM hive_checkpoints")[0]
        body = msgspec.msgpack.decode(raw)
        assert body[6] and body[6][0][0] == "b"
        for inline in ([["b", b"1"]], [["z", b"1"], ["z", b"2"]]):
            body[7] = inline
            postgres_schema.sql(
                "UPDATE hive_checkpoints SET body = %s",
                (msgspec.msgpack.encode(body),),
            )
            later = PostgresCheckpointStore(postgres_schema.url)
            with pytest.raises(CheckpointDecodeError, match="stored twice"):
                asyncio.run(later.load_latest("t"))
            asyncio.run(later.aclose())


class TestLayoutAndErrors:
    def test_newer_layout_version_is_refused_naming_both(
        self, postgres_schema: Schema
    ) -> None:
        first = PostgresCheckpointStore(postgres_schema.url)
        asyncio.run(first.setup())
        postgres_schema.sql(
            "UPDATE hive_checkpoint_meta SET value = '99' WHERE name = 'schema_version'"
        )
        later = PostgresCheckpointStore(postgres_schema.url)
        with pytest.raises(CheckpointCorruptError) as err:
            asyncio.run(later.save(cp(0, {})))
        assert "'99'" in err.value.reason
        assert f"'{POSTGRES_SCHEMA_VERSION}'" in err.value.reason
        assert err.value.field == "hive_checkpoint_meta.schema_version"

    def test_a_layout_2_database_is_upgraded(self, postgres_schema: Schema) -> None:
        """Layout-2 bodies (no inline channels) load; the version row is rewritten."""
        first = PostgresCheckpointStore(postgres_schema.url)
        big = b"y" * 64

        async def save() -> None:
            await first.save(cp(0, {"b": big}))
            await first.aclose()

        asyncio.run(save())
        (raw,) = postgres_schema.sql("SELECT body FROM hive_checkpoints")[0]
        seven = msgspec.msgpack.encode(msgspec.msgpack.decode(raw)[:7])
        postgres_schema.sql("UPDATE hive_checkpoints SET body = %s", (seven,))
        postgres_schema.sql(
            "UPDATE hive_checkpoint_meta SET value = '2' WHERE name = 'schema_version'"
        )
        later = PostgresCheckpointStore(postgres_schema.url)

        async def load() -> Checkpoint | None:
            found = await later.load_latest("t")
            await later.aclose()
            return found

        assert asyncio.run(load()) == cp(0, {"b": big})
        assert postgres_schema.sql(
            "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"
        ) == [(POSTGRES_SCHEMA_VERSION,)]

    def test_setup_is_idempotent_and_creates_the_tables(
        self, postgres_schema: Schema
    ) -> None:
        async def main() -> None:
            s = PostgresCheckpointStore(postgres_schema.url)
            await asyncio.gather(s.setup(), s.setup())
            await s.setup()
            await s.aclose()

        asyncio.run(main())
        rows = postgres_schema.sql(
            "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"
        )
        assert rows == [(POSTGRES_SCHEMA_VERSION,)]

    def test_unreachable_server_is_a_typed_retryable_error(self) -> None:
        url = "postgresql://hive:s3cret@127.0.0.1:9/hive"  # discard port: refused
        s = PostgresCheckpointStore(url, timeout=1.0)
        with pytest.raises(StoreUnavailableError) as err:
            asyncio.run(s.load_latest("t"))
        assert err.value.retryable is True
        assert err.value.target == "127.0.0.1:9/hive"
        assert err.value.operation == "setup"
        assert "s3cret" not in str(err.value)
        assert "refused" in err.value.reason.lower()

    def test_a_nul_thread_id_never_reaches_the_server(
        self, postgres_schema: Schema
    ) -> None:
        s = PostgresCheckpointStore(postgres_schema.url)
        with pytest.raises(InvalidThreadIdError) as err:
            asyncio.run(s.save(cp(0, {}, thread="nul\x00byte")))
        assert "NUL" in str(err.value)

    def test_closed_store_refuses(self, postgres_schema: Schema) -> None:
        s = PostgresCheckpointStore(postgres_schema.url)

        async def main() -> None:
            async with s:
                await s.save(cp(0, {"a": b"1"}))
            with pytest.raises(StoreClosedError, match="closed"):
                await s.load_latest("t")

        asyncio.run(main())

    def test_a_pool_can_be_handed_in(self, postgres_schema: Schema) -> None:
        from psycopg_pool import AsyncConnectionPool

        async def main() -> Checkpoint | None:
            async with AsyncConnectionPool(
                postgres_schema.url, open=False, kwargs={"autocommit": True}
            ) as pool:
                s = PostgresCheckpointStore(pool=pool)
                await s.save(cp(0, {"a": hashlib.sha256(b"x").digest()}))
                found = await s.load_latest("t")
                await s.aclose()
                assert not pool.closed  # the caller's pool stays the caller's
                return found

        found = asyncio.run(main())
        assert (
            found is not None
            and found.global_data["a"] == hashlib.sha256(b"x").digest()
        )


def drive(coro: Any) -> Any:
    """Run an inline store's coroutine (it must never suspend)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("an inline store's coroutine suspended")


def blocked_by(schema: Schema, pid: int) -> bool:
    """Whether some session waits for a lock that backend ``pid`` holds."""
    return bool(
        schema.sql(
            "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (pid,),
        )
    )


class TestDeleteThreadOnPostgres:
    def test_a_delete_waits_for_a_save_in_flight_and_takes_its_rows(
        self, store: PostgresCheckpointStore, postgres_schema: Schema
    ) -> None:
        """A save in flight holds the thread row (its fence updates it). The
        delete waits for it and then sees what it committed: no row of the thread
        is left behind, the late one included."""
        import psycopg

        drive(store.save(cp(0, {"big": b"x" * 100})))
        ((key,),) = postgres_schema.sql(
            "SELECT thread FROM hive_checkpoint_threads WHERE thread_id = 't'"
        )
        found: list[bool] = []
        with psycopg.connect(postgres_schema.url) as rival:
            rival.execute(
                "UPDATE hive_checkpoint_threads SET latest_step = 1 WHERE thread = %s",
                (key,),
            )
            rival.execute(
                "INSERT INTO hive_checkpoints (thread, checkpoint_id, step_index, "
                "run_id, has_interruption, body) VALUES (%s, 'late', 1, 'r', false, "
                "'\\x00')",
                (key,),
            )
            deleter = threading.Thread(
                target=lambda: found.append(drive(store.delete_thread("t")))
            )
            deleter.start()
            deadline = time.monotonic() + 60
            while not blocked_by(postgres_schema, rival.info.backend_pid):
                assert time.monotonic() < deadline, "the delete never waited"
            assert not found  # still waiting for the rival's commit
            rival.commit()
        deleter.join(timeout=60)
        assert found == [True]
        for table in ("hive_checkpoints", "hive_checkpoint_streams",
                      "hive_checkpoint_blobs", "hive_checkpoint_threads"):  # fmt: skip
            assert postgres_schema.sql(f"SELECT count(*) FROM {table}") == [(0,)]
        assert drive(store.load_latest("t")) is None

    def test_a_delete_waits_for_a_save_that_has_read_the_thread(
        self, postgres_schema: Schema
    ) -> None:
        """A save that plans from the tables holds the thread row from its first
        read: the streams and blobs it reads next cannot vanish under it."""
        first = PostgresCheckpointStore(postgres_schema.url)
        other = PostgresCheckpointStore(postgres_schema.url)
        try:
            drive(other.save(cp(0, {"big": b"x" * 100})))  # `first` knows nothing
            deleters: list[threading.Thread] = []
            found: list[bool] = []
            read_heads = first._read_heads

            async def reading(conn: Any, thread: Any, data: Any) -> Any:
                cur = await conn.execute("SELECT pg_backend_pid()")
                ((pid,),) = await cur.fetchall()
                deleter = threading.Thread(
                    target=lambda: found.append(drive(other.delete_thread("t")))
                )
                deleter.start()
                deleters.append(deleter)
                deadline = time.monotonic() + 30
                while not blocked_by(postgres_schema, pid):
                    assert time.monotonic() < deadline, "the delete did not wait"
                return await read_heads(conn, thread, data)

            first._read_heads = reading  # type: ignore[method-assign]
            drive(
                first.save(cp(1, {"big": b"x" * 99 + b"y"}), expected_latest="00000000")
            )
            deleters[0].join(timeout=60)
            assert found == [True]
            assert postgres_schema.sql("SELECT count(*) FROM hive_checkpoints") == [
                (0,)
            ]
            assert postgres_schema.sql(
                "SELECT count(*) FROM hive_checkpoint_blobs"
            ) == [(0,)]
        finally:
            first.close()
            other.close()

    def test_a_load_overlapping_a_delete_finds_nothing(
        self, postgres_schema: Schema
    ) -> None:
        """The delete commits between the load's two statements (the checkpoint
        row, then its blob rows): the load says the thread has no checkpoint,
        not that the store is damaged."""
        loader = PostgresCheckpointStore(postgres_schema.url)
        other = PostgresCheckpointStore(postgres_schema.url)
        try:
            drive(loader.save(cp(0, {"big": b"x" * 100})))
            fetch_rows = loader._fetch_rows
            deleted: list[bool] = []

            async def fetching(conn: Any, refs: Any) -> Any:
                if not deleted:
                    deleted.append(drive(other.delete_thread("t")))
                return await fetch_rows(conn, refs)

            loader._fetch_rows = fetching  # type: ignore[method-assign]
            assert drive(loader.load_latest("t")) is None
            assert deleted == [True]
        finally:
            loader.close()
            other.close()
