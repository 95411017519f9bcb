"""What the thread-lock tests use on PostgreSQL: a database of their own, and
``pg_locks``' rows for one thread's advisory key (``hive_core/server/_guard.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from postgres_support import Database, require_url

from hive_core.server._guard import advisory_key

KEY_ROWS = (
    "FROM pg_locks AS l WHERE l.locktype = 'advisory' "
    "AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 2"
)


@contextlib.contextmanager
def fresh_database(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """The URL of a new database on the test server (``settings``: its own
    defaults), dropped afterwards."""
    db = Database(require_url(), settings)
    try:
        yield db.url
    finally:
        db.drop()


def advisory_locks(url: str, thread_id: str) -> list[tuple[str, bool]]:
    """``(mode, granted)`` of every advisory lock on ``thread_id``'s key."""
    import psycopg

    first, second = advisory_key(thread_id)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT l.mode, l.granted {KEY_ROWS}", (first, second & 0xFFFFFFFF)
        ).fetchall()
    return sorted((str(m), bool(g)) for m, g in rows)


def lock_sessions(url: str, thread_id: str) -> list[tuple[bool, str, float, float]]:
    """Per session with a lock (or a wait) on ``thread_id``'s key: ``(granted,
    state, seconds in that state, seconds in its statement)``."""
    import psycopg

    first, second = advisory_key(thread_id)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT l.granted, a.state, "
            "extract(epoch FROM clock_timestamp() - a.state_change)::float8, "
            "extract(epoch FROM clock_timestamp() - a.query_start)::float8 "
            + KEY_ROWS.replace("AS l", "AS l JOIN pg_stat_activity AS a USING (pid)"),
            (first, second & 0xFFFFFFFF),
        ).fetchall()
    return [(bool(g), str(s), float(c), float(q)) for g, s, c, q in rows]
