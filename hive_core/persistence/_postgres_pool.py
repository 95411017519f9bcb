"""The connection plumbing both PostgreSQL stores share: pools, retries, typed errors.

Only :mod:`hive_core.persistence._postgres` and :mod:`hive_core.memory._postgres`
import this, and only when a Postgres store is used, so ``import hive_core`` never
loads psycopg.

**One pool per event loop.** An ``AsyncConnectionPool`` runs worker tasks on the loop
that opened it, and ``run_sync`` starts a fresh ``asyncio.Runner`` per call, so a
store built from a URL opens its pool lazily on the loop that first needs it, and a
new one when it finds itself on another loop. The pool of a loop is closed when that
loop shuts down (``asyncio.run`` and ``Runner.close`` finalise async generators, and
each pool is owned by one suspended generator) or by :meth:`PoolOwner.aclose`. A
pool handed in by the caller is used as it is, on the caller's loop.

**Failures.** A connection that breaks mid-call is retried once on a fresh
connection after the pool has dropped its dead ones (a server restart kills them
all); the callers' operations are idempotent, so a retry after a commit whose
acknowledgement was lost rewrites the same rows. Anything psycopg raises beyond that
becomes one of the store errors (:func:`PoolOwner.failure`, by SQLSTATE class), so
no psycopg exception reaches a user: connection trouble or a server shutting down
is :class:`~hive_core.errors.StoreUnavailableError` (retryable, naming
``host:port/database`` without the password), a lock or statement timeout, a
deadlock or a serialization failure ``StoreBusyError`` (retryable), a missing or
altered table ``StoreDamagedError`` naming it, anything else ``StoreFailedError``
with its SQLSTATE. See ``docs/persistence.md`` ("Store errors").
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from ..errors import HiveError, StoreUnavailableError
from ._errors import (
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
    StoreFailedError,
)
from ._postgres_sync import CursorConnection, SyncConn

__all__ = ["PoolOwner", "describe_target"]

T = TypeVar("T")

_BUSY = frozenset({"40001", "40P01", "55P03", "57014"})
"""Serialization failure, deadlock, lock timeout, statement timeout: retry later."""
_GONE = ("08", "53", "57P")
"""Connection exceptions, out of resources, the server shutting down."""
_DAMAGED = ("42", "3F", "XX")
"""A missing or altered table, column, type or schema; data the server calls corrupt."""


def describe_target(conninfo: str) -> str:
    """``host:port/database`` of a URL or DSN, never its password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "<unparsable connection string>"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = str(params.get("dbname") or params.get("user") or "")
    return f"{host}:{port}/{dbname}"


def _url_options(conninfo: object) -> str:
    """The ``options`` a URL or DSN carries (``""`` if none or unparsable)."""
    if not isinstance(conninfo, str):
        return ""
    try:
        return str(conninfo_to_dict(conninfo).get("options") or "")
    except psycopg.Error:
        return ""


def _reason(exc: BaseException) -> str:
    """The first line of a libpq message (the rest is hints and context)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


async def _lifetime(pool: AsyncConnectionPool[Any]) -> AsyncIterator[None]:
    """Suspended for the pool's life; its loop finalises it, closing the pool."""
    try:
        yield
    finally:
        await pool.close()


class PoolOwner:
    """Gives a store connections on whatever loop it runs on (see the module doc)."""

    def __init__(
        self,
        conninfo: str | None,
        pool: AsyncConnectionPool[Any] | None,
        *,
        store: str,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
        settings: dict[str, str] | None = None,
        inline: bool = False,
    ) -> None:
        if (conninfo is None) == (pool is None):
            raise TypeError(f"{store} needs exactly one of a URL or a pool")
        self.store = store
        self._given = pool
        self._conninfo = conninfo if conninfo is not None else pool.conninfo  # type: ignore[union-attr]
        self.target = (
            describe_target(self._conninfo)
            if isinstance(self._conninfo, str)
            else "<pool>"
        )
        self._sizes = (min_size, max_size)
        self._timeout = timeout
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if settings:
            # Server settings for every connection of pools this store opens,
            # after the URL's own ``options`` (a ``search_path``, say): the keyword
            # would replace them.
            self._kwargs["options"] = " ".join(
                [_url_options(self._conninfo)]
                + [f"-c {name}={value}" for name, value in sorted(settings.items())]
            ).strip()
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._agen: AsyncIterator[None] | None = None
        self._closed = False
        self.inline = inline and pool is None
        """Calls off a loop use :attr:`_sync` (see the module doc)."""
        self._sync: ConnectionPool[Any] | None = None
        self._sync_lock = threading.Lock()

    def unavailable(self, operation: str, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(
            self.store, target=self.target, operation=operation, reason=_reason(exc)
        )

    def failure(self, operation: str, exc: psycopg.Error, waited: float) -> HiveError:
        """The store error for ``exc`` (see the module doc), by SQLSTATE class."""
        state = exc.sqlstate or ""
        reason = _reason(exc)
        if state in _BUSY:
            return StoreBusyError(
                self.target,
                operation=operation,
                waited=waited,
                attempts=1,
                reason=f"{reason} [SQLSTATE {state}]",
            )
        if state.startswith(_GONE) or (
            not state
            and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        ):
            return self.unavailable(operation, exc)
        if state.startswith(_DAMAGED) and state != "42501":  # not: permission denied
            table = exc.diag.table_name
            if table and table not in reason:
                reason = f"{reason} (table {table})"
            return StoreDamagedError(
                self.target,
                operation=operation,
                kind="database",
                reason=f"{reason} [SQLSTATE {state}]",
            )
        return StoreFailedError(
            self.store,
            target=self.target,
            operation=operation,
            sqlstate=state,
            reason=reason,
        )

    def closed(self, operation: str) -> StoreClosedError:
        return StoreClosedError(self.target, operation=operation, store=self.store)

    async def pool(self, operation: str) -> AsyncConnectionPool[Any]:
        if self._closed:
            raise self.closed(operation)
        if self._given is not None:
            await self._given.open()
            return self._given
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        min_size, max_size = self._sizes
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            str(self._conninfo),
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=self._timeout,
            kwargs=self._kwargs,
            name=self.store,
        )
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except PoolTimeout:
            await pool.close()
            raise self.unavailable(operation, await self._why()) from None
        if self._pool is not None and self._loop is loop:  # another task won
            await pool.close()
            return self._pool
        agen = _lifetime(pool)
        await anext(agen)
        self._pool, self._loop, self._agen = pool, loop, agen
        return pool

    async def _why(self) -> BaseException:
        """Why connecting fails: one direct attempt gives libpq's own reason."""
        try:
            conn = await AsyncConnection.connect(
                str(self._conninfo), connect_timeout=max(1, int(self._timeout))
            )
        except psycopg.Error as exc:
            return exc
        await conn.close()
        return TimeoutError(f"no connection within {self._timeout} s")

    async def run(self, operation: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        """``fn`` on a pooled autocommit connection, retried once if it breaks.

        ``fn`` gets an ``AsyncConnection``, or off a loop (an ``inline`` owner) a
        ``SyncConn``; both are a ``_postgres_sync.Conn``."""
        if self.inline and asyncio._get_running_loop() is None:
            return await self._run_inline(operation, fn)
        started = time.monotonic()
        for attempt in (0, 1):
            pool = await self.pool(operation)
            conn: AsyncConnection[Any] | None = None
            try:
                async with pool.connection() as conn:
                    return await fn(conn)
            except PoolTimeout as exc:
                raise self.unavailable(operation, exc) from None
            except psycopg.Error as exc:
                self._retry_or_raise(operation, exc, conn, attempt, started)
                try:
                    await pool.check()  # a restarted server leaves every one dead
                except psycopg.Error as again:
                    raise self.unavailable(operation, again) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_inline(self, operation: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        """``run`` off a loop: a sync pool's connection; nothing suspends."""
        started = time.monotonic()
        for attempt in (0, 1):
            pool = self._sync_pool(operation)
            conn: psycopg.Connection[Any] | None = None
            try:
                with pool.connection() as conn:
                    return await fn(SyncConn(conn))
            except PoolTimeout as exc:
                raise self.unavailable(operation, exc) from None
            except psycopg.Error as exc:
                self._retry_or_raise(operation, exc, conn, attempt, started)
                try:
                    pool.check()
                except psycopg.Error as again:
                    raise self.unavailable(operation, again) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_or_raise(
        self,
        operation: str,
        exc: psycopg.Error,
        conn: psycopg.Connection[Any] | AsyncConnection[Any] | None,
        attempt: int,
        started: float,
    ) -> None:
        """Return if ``exc`` broke the connection on the first try; else raise."""
        broken = conn is not None and (conn.broken or conn.closed)
        if not broken or not isinstance(exc, psycopg.OperationalError):
            waited = time.monotonic() - started
            raise self.failure(operation, exc, waited) from None
        if attempt:
            raise self.unavailable(operation, exc) from None

    def _sync_pool(self, operation: str) -> ConnectionPool[Any]:
        if self._closed:
            raise self.closed(operation)
        with self._sync_lock:
            if self._sync is not None:
                return self._sync
            min_size, max_size = self._sizes
            pool: ConnectionPool[Any] = ConnectionPool(
                str(self._conninfo),
                min_size=min_size,
                max_size=max_size,
                open=False,
                timeout=self._timeout,
                kwargs=self._kwargs,
                name=self.store,
                connection_class=CursorConnection,
            )
            try:
                pool.open(wait=True, timeout=self._timeout)
            except PoolTimeout:
                pool.close()
                raise self.unavailable(operation, self._why_sync()) from None
            self._sync = pool
            return pool

    def _why_sync(self) -> BaseException:
        """``_why`` without a loop."""
        try:
            conn = psycopg.connect(
                str(self._conninfo), connect_timeout=max(1, int(self._timeout))
            )
        except psycopg.Error as exc:
            return exc
        conn.close()
        return TimeoutError(f"no connection within {self._timeout} s")

    def _close_sync(self) -> None:
        with self._sync_lock:
            pool, self._sync = self._sync, None
        if pool is not None:
            pool.close()

    async def aclose(self) -> None:
        """Close the pool this store opened (a pool handed in stays open)."""
        self._closed = True
        self._close_sync()
        pool, agen = self._pool, self._agen
        self._pool = self._loop = self._agen = None
        if agen is not None:
            await agen.aclose()  # type: ignore[attr-defined]
        elif pool is not None:
            await pool.close()

    def close(self) -> None:
        """Sync close: drive ``aclose`` when the pool's loop is not running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._closed = True
            self._close_sync()
            self._pool = self._loop = self._agen = None
            return
        if loop.is_running():
            raise RuntimeError(
                f"{self.store}.close() called while its event loop runs; "
                "use `await store.aclose()`"
            )
        loop.run_until_complete(self.aclose())
