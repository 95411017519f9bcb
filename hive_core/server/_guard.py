"""One thread's changes against its deletion: a lock per thread id.

``DELETE /threads/{id}`` checks that the thread has no queued or running run,
then deletes its checkpoints and its record. A run created for the same thread
in between (its record read, then its run row added) would slip past the check
and write checkpoints under a deleted id, which then no new thread may take.
So the requests that add to a thread (create a run, create the thread, copy it)
hold the thread's lock *shared* from their first read to their last write; a
delete, a state update, a resume and a ``multitask_strategy="reject"`` run (a
check that no run is in flight, then a write) hold it *exclusively*.

On PostgreSQL (several ``hive serve`` processes on one database) the lock is the
database's own: ``pg_advisory_xact_lock_shared`` / ``pg_advisory_xact_lock`` in a
transaction on a connection of a small asyncio pool kept for them (psycopg's, so
a wait ties up no thread), rolled back to release; the transaction turns off
the role's statement and idle timeouts, which would cancel the wait or end the
session under a held lock. Requests of one process for one thread id queue in
the process, so only one of them waits with a connection. A process that dies
releases its locks with its session. The key is a namespace and the CRC-32 of
the id: two ids that share it only wait for each other. Embedded SQLite has one
front process (``docs/service.md``), so a lock in this process is enough there;
both modes take it exclusively.

A wait longer than ``timeout_s`` (pool and lock together) is a
``ThreadBusyError`` (409). See ``docs/http-api.md``, "Deleting a thread while it
changes".
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

from ..errors import ThreadBusyError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from ..service._db import ServiceDB

__all__ = ["ThreadGuard", "advisory_key"]

NAMESPACE: Final = 0x48495645
"""The first key of Hive's advisory locks ("HIVE"): two-key locks do not share a
key space with the one-key locks other tools (DBOS's migrations) take."""
TIMEOUT_S: Final = 30.0
CONNECTIONS: Final = 8
"""The PostgreSQL pool's size per process: one connection per request holding a
lock (a few milliseconds each); more requests wait for one, on the loop."""


def advisory_key(thread_id: str) -> tuple[int, int]:
    """The two int4 keys of ``thread_id``'s advisory lock."""
    crc = zlib.crc32(thread_id.encode("utf-8", "surrogatepass"))
    return NAMESPACE, crc - (1 << 32) if crc >= 1 << 31 else crc


class ThreadGuard:
    """``async with guard.shared(tid)`` around an addition to thread ``tid``,
    ``async with guard.exclusive(tid)`` around a check-then-write of it.
    ``open`` before the first, ``aclose`` after the last (on the same loop)."""

    def __init__(
        self,
        db: ServiceDB,
        *,
        timeout_s: float = TIMEOUT_S,
        connections: int = CONNECTIONS,
    ) -> None:
        self.timeout_s = timeout_s
        self._local: dict[str, tuple[asyncio.Lock, int]] = {}
        self._conninfo: str | None = None
        self._connections = connections
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]] | None = (
            None
        )
        if db.postgres:
            url = db.engine.url.set(drivername="postgresql")
            self._conninfo = url.render_as_string(hide_password=False)

    async def open(self) -> None:
        """Open the PostgreSQL pool (nothing to do on SQLite)."""
        if self._conninfo is None or self._pool is not None:
            return
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]]
        # `check`: a connection the database dropped (a restart) is replaced at
        # checkout, not handed to a request as a 500.
        pool = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=self._connections, open=False,
            name="hive-thread-guard", check=AsyncConnectionPool.check_connection,
        )  # fmt: skip
        await pool.open(wait=True, timeout=self.timeout_s)
        self._pool = pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def waiters(self, thread_id: str) -> int:
        """Requests of this process holding or waiting for ``thread_id``'s lock
        on embedded SQLite; on PostgreSQL, those still acquiring it (``pg_locks``
        tells the rest)."""
        found = self._local.get(thread_id)
        return 0 if found is None else found[1]

    def shared(self, thread_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held by requests that add to the thread; they do not exclude each
        other on PostgreSQL."""
        return self._hold(thread_id, shared=True)

    def exclusive(self, thread_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held by a request that checks that no run is in flight, then writes (a
        delete, a state update, a resume, a ``reject`` run): no other holder
        meanwhile."""
        return self._hold(thread_id, shared=False)

    def _busy(self, thread_id: str) -> ThreadBusyError:
        why = (
            f"another request held its lock for over {self.timeout_s:g} s "
            "(a delete, or changes to it)"
        )
        return ThreadBusyError(thread_id, [], why=why)

    @contextlib.asynccontextmanager
    async def _hold(self, thread_id: str, *, shared: bool) -> AsyncIterator[None]:
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        if self._conninfo is None:
            async with self._local_lock(thread_id, deadline):
                yield
            return
        pool = self._pool
        if pool is None:
            raise RuntimeError("ThreadGuard.open() was not awaited")
        # One waiter per thread id and process at the database: the others wait
        # here on the loop, holding no connection that another thread could use.
        async with self._local_lock(thread_id, deadline):
            conn = await self._acquire(pool, thread_id, shared, deadline)
        try:
            yield
        finally:
            await asyncio.shield(_release(pool, conn))

    @contextlib.asynccontextmanager
    async def _local_lock(self, thread_id: str, deadline: float) -> AsyncIterator[None]:
        lock, users = self._local.get(thread_id) or (asyncio.Lock(), 0)
        self._local[thread_id] = (lock, users + 1)
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except BaseException as exc:  # not acquired (timed out, cancelled)
            self._forget(thread_id)
            if isinstance(exc, TimeoutError):
                raise self._busy(thread_id) from None
            raise
        try:
            yield
        finally:
            lock.release()
            self._forget(thread_id)

    def _forget(self, thread_id: str) -> None:
        lock, users = self._local[thread_id]
        if users == 1:
            del self._local[thread_id]
        else:
            self._local[thread_id] = (lock, users - 1)

    async def _acquire(
        self,
        pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]],
        thread_id: str,
        shared: bool,
        deadline: float,
    ) -> AsyncConnection[tuple[object, ...]]:
        """A pooled connection in a transaction that holds the lock."""
        from psycopg.errors import LockNotAvailable
        from psycopg_pool import PoolTimeout

        loop = asyncio.get_running_loop()
        try:
            conn = await pool.getconn(timeout=max(0.001, deadline - loop.time()))
        except PoolTimeout:
            if not _all_checked_out(pool):
                raise  # connections were to be had: the database is out of reach
            raise self._busy(thread_id) from None
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        left_ms = max(1, int((deadline - loop.time()) * 1000))
        try:
            if conn.autocommit:  # the lock lives as long as a transaction
                await conn.set_autocommit(False)
            # The wait is bounded by lock_timeout alone; a statement or idle
            # timeout set on the role or database would otherwise cancel the
            # wait (a 500) or end the session while the lock is held.
            await conn.execute(
                "SELECT set_config('lock_timeout', %s, true), "
                "set_config('statement_timeout', '0', true), "
                "set_config('idle_in_transaction_session_timeout', '0', true)",
                (str(left_ms),),
            )
            await conn.execute(f"SELECT {fn}(%s, %s)", advisory_key(thread_id))
        except LockNotAvailable:
            await asyncio.shield(_release(pool, conn))
            raise self._busy(thread_id) from None
        except BaseException:
            # Cancelled mid-wait, psycopg has cancelled the query on the server.
            await asyncio.shield(_release(pool, conn))
            raise
        return conn


def _all_checked_out(
    pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]],
) -> bool:
    stats = pool.get_stats()
    return stats["pool_available"] == 0 and stats["pool_size"] >= stats["pool_max"]


async def _release(
    pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]],
    conn: AsyncConnection[tuple[object, ...]],
) -> None:
    """Roll the lock's transaction back; the pool discards a broken connection."""
    with contextlib.suppress(Exception):
        await conn.rollback()
    await pool.putconn(conn)
