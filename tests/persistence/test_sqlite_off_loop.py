"""A contended SQLite store does not stall the event loop (``docs/persistence.md``).

Another connection holds the file's write lock; a run on that store reaches its
save and waits for the lock in a worker thread, while a second run on the same loop
steps to its end. The lock holder is a plain ``sqlite3`` connection; ordering uses
the store's busy ``sleep`` hook (called only after an attempt met the lock) and
events, never wall-clock waits.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from hive_core import CheckpointPolicy, RunOptions, Runtime
from hive_core.persistence import (
    BusyPolicy,
    InMemoryCheckpointStore,
    SQLiteCheckpointStore,
)

from .fencing_graph import counter_graph


def test_a_locked_store_does_not_stop_other_threads_steps(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    met_lock = threading.Event()
    waiting_threads: set[str] = set()

    def sleep(seconds: float) -> None:
        waiting_threads.add(threading.current_thread().name)
        met_lock.set()
        time.sleep(seconds)

    store = SQLiteCheckpointStore(db, timeout=BusyPolicy(timeout=20.0, sleep=sleep))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    every = CheckpointPolicy.every(1)

    async def main() -> None:
        locked = Runtime(counter_graph("a"), checkpoint_store=store)
        free = Runtime(counter_graph("b"), checkpoint_store=InMemoryCheckpointStore())
        blocked = asyncio.ensure_future(
            locked.run("a", None, RunOptions(checkpoint_policy=every, max_steps=2))
        )
        assert await asyncio.to_thread(met_lock.wait, 20.0)  # a's save met the lock
        out = await free.run(
            "b", None, RunOptions(checkpoint_policy=every, max_steps=50)
        )
        assert out.status == "out_of_steps" and len(out.output["log"]) == 50
        assert not blocked.done()  # still waiting, off the loop
        holder.execute("ROLLBACK")
        done = await blocked
        assert done.output["log"] == ["a 0", "a 1"]

    try:
        asyncio.run(main())
    finally:
        holder.close()
        store.close()
    assert threading.main_thread().name not in waiting_threads


def test_without_a_loop_calls_stay_inline(tmp_path: Path) -> None:
    # run_sync drives an inline store without an event loop: no worker thread.
    with SQLiteCheckpointStore(tmp_path / "x.db") as store:
        rt = Runtime(counter_graph("s"), checkpoint_store=store)
        started = threading.active_count()
        out = rt.run_sync(
            "s",
            None,
            RunOptions(checkpoint_policy=CheckpointPolicy.every(1), max_steps=3),
        )
        assert out.output["log"] == ["s 0", "s 1", "s 2"]
        assert threading.active_count() == started


def test_a_locked_memory_store_waits_off_the_loop(tmp_path: Path) -> None:
    from hive_core.memory import SQLiteMemoryStore

    db = tmp_path / "memory.db"
    met_lock = threading.Event()

    def sleep(seconds: float) -> None:
        met_lock.set()
        time.sleep(seconds)

    store = SQLiteMemoryStore(db, timeout=BusyPolicy(timeout=20.0, sleep=sleep))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def main() -> None:
        remember = asyncio.ensure_future(store.remember(("n",), "k", "hello world"))
        assert await asyncio.to_thread(met_lock.wait, 20.0)
        # The remember holds the store's lock in its thread: the delete queues
        # behind it (in a thread of its own), so the order is fixed.
        writes = [remember, asyncio.ensure_future(store.delete(("n",), "k"))]
        ticks = 0
        for _ in range(100):  # the loop keeps turning while the writes wait
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 100 and not any(w.done() for w in writes)
        holder.execute("ROLLBACK")
        item, deleted = await asyncio.gather(*writes)
        assert getattr(item, "text", None) == "hello world" and deleted is True
        assert await store.get(("n",), "k") is None
        await store.remember(("n",), "k2", "hello again")  # uncontended: inline
        hits = await store.recall(("n",), "hello")
        assert [h.item.key for h in hits] == ["k2"]

    try:
        asyncio.run(main())
    finally:
        holder.close()
        store.close()
