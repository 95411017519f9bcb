"""The server's event pump (``hive_core.server._pump``) on a real service database.

A run far ahead must not starve another's subscriber: with one cursor for every
run, a run of more than one batch of events whose subscriber had caught up filled
every batch with rows already delivered, and a new subscriber of another run never
got its events nor its end (neither stream ended).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import cast

import msgspec
import pytest
from postgres_support import Database

from hive_core.events import Event, StepStarted
from hive_core.server._pump import _BATCH, EventPump, RunEnded
from hive_core.service._db import ServiceDB


def _run(run_id: str, status: str) -> dict[str, object]:
    return {
        "run_id": run_id, "graph": "g", "thread_id": f"t-{run_id}", "kind": "start",
        "status": status, "priority": None, "workflow_id": run_id, "spec": "{}",
    }  # fmt: skip


def _events(db: ServiceDB, run_id: str, count: int) -> None:
    def body(i: int) -> bytes:
        event = StepStarted(
            run_id=run_id, attempt_id="a1", index=i, step=i, frontier_count=1
        )
        return msgspec.json.encode(event)

    rows = [(run_id, "a1", i, body(i)) for i in range(count)]
    for start in range(0, count, 1000):
        db.append_events(rows[start : start + 1000])


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceDB]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    else:
        pg: Database = request.getfixturevalue("pg_database")
        url = pg.url
    found = ServiceDB(url)
    found.create()
    with found.write_tx() as conn:  # the module's database is shared: start empty
        for table in ("hive_service_events", "hive_service_runs"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    yield found
    found.dispose()


def test_a_run_far_ahead_does_not_starve_another_runs_subscriber(
    db: ServiceDB,
) -> None:
    ahead = _BATCH + 10
    assert db.add_run(_run("long", "running"))
    _events(db, "long", ahead)
    assert db.add_run(_run("short", "finished"))
    _events(db, "short", 3)

    async def main() -> tuple[list[int], list[Event | RunEnded]]:
        pump = EventPump(db)
        pump.start()
        try:
            follow_long = cast(
                AsyncGenerator[Event | RunEnded, None], pump.follow("long")
            )
            seen = [
                await asyncio.wait_for(anext(follow_long), 20) for _ in range(ahead)
            ]
            # the long run's subscriber has caught up, and stays subscribed
            short: list[Event | RunEnded] = []

            async def read_short() -> None:
                async for item in pump.follow("short"):
                    short.append(item)

            await asyncio.wait_for(read_short(), 20)
            await follow_long.aclose()
            return [e.index for e in seen if isinstance(e, Event)], short
        finally:
            await pump.stop()

    indexes, short = asyncio.run(main())
    assert indexes == list(range(ahead))  # every event of the long run, in order
    assert [e.index for e in short if isinstance(e, Event)] == [0, 1, 2]
    assert short[-1] == RunEnded("finished")
