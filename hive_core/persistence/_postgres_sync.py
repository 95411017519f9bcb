"""The PostgreSQL checkpoint store's inline path: sync connections behind async names.

``run_sync`` drives an *inline* store's coroutines without an event loop
(``hive_core/_bridge.py``): they must never await a real future. Off a loop the
checkpoint store therefore borrows a connection from a psycopg **sync**
``ConnectionPool`` and hands its code a :class:`SyncConn`, whose ``async`` methods
call the blocking psycopg API and return at once, so the very same store code runs
either natively async (on a loop, ``AsyncConnectionPool``) or inline (off a loop).
Why: one statement through psycopg's async connection cost 75-85 µs of client CPU
against 23 µs through a sync one, and a save is one statement
(``docs/persistence.md``, "The inline path").

Only the methods the checkpoint store uses are provided; the memory store stays
async-only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

__all__ = ["Conn", "CursorConnection", "Cursor", "SyncConn", "SyncCursor"]


class Cursor(Protocol):
    """What the checkpoint store reads from a cursor, sync-backed or async."""

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """What the checkpoint store asks of a connection: ``AsyncConnection`` and
    :class:`SyncConn` both are one (checked below)."""

    @property
    def broken(self) -> bool: ...

    @property
    def closed(self) -> bool: ...

    async def execute(self, query: Any, params: Any = None) -> Cursor: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...


class SyncCursor:
    """A sync ``psycopg.Cursor`` with the awaitable fetches of an async one."""

    __slots__ = ("_cur",)

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cur.fetchall()


class CursorConnection(psycopg.Connection[Any]):
    """The sync pool's connections: each keeps one cursor for the store's
    statements. ``Connection.execute`` makes a cursor per statement, about 8 µs
    of a save's client CPU; the store reads each statement's rows before it sends
    the next, and a pooled connection serves one caller at a time, so one cursor
    serves them all."""

    _statements: psycopg.Cursor[Any] | None = None

    def statements(self) -> psycopg.Cursor[Any]:
        cur = self._statements
        if cur is None or cur.closed:
            cur = self._statements = self.cursor()
        return cur


class SyncConn:
    """A sync ``psycopg.Connection`` with the awaitable API of an async one.

    Nothing here suspends: a coroutine using it completes on its first ``send``.
    """

    __slots__ = ("_conn", "_cur")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._cur = conn.statements() if isinstance(conn, CursorConnection) else None

    @property
    def broken(self) -> bool:
        return self._conn.broken

    @property
    def closed(self) -> bool:
        return self._conn.closed

    async def execute(self, query: Any, params: Any = None) -> SyncCursor:
        if self._cur is None:
            return SyncCursor(self._conn.execute(query, params))
        return SyncCursor(self._cur.execute(query, params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        with self._conn.transaction():
            yield


if TYPE_CHECKING:  # both connection kinds satisfy ``Conn``

    def _conforms(a: psycopg.AsyncConnection[Any], s: SyncConn) -> tuple[Conn, Conn]:
        return a, s
