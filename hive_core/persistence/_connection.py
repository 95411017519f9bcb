"""The one SQLite connection lifecycle every SQLite store uses.

Open (WAL journal, a ``synchronous`` level, a short busy timeout), serialise calls
with a lock so one store object may be shared by threads, run each call as one
transaction, close, and turn every ``sqlite3`` failure into a typed error:

* a lock held by another connection (``database is locked``) is waited for:
  SQLite's own busy handler waits ``attempt_timeout`` per attempt, then the whole
  transaction is retried with exponential backoff until ``timeout`` has passed on
  the policy's clock, and then :class:`StoreBusyError` (``retryable``) is raised.
  Retrying the whole transaction (not one statement) also covers the cases SQLite's
  handler does not wait on, such as a WAL read snapshot that went stale;
* anything else SQLite or the text decoder reports (not a database, a malformed
  page, a missing table or column, a violated constraint) means the file is not
  what the store wrote: :class:`StoreDamagedError`, naming the file;
* any call after ``close()`` raises :class:`StoreClosedError`.

See ``docs/concepts/checkpoint-storage.md`` ("Durability and concurrency").
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import attrs

from ._errors import (
    InvalidStoreOptionError,
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
)

__all__ = ["BusyPolicy", "SQLiteConnection", "SQLiteStoreBase", "busy_policy"]

T = TypeVar("T")

_BUSY_CODES: Final = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
_BUSY_TEXT: Final = ("is locked", "is busy")


class _Busy(Exception):
    """``arun``'s inline try met a lock: run the work in a thread instead."""


def _non_negative(name: str) -> Callable[[object, object, object], None]:
    def check(instance: object, attribute: object, value: object) -> None:
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InvalidStoreOptionError(
                name, expected="a finite number of seconds >= 0", got=value
            )

    return check


@attrs.frozen(kw_only=True)
class BusyPolicy:
    """How long a store call waits for a lock another connection holds.

    ``SQLiteCheckpointStore(path, timeout=2.0)`` is ``BusyPolicy(timeout=2.0)``; pass
    a policy to change the rest, or a fake ``clock``/``sleep`` in tests.
    """

    timeout: float = attrs.field(default=5.0, validator=_non_negative("timeout"))
    """Seconds one call may spend waiting in total before ``StoreBusyError``."""
    attempt_timeout: float = attrs.field(
        default=0.1, validator=_non_negative("attempt_timeout")
    )
    """SQLite's own busy wait per attempt (capped at ``timeout``)."""
    first_backoff: float = attrs.field(
        default=0.001, validator=_non_negative("first_backoff")
    )
    """Pause after the first failed attempt; it doubles after each one."""
    max_backoff: float = attrs.field(
        default=0.05, validator=_non_negative("max_backoff")
    )
    clock: Callable[[], float] = time.monotonic
    """Where the deadline is measured."""
    sleep: Callable[[float], None] = time.sleep
    """How the pause between attempts is spent."""


def busy_policy(timeout: float | BusyPolicy) -> BusyPolicy:
    """A store's ``timeout`` argument as a policy."""
    if isinstance(timeout, BusyPolicy):
        return timeout
    return BusyPolicy(timeout=timeout)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _BUSY_CODES:
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(
        text in str(exc) for text in _BUSY_TEXT
    )


class SQLiteConnection:
    """One store's connection, its lock and its closed flag.

    ``call(operation, fn)`` runs ``fn(conn)`` inside ``BEGIN`` (a read snapshot),
    ``BEGIN IMMEDIATE`` (the write lock) or no transaction, retrying it whole while
    the database is locked; ``fn`` must therefore only change the store's own
    memory after ``call`` returns.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        store: str,
        busy: BusyPolicy,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        page_size: int | None = None,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidStoreOptionError(
                "synchronous", expected="'NORMAL' or 'FULL'", got=synchronous
            )
        self.path = os.fspath(path)
        self.store = store
        self.busy = busy
        self.lock = threading.RLock()
        self.closed = False
        wait = min(busy.attempt_timeout, busy.timeout)
        self._attempt_ms = self._wait_ms = int(wait * 1000)
        self._no_wait = False
        """Set by ``arun`` (under ``lock``): ``call`` makes one attempt, no wait."""
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=wait, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._damaged("open", exc) from exc
        try:
            self.call(
                "open",
                lambda conn: _set_pragmas(conn, synchronous, page_size),
                begin=None,
            )
        except BaseException:
            self._conn.close()
            raise

    @property
    def raw(self) -> sqlite3.Connection:
        """The ``sqlite3`` connection itself; use it only under ``lock``."""
        return self._conn

    def close(self) -> bool:
        """Close the connection; ``True`` the first time, ``False`` afterwards."""
        with self.lock:
            if self.closed:
                return False
            self.closed = True
            self._conn.close()
            return True

    def check_open(self, operation: str) -> None:
        if self.closed:
            raise StoreClosedError(self.path, operation=operation, store=self.store)

    def call(
        self,
        operation: str,
        fn: Callable[[sqlite3.Connection], T],
        *,
        begin: Literal["BEGIN", "BEGIN IMMEDIATE"] | None = "BEGIN",
    ) -> T:
        """``fn(conn)`` in one transaction, retried while locked; errors typed."""
        busy = self.busy
        with self.lock:
            self.check_open(operation)
            if self._no_wait:
                return self._attempt_once(operation, fn, begin)
            started = busy.clock()
            backoff = busy.first_backoff
            attempts = 0
            self._set_wait(self._attempt_ms)
            while True:
                attempts += 1
                try:
                    return self._attempt(fn, begin)
                except sqlite3.Error as exc:
                    if not _is_busy(exc):
                        raise self._damaged(operation, exc) from exc
                    waited = busy.clock() - started
                    if waited >= busy.timeout:
                        raise StoreBusyError(
                            self.path,
                            operation=operation,
                            waited=waited,
                            attempts=attempts,
                        ) from exc
                    busy.sleep(min(backoff, busy.timeout - waited))
                    backoff = min(backoff * 2, busy.max_backoff)
                except UnicodeError as exc:  # TEXT that is not UTF-8
                    raise self._damaged(operation, exc) from exc

    async def acall(
        self,
        operation: str,
        fn: Callable[[sqlite3.Connection], T],
        *,
        begin: Literal["BEGIN", "BEGIN IMMEDIATE"] | None = "BEGIN",
    ) -> T:
        """``call`` for ``async def`` methods: a lock never stalls a running loop."""
        aio = sys.modules.get("asyncio")
        if aio is None or aio._get_running_loop() is None:
            return self.call(operation, fn, begin=begin)  # `arun`'s first case
        return await self.arun(lambda: self.call(operation, fn, begin=begin))

    async def arun(self, work: Callable[[], T]) -> T:
        """``work()`` (sync code making ``call``s) without stalling a running loop.

        Without a running event loop (``run_sync`` driving an inline store) it just
        runs. On a loop it runs once inline, its ``call``s making a single attempt
        without SQLite's busy wait; if another thread of this store or another
        connection holds a lock, the whole of ``work`` (waits, retries, deadline)
        runs again in a worker thread, so the loop's other threads keep stepping
        (``docs/persistence.md``). ``work`` must change the store's memory only
        after its ``call``s returned, as ``call`` requires of ``fn``.
        """
        aio = sys.modules.get("asyncio")
        if aio is None or aio._get_running_loop() is None:
            return work()
        if self.lock.acquire(blocking=False):
            try:
                self._no_wait = True
                try:
                    return work()
                except _Busy:
                    pass
                finally:
                    self._no_wait = False
            finally:
                self.lock.release()
        import asyncio  # already loaded: a loop is running

        return await asyncio.to_thread(work)

    def _attempt_once(
        self,
        operation: str,
        fn: Callable[[sqlite3.Connection], T],
        begin: str | None,
    ) -> T:
        """``arun``'s inline try: no busy wait; a lock raises ``_Busy``."""
        self._set_wait(0)
        try:
            return self._attempt(fn, begin)
        except sqlite3.Error as exc:
            if _is_busy(exc):
                raise _Busy from exc
            raise self._damaged(operation, exc) from exc
        except UnicodeError as exc:
            raise self._damaged(operation, exc) from exc

    def _set_wait(self, ms: int) -> None:
        """SQLite's own busy wait, changed only when it differs (under ``lock``)."""
        if self._wait_ms != ms:
            self._conn.execute(f"PRAGMA busy_timeout = {int(ms)}")
            self._wait_ms = ms

    def _attempt(self, fn: Callable[[sqlite3.Connection], T], begin: str | None) -> T:
        conn = self._conn
        if begin is None:
            return fn(conn)
        conn.execute(begin)
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                # Keep the original error; SQLite rolls back on its own anyway.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    def _damaged(self, operation: str, exc: BaseException) -> StoreDamagedError:
        reason = f"{type(exc).__name__}: {exc}"
        return StoreDamagedError(self.path, operation=operation, reason=reason)


FULL_WAL_PAGES: Final = 128
"""``wal_autocheckpoint`` at ``synchronous=FULL``: the WAL is copied back after 128
pages (1 MiB at 8 KiB) and then rewritten in place. While a WAL file grows, the
fsync of every commit also has to flush the file's new size, which measured about
1.4x a commit into a WAL of constant size; at ``NORMAL`` commits are not synced and
SQLite's 1,000 pages stay (``docs/persistence.md``, Durability)."""


def _set_pragmas(
    conn: sqlite3.Connection, synchronous: str, page_size: int | None
) -> None:
    if page_size is not None:
        # Only takes effect on a new, empty file (before WAL mode is set).
        conn.execute(f"PRAGMA page_size={int(page_size)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")  # one of two literals
    if synchronous == "FULL":
        conn.execute(f"PRAGMA wal_autocheckpoint={FULL_WAL_PAGES}")
    # Reading the schema makes a file that is not a database fail here, at open.
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


class SQLiteStoreBase:
    """What every SQLite store shares: its connection, ``path``, ``close`` and the
    context manager. Subclasses drop their caches in ``_on_close``."""

    _db: SQLiteConnection

    @property
    def path(self) -> str:
        """The database file this store was opened on (or ``":memory:"``)."""
        return self._db.path

    def close(self) -> None:
        """Close the connection. Idempotent; later calls raise ``StoreClosedError``."""
        with self._db.lock:
            if self._db.close():
                self._on_close()

    @property
    def _conn(self) -> sqlite3.Connection:
        """The raw connection, for tests that trace or inspect its statements."""
        return self._db.raw

    def _on_close(self) -> None:
        """Drop in-memory caches (called once, under the lock)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
