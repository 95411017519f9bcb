"""One poller for every open stream: the service's events table, fanned out.

Each SSE client subscribes to one run. A single task reads, per tick, the status
of every subscribed run and then every new event of those runs, each after its
own cursor (one query each, however many clients), and hands each subscriber the events of its own run in
order. A run's events are all written before its status turns terminal, so a run
seen terminal *before* an events read has nothing left after that read: its
subscribers then get the end marker. Per-subscriber cursors (a ``seq`` per run)
keep order and completeness on PostgreSQL too, where rows of different runs may
commit out of ``seq`` order. See ``docs/http-api.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import sqlalchemy as sa

from ..events import Event
from ..service._client import _event_types
from ..service._db import TERMINAL, ServiceDB, events, runs

__all__ = ["EventPump", "RunEnded"]

_TICK_S = 0.01
_BATCH = 5000


# Built once: a statement built per tick, with its cache key, cost more CPU than
# running it. Reads in autocommit: no transaction to open and roll back.
_STATUSES = sa.select(runs.c.run_id, runs.c.status).where(
    runs.c.run_id.in_(sa.bindparam("ids", expanding=True))
)


@functools.lru_cache(maxsize=64)
def _events_after(runs: int) -> sa.Select[Any]:
    """The events of ``runs`` runs, each after its own cursor (``r<i>``,
    ``a<i>``), oldest first: one cursor for all would let a run far ahead fill
    every batch with rows its subscribers have, and the others would never get
    theirs. Built once per number of runs (each term uses the ``(run_id, seq)``
    index)."""
    terms = [
        sa.and_(
            events.c.run_id == sa.bindparam(f"r{i}"),
            events.c.seq > sa.bindparam(f"a{i}"),
        )
        for i in range(runs)
    ]
    return (
        sa.select(events.c.run_id, events.c.seq, events.c.body)
        .where(sa.or_(*terms))
        .order_by(events.c.seq)
        .limit(_BATCH)
    )


class RunEnded(msgspec.Struct, frozen=True):
    """The end marker: the run's terminal status."""

    status: str


class _Sub:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.cursor = 0
        self.ended = False
        self.queue: asyncio.Queue[Event | RunEnded] = asyncio.Queue()


class EventPump:
    """Fans the events table out to per-run subscribers (one poller task)."""

    def __init__(self, db: ServiceDB) -> None:
        self._db = db
        self._subs: dict[str, list[_Sub]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._decoder = msgspec.json.Decoder(_event_types())

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def follow(self, run_id: str) -> AsyncIterator[Event | RunEnded]:
        """Every event of ``run_id`` from its first, then its ``RunEnded``."""
        sub = _Sub(run_id)
        self._subs.setdefault(run_id, []).append(sub)
        self._wake.set()
        try:
            while True:
                item = await sub.queue.get()
                yield item
                if isinstance(item, RunEnded):
                    return
        finally:
            subs = self._subs.get(run_id, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(run_id, None)

    async def _loop(self) -> None:
        while True:
            if not self._subs:
                self._wake.clear()
                await self._wake.wait()
            subs = [s for group in self._subs.values() for s in group if not s.ended]
            cursors: dict[str, int] = {}
            for sub in subs:
                cursors[sub.run_id] = min(
                    cursors.get(sub.run_id, sub.cursor), sub.cursor
                )
            try:
                more = await asyncio.to_thread(self._tick_io, cursors)
            except Exception:  # a failed read is retried at the next tick
                more = None
            if more is not None:
                self._deliver(subs, *more)
            await asyncio.sleep(_TICK_S)

    def _tick_io(
        self, cursors: dict[str, int]
    ) -> tuple[dict[str, str], list[tuple[str, int, bytes]], bool]:
        if not cursors:
            return {}, [], False
        after: dict[str, Any] = {}
        for i, (run_id, cursor) in enumerate(cursors.items()):
            after[f"r{i}"], after[f"a{i}"] = run_id, cursor
        with self._db.auto.connect() as conn:
            statuses = conn.execute(_STATUSES, {"ids": list(cursors)})
            done = {r: s for r, s in statuses if s in TERMINAL}
            rows = conn.execute(_events_after(len(cursors)), after).all()
        found = [(str(r), int(q), bytes(b)) for r, q, b in rows]
        return done, found, len(found) == _BATCH

    def _deliver(
        self,
        subs: list[_Sub],
        done: dict[str, str],
        rows: list[tuple[str, int, bytes]],
        full: bool,
    ) -> None:
        """Only to the subscribers the reads were made for: one that joined
        since gets its run's events from the first at the next tick."""
        by_run: dict[str, list[_Sub]] = {}
        for sub in subs:
            by_run.setdefault(sub.run_id, []).append(sub)
        decoded: dict[int, Any] = {}
        for run_id, seq, body in rows:
            for sub in by_run.get(run_id, ()):
                if seq <= sub.cursor:
                    continue
                if seq not in decoded:
                    decoded[seq] = self._decoder.decode(body)
                sub.cursor = seq
                sub.queue.put_nowait(decoded[seq])
        if full:  # more rows wait: end markers only once they are read
            return
        for run_id, status in done.items():
            for sub in by_run.get(run_id, ()):
                sub.ended = True
                sub.queue.put_nowait(RunEnded(status))
