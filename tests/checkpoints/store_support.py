"""Helpers and fixtures for the checkpoint store suites (``conftest.py`` registers
the fixtures; test modules import the helpers from here).

``backend`` is parametrised over every store implementation. Tests get a
``Backend`` whose ``store`` is a ``SyncStore``: the protocol's coroutines driven by
``send(None)``, which also proves each store is ``inline`` (a suspension fails);
the Postgres store runs twice over a fresh schema (see ``postgres_support``):
natively async (``postgres``: its ``LoopStore`` runs each call on one event loop kept
for the test) and inline (``postgres-inline``: no loop, its sync pool).
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from hive_core.ids import checkpoint_id
from hive_core.persistence import (
    Checkpoint,
    CheckpointStore,
    CheckpointSummary,
    InMemoryCheckpointStore,
    SQLiteCheckpointStore,
)

if TYPE_CHECKING:  # psycopg loads only when the postgres backend runs
    from hive_core.persistence import PostgresCheckpointStore

T = TypeVar("T")

SCHEMA_VERSION = hashlib.sha256(b"schema").hexdigest()
GRAPH_VERSION = hashlib.sha256(b"graph").hexdigest()


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must never suspend (an ``inline`` store's)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("an inline store's coroutine suspended")


class SyncStore:
    """The ``CheckpointStore`` protocol, called synchronously."""

    def __init__(self, inner: CheckpointStore) -> None:
        self.inner = inner

    def save(self, cp: Checkpoint, **fence: Any) -> None:
        drive(self.inner.save(cp, **fence))

    def load_latest(self, thread_id: str) -> Checkpoint | None:
        return drive(self.inner.load_latest(thread_id))

    def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        return drive(self.inner.list_checkpoints(thread_id, limit))

    def load_checkpoint(self, thread_id: str, cid: str) -> Checkpoint | None:
        return drive(self.inner.load_checkpoint(thread_id, cid))

    def thread_exists(self, thread_id: str) -> bool:
        return drive(self.inner.thread_exists(thread_id))

    def delete_thread(self, thread_id: str) -> bool:
        return drive(self.inner.delete_thread(thread_id))  # type: ignore[attr-defined, no-any-return]


class LoopStore(SyncStore):
    """``SyncStore`` for an async-native store: each call runs on ``runner``."""

    def __init__(self, inner: CheckpointStore, runner: Any) -> None:
        super().__init__(inner)
        self.runner = runner

    def save(self, cp: Checkpoint, **fence: Any) -> None:
        self.runner.run(self.inner.save(cp, **fence))

    def load_latest(self, thread_id: str) -> Checkpoint | None:
        return self.runner.run(self.inner.load_latest(thread_id))  # type: ignore[no-any-return]

    def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        return self.runner.run(self.inner.list_checkpoints(thread_id, limit))  # type: ignore[no-any-return]

    def load_checkpoint(self, thread_id: str, cid: str) -> Checkpoint | None:
        return self.runner.run(self.inner.load_checkpoint(thread_id, cid))  # type: ignore[no-any-return]

    def thread_exists(self, thread_id: str) -> bool:
        return self.runner.run(self.inner.thread_exists(thread_id))  # type: ignore[no-any-return]

    def delete_thread(self, thread_id: str) -> bool:
        return self.runner.run(self.inner.delete_thread(thread_id))  # type: ignore[attr-defined, no-any-return]


class Backend:
    """One store kind: ``open()`` returns a store over the same data."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.path = tmp_path / "checkpoints.db"
        self._opened: list[SQLiteCheckpointStore | PostgresCheckpointStore] = []
        self._shared: CheckpointStore | None = None
        self._postgres: Any = None  # (schema, runner) of the "postgres" backend
        self.store = self.open()

    @property
    def persistent(self) -> bool:
        """Whether ``open()`` gives a new connection (not the same object)."""
        return self.name in (
            "sqlite-file",
            "sqlite-rowid",
            "postgres",
            "postgres-inline",
        )

    def open(self) -> SyncStore:
        if self.name in ("postgres", "postgres-inline"):
            return self._open_postgres()
        if self.name in ("sqlite-file", "sqlite-rowid"):
            if self.name == "sqlite-rowid" and not self.path.exists():
                SQLiteCheckpointStore(self.path).close()
                as_rowid_shape(self.path)
            store = SQLiteCheckpointStore(self.path)
            self._opened.append(store)
            return SyncStore(store)
        if self._shared is None:
            if self.name == "memory":
                self._shared = InMemoryCheckpointStore()
            else:
                sqlite = SQLiteCheckpointStore(":memory:")
                self._opened.append(sqlite)
                self._shared = sqlite
        return SyncStore(self._shared)

    def reopen(self) -> SyncStore:
        """Close the file store and open it again (same object for the others)."""
        if self.persistent:
            for store in self._opened:
                store.close()
            self._opened.clear()
        self.store = self.open()
        return self.store

    def _open_postgres(self) -> SyncStore:
        from postgres_support import Runner, Schema, require_url

        from hive_core.persistence import PostgresCheckpointStore

        if self._postgres is None:
            self._postgres = (Schema(require_url()), Runner())
        schema, runner = self._postgres
        store = PostgresCheckpointStore(schema.url)
        self._opened.append(store)
        if self.name == "postgres-inline":
            return SyncStore(store)  # no loop: the sync pool, never suspending
        return LoopStore(store, runner)

    def close(self) -> None:
        for store in self._opened:
            store.close()
        self._opened.clear()
        if self._postgres is not None:
            schema, runner = self._postgres
            runner.close()
            schema.drop()
            self._postgres = None


BACKENDS = [
    "memory",
    "sqlite-file",
    "sqlite-rowid",
    "sqlite-memory",
    "postgres",
    "postgres-inline",
]
"""``sqlite-rowid``: a file whose checkpoints table has the rowid shape of files
created before the ``WITHOUT ROWID`` key (``as_rowid_shape``)."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path)
    yield b
    b.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "hive.db"


@pytest.fixture
def open_sqlite(
    sqlite_path: Path,
) -> Iterator[Callable[[], SQLiteCheckpointStore]]:
    """Open ``SQLiteCheckpointStore``s on one file; all are closed afterwards."""
    opened: list[SQLiteCheckpointStore] = []

    def open_() -> SQLiteCheckpointStore:
        store = SQLiteCheckpointStore(sqlite_path)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


ROWID_SHAPE = (
    """CREATE TABLE hive_checkpoints (
        thread INTEGER NOT NULL, checkpoint_id TEXT NOT NULL,
        step_index INTEGER NOT NULL, run_id TEXT NOT NULL,
        has_interruption INTEGER NOT NULL, body BLOB NOT NULL,
        body_crc INTEGER NOT NULL, UNIQUE (thread, checkpoint_id))""",
    "CREATE INDEX hive_checkpoints_latest ON hive_checkpoints (thread, step_index)",
)
"""The checkpoints table as files created before the ``WITHOUT ROWID`` key have it
(layouts 2 to 4; docs/concepts/checkpoint-storage.md, Layout)."""


def rebuild_as_rowid(conn: sqlite3.Connection) -> None:
    """Rebuild ``hive_checkpoints`` in the rowid shape, rows unchanged (inside
    the caller's transaction)."""
    conn.execute("ALTER TABLE hive_checkpoints RENAME TO keyed")
    for statement in ROWID_SHAPE:
        conn.execute(statement)
    conn.execute("INSERT INTO hive_checkpoints SELECT * FROM keyed ORDER BY step_index")
    conn.execute("DROP TABLE keyed")


def as_rowid_shape(path: Path) -> None:
    """``rebuild_as_rowid`` on the file at ``path``, in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        rebuild_as_rowid(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()


RUN = uuid.UUID(int=0x1234)


def make_checkpoint(
    step: int,
    global_data: dict[str, bytes] | None = None,
    *,
    thread_id: str = "thread-1",
    run: uuid.UUID = RUN,
    cid: str | None = None,
    **fields: Any,
) -> Checkpoint:
    """A checkpoint with realistic ids (HCP1) unless ``cid`` is given."""
    fields.setdefault("schema_version", SCHEMA_VERSION)
    fields.setdefault("graph_version", GRAPH_VERSION)
    return Checkpoint(
        id=cid if cid is not None else checkpoint_id(run, step),
        thread_id=thread_id,
        run_id=str(run),
        step_index=step,
        global_data=global_data if global_data is not None else {},
        **fields,
    )
