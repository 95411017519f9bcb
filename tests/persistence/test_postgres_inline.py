"""The PostgreSQL checkpoint store's inline path (``docs/persistence.md``, "The
inline path"): off a loop it uses a psycopg sync pool and never suspends, so
``run_sync`` starts no event loop; on a loop it stays natively async; both paths
write the same rows. The conformance suite runs it both ways
(``postgres`` and ``postgres-inline`` in ``tests/checkpoints``)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from postgres_support import Schema, postgres_schema, postgres_url

from hive_core import (
    END,
    CheckpointPolicy,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Write,
    channel,
    reducers,
)
from hive_core import (
    Schema as GraphSchema,
)
from hive_core._bridge import run_sync
from hive_core.persistence import Checkpoint, PostgresCheckpointStore

T = TypeVar("T")


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """The sync bridge's inline driver: it fails if the coroutine suspends."""
    return run_sync(coro, name="drive", instead="await", inline=True)


__all__ = ["postgres_schema", "postgres_url"]

EVERY = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Count(GraphSchema):
    n = channel(int, reducer=reducers.sum, update="multi")


def _cp(step: int, thread: str = "t") -> Checkpoint:
    return Checkpoint(
        id=f"{step:08d}",
        thread_id=thread,
        run_id="r",
        step_index=step,
        schema_version="s",
        graph_version="g",
        global_data={"a": hashlib.sha256(b"%d" % step).digest() * 8},
    )


def test_run_sync_starts_no_event_loop(postgres_schema: Schema) -> None:
    loops: list[object] = []

    def step(ctx: NodeInput) -> NodeOutput:
        loops.append(asyncio._get_running_loop())
        return NodeOutput(writes=[Write(Count.n, 1)])

    g = GraphBuilder(Count, start=["A"]).add_node("A", step)
    g.add_router("A", lambda v: ["A"] if v.get(Count.n) < 5 else END)
    store = PostgresCheckpointStore(postgres_schema.url)
    assert store.inline
    rt = Runtime(g.compile(), checkpoint_store=store)
    out = rt.run_sync("t", None, EVERY)
    assert out.output == {"n": 5}
    assert loops == [None] * 5  # driven inline: no loop around the nodes
    store.close()
    # Another store, on a loop (the async pool), reads what the sync pool wrote.
    again = PostgresCheckpointStore(postgres_schema.url)

    async def latest() -> Checkpoint | None:
        try:
            return await again.load_latest("t")
        finally:
            await again.aclose()

    found = asyncio.run(latest())
    assert found is not None and found.id == out.checkpoint_id


def test_both_paths_write_the_same_rows(postgres_schema: Schema) -> None:
    """Saves alternate between the inline and the async path on one store."""
    store = PostgresCheckpointStore(postgres_schema.url)
    runner = asyncio.Runner()
    try:
        for step in range(6):
            save = store.save(
                _cp(step), expected_latest=_cp(step - 1).id if step else None
            )
            if step % 2:
                runner.run(save)
            else:
                drive(save)
        got = runner.run(store.load_latest("t"))
        assert got == _cp(5)
        listed = runner.run(store.list_checkpoints("t"))
        assert [s.step_index for s in listed] == [5, 4, 3, 2, 1, 0]
    finally:
        runner.run(store.aclose())
        runner.close()


def test_a_handed_in_pool_is_notdrive(postgres_schema: Schema) -> None:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(postgres_schema.url, open=False)
    assert not PostgresCheckpointStore(pool=pool).inline


def test_session_settings_keep_the_urls_options(postgres_schema: Schema) -> None:
    """``synchronous_commit=`` and the store's own settings join the URL's
    ``options`` (here its ``search_path``) instead of replacing them."""
    store = PostgresCheckpointStore(postgres_schema.url, synchronous_commit="off")
    drive(store.save(_cp(0)))
    store.close()
    assert postgres_schema.sql("SELECT count(*) FROM hive_checkpoints") == [(1,)]


def test_threads_share_one_inline_store(postgres_schema: Schema) -> None:
    """``run_sync`` from several OS threads at once: each borrows its own sync
    connection, and every thread's history is complete."""
    import threading

    g = GraphBuilder(Count, start=["A"]).add_node(
        "A", lambda ctx: NodeOutput(writes=[Write(Count.n, 1)])
    )
    g.add_router("A", lambda v: ["A"] if v.get(Count.n) < 20 else END)
    store = PostgresCheckpointStore(postgres_schema.url, max_size=4)
    rt = Runtime(g.compile(), checkpoint_store=store)
    start = threading.Barrier(4)
    outs: dict[str, Any] = {}

    def work(thread_id: str) -> None:
        start.wait()
        outs[thread_id] = rt.run_sync(thread_id, None, EVERY).output

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert outs == {f"w{i}": {"n": 20} for i in range(4)}
    for i in range(4):
        latest = drive(store.load_latest(f"w{i}"))
        assert latest is not None and latest.step_index >= 19
    store.close()
