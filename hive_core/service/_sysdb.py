"""The engine DBOS uses for an embedded (SQLite) system database.

Left to itself DBOS opens its SQLite file in the rollback-journal mode with
``synchronous=FULL``: every commit syncs the journal and the file, and a writer
locks readers out while it commits. Under ten concurrent runs the queue's
dequeue, each workflow's status writes and every enqueue then wait on one
another (measured: an enqueue's ``INSERT`` averaged 31 ms, nearly all of it
waiting for the lock). The same file in WAL mode with ``synchronous=NORMAL``
lets readers run beside the one writer and syncs only at checkpoints of the
WAL: what the checkpoint store and the service tables already use, so the three
embedded files keep one guarantee (``docs/service.md``, "Durability"): a
committed transaction survives the process being killed; a power cut or an OS
crash may lose the last commits, never corrupting the file.

The connection set-up repeats DBOS's own for SQLite (``IMMEDIATE`` transactions
so writers queue instead of failing on upgrade, its 30 s busy timeout, foreign
keys on), which DBOS skips for an engine it is handed. PostgreSQL: ``None``,
DBOS builds its engine as before.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["system_engine"]

BUSY_TIMEOUT_MS = 30_000


def system_engine(url: str, pool_size: int) -> sa.Engine | None:
    """A SQLite system database's engine in WAL mode; ``None`` for PostgreSQL."""
    if not url.startswith("sqlite"):
        return None
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        connect_args={"check_same_thread": False},
    )
    sa.event.listen(engine, "connect", _on_connect)
    return engine


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = "IMMEDIATE"
    dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
