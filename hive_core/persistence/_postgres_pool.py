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
becomes a typed :class:`~hive_core.errors.HiveError`: connection trouble is
:class:`~hive_core.errors.StoreUnavailableError` (retryable, naming
``host:port/database`` without the password), everything else the store's own base
error. See ``docs/persistence.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import HiveError, StoreUnavailableError

__all__ = ["PoolOwner", "describe_target"]

T = TypeVar("T")


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
        failure: Callable[[str], HiveError],
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        if (conninfo is None) == (pool is None):
            raise TypeError(f"{store} needs exactly one of a URL or a pool")
        self.store = store
        self._failure = failure
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
            # Server settings for every connection of pools this store opens.
            self._kwargs["options"] = " ".join(
                f"-c {name}={value}" for name, value in sorted(settings.items())
            )
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._agen: AsyncIterator[None] | None = None
        self._closed = False

    def unavailable(self, operation: str, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(
            self.store, target=self.target, operation=operation, reason=_reason(exc)
        )

    def failure(self, operation: str, exc: psycopg.Error) -> HiveError:
        state = f" [{exc.sqlstate}]" if exc.sqlstate else ""
        return self._failure(
            f"{self.store} on {self.target} failed during `{operation}`{state}: "
            f"{_reason(exc)}"
        )

    async def pool(self, operation: str) -> AsyncConnectionPool[Any]:
        if self._closed:
            raise self._failure(f"{self.store} is closed; cannot {operation}")
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

    async def run(
        self, operation: str, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """``fn`` on a pooled autocommit connection, retried once if it breaks."""
        for attempt in (0, 1):
            pool = await self.pool(operation)
            conn: AsyncConnection[Any] | None = None
            try:
                async with pool.connection() as conn:
                    return await fn(conn)
            except PoolTimeout as exc:
                raise self.unavailable(operation, exc) from None
            except psycopg.OperationalError as exc:
                if conn is None or not (conn.broken or conn.closed):
                    raise self.failure(operation, exc) from None
                if attempt:
                    raise self.unavailable(operation, exc) from None
                await pool.check()  # a restarted server leaves every one dead
            except psycopg.Error as exc:
                raise self.failure(operation, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the pool this store opened (a pool handed in stays open)."""
        self._closed = True
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
            self._pool = self._loop = self._agen = None
            return
        if loop.is_running():
            raise RuntimeError(
                f"{self.store}.close() called while its event loop runs; "
                "use `await store.aclose()`"
            )
        loop.run_until_complete(self.aclose())
