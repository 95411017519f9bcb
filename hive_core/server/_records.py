"""What the server keeps beside the service's tables: threads and run options.

LangGraph threads exist before they run and carry metadata; Hive's checkpoint
stores know a thread only once it has a checkpoint. ``hive_server_threads`` holds
the API's threads (id, graph, metadata), ``hive_server_runs`` what a run was
created with (assistant, metadata, strategy, stream modes). Same database as the
service tables (SQLAlchemy Core); async callers make point reads through
``aread`` (on the loop for SQLite, in a thread otherwise) and everything else with
``asyncio.to_thread``. See ``docs/http-api.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import attrs
import sqlalchemy as sa

from ..service._db import ServiceDB

__all__ = ["RunRecord", "ServerDB", "ThreadRecord"]

_meta = sa.MetaData()
threads = sa.Table(
    "hive_server_threads",
    _meta,
    sa.Column("thread_id", sa.String, primary_key=True),
    sa.Column("graph", sa.String, nullable=True),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
runs = sa.Table(
    "hive_server_runs",
    _meta,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("thread_id", sa.String, nullable=False, index=True),
    sa.Column("assistant_id", sa.String, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("multitask_strategy", sa.String, nullable=False),
    sa.Column("stream_modes", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


# The hot path's statements, built once: building a statement per call (and its
# cache key) cost more client CPU than running it (``docs/http-api.md``, Benchmark).
_THREAD = sa.select(threads).where(threads.c.thread_id == sa.bindparam("thread_id"))
_ADD_THREAD = sa.text(
    "INSERT INTO hive_server_threads "
    "(thread_id, graph, metadata, created_at, updated_at) "
    "VALUES (:thread_id, :graph, :metadata, :created_at, :updated_at) "
    "ON CONFLICT (thread_id) DO NOTHING"
)
_TOUCH_THREAD = sa.text(
    "UPDATE hive_server_threads SET graph = COALESCE(graph, :graph), "
    "updated_at = :now WHERE thread_id = :thread_id"
)
"""A run was created on the thread: it runs ``graph`` from now on if it had none."""
_ADD_RUN = runs.insert()
_RUN = sa.select(runs).where(runs.c.run_id == sa.bindparam("run_id"))


@attrs.frozen(kw_only=True)
class ThreadRecord:
    thread_id: str
    graph: str | None
    metadata: dict[str, Any]
    created_at: float
    updated_at: float


@attrs.frozen(kw_only=True)
class RunRecord:
    run_id: str
    thread_id: str
    assistant_id: str
    metadata: dict[str, Any]
    multitask_strategy: str
    stream_modes: tuple[str, ...]
    created_at: float


def _thread(row: Any) -> ThreadRecord:
    m = row._mapping
    return ThreadRecord(
        thread_id=m["thread_id"],
        graph=m["graph"],
        metadata=json.loads(m["metadata"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _run(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(
        run_id=m["run_id"],
        thread_id=m["thread_id"],
        assistant_id=m["assistant_id"],
        metadata=json.loads(m["metadata"]),
        multitask_strategy=m["multitask_strategy"],
        stream_modes=tuple(json.loads(m["stream_modes"])),
        created_at=m["created_at"],
    )


class ServerDB:
    """The server's two tables, on the service database's engine."""

    def __init__(self, service_db: ServiceDB) -> None:
        self.engine = service_db.engine
        self._service_db = service_db
        self.aread = service_db.aread
        """``ServiceDB.aread``: where an async caller runs a read of these tables."""
        _meta.create_all(self.engine, checkfirst=True)

    # ---------------------------------------------------------------- threads

    def add_thread(
        self, thread_id: str, graph: str | None, metadata: Mapping[str, Any]
    ) -> ThreadRecord | None:
        """Insert a thread; ``None`` if the id is taken."""
        now = time.time()
        row = {
            "thread_id": thread_id,
            "graph": graph,
            "metadata": json.dumps(dict(metadata), sort_keys=True),
            "created_at": now,
            "updated_at": now,
        }
        with self._service_db.write() as conn:
            if not conn.execute(_ADD_THREAD, row).rowcount:
                return None
        return ThreadRecord(
            thread_id=thread_id,
            graph=graph,
            metadata=dict(metadata),
            created_at=now,
            updated_at=now,
        )

    def thread(self, thread_id: str) -> ThreadRecord | None:
        with self._service_db.auto.connect() as conn:
            row = conn.execute(_THREAD, {"thread_id": thread_id}).first()
        return _thread(row) if row is not None else None

    def threads(self) -> list[ThreadRecord]:
        """Newest first (ties by id, for a stable order)."""
        query = sa.select(threads).order_by(
            threads.c.created_at.desc(), threads.c.thread_id
        )
        with self.engine.connect() as conn:
            return [_thread(r) for r in conn.execute(query)]

    def update_thread(self, thread_id: str, **values: Any) -> None:
        if "metadata" in values:
            values["metadata"] = json.dumps(values["metadata"], sort_keys=True)
        with self._service_db.write_tx() as conn:
            conn.execute(
                threads.update()
                .where(threads.c.thread_id == thread_id)
                .values(**values, updated_at=time.time())
            )

    def delete_thread(self, thread_id: str) -> None:
        with self._service_db.write_tx() as conn:
            conn.execute(threads.delete().where(threads.c.thread_id == thread_id))
            conn.execute(runs.delete().where(runs.c.thread_id == thread_id))

    # ------------------------------------------------------------------- runs

    def add_run(self, record: RunRecord, *, graph: str | None = None) -> None:
        """Record the run and touch its thread, which from now on runs ``graph``
        if it had no graph yet (one transaction)."""
        values = attrs.asdict(record, recurse=False)  # metadata is encoded below
        values["metadata"] = json.dumps(record.metadata, sort_keys=True)
        values["stream_modes"] = json.dumps(list(record.stream_modes))
        touch = {"thread_id": record.thread_id, "graph": graph, "now": time.time()}
        with self._service_db.write_tx() as conn:
            conn.execute(_TOUCH_THREAD, touch)
            conn.execute(_ADD_RUN, values)

    def run(self, run_id: str) -> RunRecord | None:
        with self._service_db.auto.connect() as conn:
            row = conn.execute(_RUN, {"run_id": run_id}).first()
        return _run(row) if row is not None else None
