"""Where an async caller's read of the service tables runs (``ServiceDB.aread``).

On SQLite a point read runs on the caller's event loop thread (no hop to a worker
thread: it never waits for the writer, and the hop cost more CPU than the read);
on PostgreSQL, a network round trip, it runs in a worker thread, so the loop is
never stalled by the database. Both give the same rows.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from postgres_support import Database

from hive_core.service._db import ServiceDB

RUN = {
    "run_id": "r1",
    "graph": "g",
    "thread_id": "t1",
    "kind": "start",
    "status": "queued",
    "priority": None,
    "workflow_id": "r1",
    "spec": "{}",
}


async def _read_where(db: ServiceDB) -> tuple[bool, list[dict[str, Any]]]:
    """(whether the read ran on this loop's thread, the row it read)."""
    loop_thread = threading.get_ident()

    def probe() -> tuple[int, list[dict[str, Any]]]:
        row = db.run("r1")  # a point read, what `aread` is for
        return threading.get_ident(), [] if row is None else [row]

    ran_on, rows = await db.aread(probe)
    return ran_on == loop_thread, rows


def test_a_sqlite_read_runs_on_the_loop_thread(tmp_path: Path) -> None:
    db = ServiceDB(f"sqlite:///{tmp_path / 'service.sqlite'}")
    db.create()
    try:
        assert db.add_run(RUN)
        on_loop, rows = asyncio.run(_read_where(db))
        assert on_loop
        assert [(r["run_id"], r["status"]) for r in rows] == [("r1", "queued")]
    finally:
        db.dispose()


def test_a_postgres_read_runs_in_a_worker_thread(pg_database: Database) -> None:
    db = ServiceDB(pg_database.url)
    db.create()
    try:
        assert db.add_run(RUN)
        on_loop, rows = asyncio.run(_read_where(db))
        assert not on_loop
        assert [(r["run_id"], r["status"]) for r in rows] == [("r1", "queued")]
    finally:
        db.dispose()


def test_a_failing_read_raises_to_its_caller_either_way(tmp_path: Path) -> None:
    db = ServiceDB(f"sqlite:///{tmp_path / 'service.sqlite'}")

    def broken() -> None:
        raise LookupError("no such run")

    async def main() -> None:
        try:
            await db.aread(broken)
        except LookupError as exc:
            assert str(exc) == "no such run"
        else:  # pragma: no cover - the read must raise
            raise AssertionError("aread swallowed the error")

    try:
        asyncio.run(main())
    finally:
        db.dispose()
