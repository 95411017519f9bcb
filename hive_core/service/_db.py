"""The service's own tables, next to the checkpoints: runs, attempts, events, workers.

DBOS owns the queue and workflow state; these tables hold what Hive promises on top
of it: a run's status and last error (the dead-letter list), its attempt history,
its events (readable from any process, replayable from the start) and the worker
registry. SQLAlchemy Core (a DBOS dependency) gives one code path for SQLite and
PostgreSQL. See ``docs/service.md``.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa

from . import _db_sql as sql

__all__ = ["UNKNOWN", "Latest", "ServiceDB", "sqlalchemy_url"]


class _Unknown(enum.Enum):
    UNKNOWN = "unknown"


UNKNOWN = _Unknown.UNKNOWN
"""A thread's latest checkpoint not (yet) known: the store could not be read."""
Latest = str | None | _Unknown

_meta = sa.MetaData()
runs = sa.Table(
    "hive_service_runs",
    _meta,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("graph", sa.String, nullable=False),
    sa.Column("thread_id", sa.String, nullable=False, index=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False, index=True),
    sa.Column("priority", sa.Integer, nullable=True),
    sa.Column("workflow_id", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("baseline_set", sa.Integer, nullable=False, default=0),
    sa.Column("baseline", sa.String, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("worker_id", sa.String, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
attempts = sa.Table(
    "hive_service_attempts",
    _meta,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("workflow_id", sa.String, nullable=False),
    sa.Column("worker_id", sa.String, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("result", sa.String, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)
events = sa.Table(
    "hive_service_events",
    _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("attempt_id", sa.String, nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("run_id", "attempt_id", "idx", name="hive_service_events_key"),
    sa.Index("hive_service_events_run", "run_id", "seq"),
)
workers = sa.Table(
    "hive_service_workers",
    _meta,
    sa.Column("worker_id", sa.String, primary_key=True),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=True),
    sa.Column("running", sa.Integer, nullable=False),
    sa.Column("version", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
)

_LOCK = {"key": 0x48495645}  # "HIVE": serialises table creation

TERMINAL = frozenset(
    {"finished", "interrupted", "cancelled", "timed_out", "out_of_steps", "failed"}
)


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` → the psycopg 3 driver SQLAlchemy needs named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


P = ParamSpec("P")
T = TypeVar("T")


@functools.cache
def _list_runs(by_status: bool, by_thread: bool, limited: bool) -> sa.Select[Any]:
    """``list_runs``'s statement for the filters given, built once (building it
    per call, with its cache key, cost more client CPU than running it)."""
    query = sa.select(runs).order_by(runs.c.created_at, runs.c.run_id)
    if by_status:
        query = query.where(runs.c.status.in_(sa.bindparam("statuses", expanding=True)))
    if by_thread:
        query = query.where(runs.c.thread_id == sa.bindparam("thread_id"))
    if limited:
        query = query.limit(sa.bindparam("limit"))
    return query


class ServiceDB:
    """Synchronous access to the service tables. Async callers make point reads
    through ``aread`` and everything else with ``asyncio.to_thread`` (a write may
    wait for the file's writer lock; a listing may read many rows)."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size}
        self.auto: sa.Engine
        if not url.startswith("sqlite"):
            self.engine = sa.create_engine(sqlalchemy_url(url), **kwargs)
            # One statement, one round trip: no BEGIN/COMMIT (or ROLLBACK after a
            # read) around statements that are atomic on their own.
            self.auto = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            # Keep enough connections open for every thread that reads at once
            # (one opened past the pool is closed after use and its schema
            # parsed again by the next).
            kwargs = {"pool_size": max(pool_size, _SQLITE_POOL),
                      "max_overflow": 2 * _SQLITE_POOL,
                      "connect_args": {"timeout": 30, "check_same_thread": False}}  # fmt: skip
            self.engine = _sqlite_engine(url, kwargs)
            # Its own pool of connections that stay in autocommit: switching a
            # pooled SQLite connection costs a PRAGMA at every checkout and checkin.
            self.auto = _sqlite_engine(url, {**kwargs, "isolation_level": "AUTOCOMMIT"})
        self.postgres = self.engine.dialect.name == "postgresql"
        self._local = self.engine.dialect.name == "sqlite"
        self._writer = _writer_lock(url)

    async def aread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)``, a point read of these tables (rows by their
        key), for a caller on an event loop. On SQLite it runs right there: a read
        of the local WAL file does not wait for the writer (only, briefly, for the
        recovery of a crashed one), and handing it to a thread and back cost more
        CPU than the read (measured in ``docs/http-api.md``, "Benchmark"). Any
        other database is a network round trip away, so the read runs in a worker
        thread and the loop keeps serving. Reads of many rows (``list_runs``, the
        event pump's batches) and every write stay in threads."""
        if self._local:
            return fn(*args, **kwargs)
        import asyncio

        return await asyncio.to_thread(fn, *args, **kwargs)

    def create(self) -> None:
        """Create the tables if missing. Workers started together on a fresh
        PostgreSQL database take turns (a transaction-scoped advisory lock), so
        none fails on another's half-made table."""
        with self.write_tx() as conn:
            if self.postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), _LOCK)
            _meta.create_all(conn, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()
        self.auto.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """An autocommit connection for one writing statement, this process's
        writers of the file taking turns (``_writer_lock``)."""
        with self._writer, self.auto.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write_tx(self) -> Iterator[sa.Connection]:
        """A transaction that writes, this process's writers taking turns."""
        with self._writer, self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------- runs

    def add_run(self, row: dict[str, Any]) -> bool:
        """Insert a run unless its id exists (idempotent submit); ``True`` if new."""
        with self.write() as conn:
            done = conn.execute(sql.ADD_RUN, {**row, "now": time.time()})
            return bool(done.rowcount)

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.auto.connect() as conn:
            row = conn.execute(sql.RUN, {"run": run_id}).first()
        return dict(row._mapping) if row is not None else None

    def list_runs(
        self,
        *,
        status: Sequence[str] | None = None,
        thread_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        query = _list_runs(status is not None, thread_id is not None, limit is not None)
        params = {
            "statuses": list(status or ()),
            "thread_id": thread_id,
            "limit": limit,
        }
        with self.auto.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query, params)]

    def update_run(self, run_id: str, **values: Any) -> None:
        with self.write() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(**values, updated_at=time.time())
            )

    def add_failure(self, run_id: str, error: str) -> int:
        """Count a failed try of the run with its error; the failures so far."""
        stmt = (
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                failures=runs.c.failures + 1, last_error=error, updated_at=time.time()
            )
            .returning(runs.c.failures)
        )
        with self.write() as conn:
            return int(conn.execute(stmt).scalar_one())

    def begin_attempt(
        self, run_id: str, workflow_id: str, worker_id: str, latest: Latest
    ) -> tuple[int, Latest]:
        """Count one more attempt, mark the run running, record the attempt; and
        the first time the thread's latest checkpoint is known (``latest`` is not
        ``UNKNOWN``), set it as the run's baseline. The attempt's number and the
        baseline (``UNKNOWN`` while unset). One round trip on PostgreSQL."""
        now = time.time()
        known = latest is not UNKNOWN
        params = {
            "run": run_id, "workflow": workflow_id, "worker": worker_id, "now": now,
            "known": known, "latest": latest if known else None,
        }  # fmt: skip
        if self.postgres:
            with self.write() as conn:
                row = conn.execute(sql.START_ATTEMPT_PG, params).one()
        else:
            with self.write_tx() as conn:
                row = conn.execute(sql.START_RUN_SQLITE, params).one()
                conn.execute(sql.START_ATTEMPT_SQLITE, {**params, "n": row[0]})
        n, baseline, baseline_set = row
        if not baseline_set:
            return int(n), UNKNOWN
        return int(n), str(baseline) if baseline is not None else None

    def finish_attempt(
        self, run_id: str, n: int, status: str, body: str, error: str | None
    ) -> None:
        """End attempt ``n`` and the run with ``status`` and its result ``body``
        (one round trip on PostgreSQL)."""
        params = {
            "run": run_id, "n": n, "status": status, "body": body, "error": error,
            "now": time.time(),
        }  # fmt: skip
        if self.postgres:
            with self.write() as conn:
                conn.execute(sql.FINISH_PG, params)
            return
        with self.write_tx() as conn:
            for stmt in sql.FINISH_SQLITE:
                conn.execute(stmt, params)

    def end_attempt(
        self, run_id: str, n: int, result: str, error: str | None = None
    ) -> None:
        with self.write() as conn:
            conn.execute(
                attempts.update()
                .where(attempts.c.run_id == run_id, attempts.c.n == n)
                .values(ended_at=time.time(), result=result, error=error)
            )

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        query = sa.select(attempts).where(attempts.c.run_id == run_id)
        with self.auto.connect() as conn:
            return [
                dict(r._mapping) for r in conn.execute(query.order_by(attempts.c.n))
            ]

    def all_attempts(self) -> list[dict[str, Any]]:
        with self.auto.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(attempts))]

    def baseline(self, run_id: str, latest: str | None) -> str | None:
        """The thread's latest checkpoint when the run first started (set once):
        the run's input is applied only while the thread is still there."""
        stmt = (
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                baseline=sa.case(
                    (runs.c.baseline_set == 0, sa.bindparam("latest", type_=sa.String)),
                    else_=runs.c.baseline,
                ),
                baseline_set=1,
            )
            .returning(runs.c.baseline)
        )
        with self.write() as conn:
            found = conn.execute(stmt, {"latest": latest}).scalar_one()
        return str(found) if found is not None else None

    # ----------------------------------------------------------------- events

    def append_events(self, rows: Sequence[tuple[str, str, int, bytes]]) -> None:
        """Rows of (run, attempt, index, body) of one run, in order, in one
        statement; a row already there is skipped."""
        if not rows:
            return
        now = time.time()
        with self.write() as conn:
            if self.postgres:
                conn.execute(
                    sql.EVENTS_PG,
                    {
                        "run": rows[0][0],
                        "at": now,
                        "attempts": [r[1] for r in rows],
                        "idxs": [r[2] for r in rows],
                        "bodies": [r[3] for r in rows],
                    },
                )
                return
            conn.execute(
                sql.EVENTS_SQLITE,
                [
                    {"run": r, "attempt": a, "idx": i, "at": now, "body": b}
                    for r, a, i, b in rows
                ],
            )

    def read_events(
        self, run_id: str, after: int = 0, limit: int = 1000
    ) -> list[tuple[int, bytes]]:
        query = (
            sa.select(events.c.seq, events.c.body)
            .where(events.c.run_id == run_id, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(limit)
        )
        with self.auto.connect() as conn:
            return [(int(s), bytes(b)) for s, b in conn.execute(query)]

    # ---------------------------------------------------------------- workers

    def heartbeat(self, row: dict[str, Any]) -> None:
        """Upsert this worker's row (a zombie that wakes comes back alive)."""
        with self.write() as conn:
            conn.execute(sql.HEARTBEAT, row)

    def set_worker_state(self, worker_id: str, state: str) -> None:
        with self.write() as conn:
            conn.execute(
                workers.update()
                .where(workers.c.worker_id == worker_id)
                .values(state=state)
            )

    def workers(self) -> list[dict[str, Any]]:
        with self.auto.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sql.WORKERS)]

    def claim_dead(self, worker_id: str, seen_heartbeat: float) -> bool:
        """Mark a silent worker dead; only one live worker wins the takeover."""
        with self.write() as conn:
            done = conn.execute(
                workers.update()
                .where(
                    workers.c.worker_id == worker_id,
                    workers.c.heartbeat_at == seen_heartbeat,
                    workers.c.state != "dead",
                )
                .values(state="dead")
            )
            return bool(done.rowcount)


_SQLITE_POOL = 8
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(url: str) -> AbstractContextManager[object]:
    """One lock per SQLite file in this process, shared by every ``ServiceDB`` on
    it (the worker's, its client's, the server's). SQLite lets one writer in at a
    time; a second one is turned away and its busy handler sleeps 1, 2, 5, 10 ms
    and more before it tries again, so under load a writing statement waited
    mostly on those sleeps (the events insert averaged 7 ms under 10 clients).
    Waiting on a lock instead wakes the next writer as soon as the first is
    done. Other processes on the file still meet the busy timeout. PostgreSQL
    writers do not take turns here."""
    if not url.startswith("sqlite"):
        return contextlib.nullcontext()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(url, threading.RLock())


def _sqlite_engine(url: str, kwargs: dict[str, Any]) -> sa.Engine:
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(conn: Any, _record: Any) -> None:
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)
