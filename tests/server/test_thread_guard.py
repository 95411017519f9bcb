"""The thread lock that keeps a delete and a thread's changes apart
(``hive_core/server/_guard.py``): in this process (embedded SQLite) and on a real
PostgreSQL against real holder processes (``guard_holder.py``), released by a
line on their stdin or by ``kill -9``. Waits are observed (the guard's count, or
``pg_locks``), never slept through."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pytest
from _gates import holds_soon
from postgres_support import require_url

from hive_core.errors import ThreadBusyError
from hive_core.server._guard import ThreadGuard, advisory_key
from hive_core.service._db import ServiceDB

from .guard_support import advisory_locks, fresh_database, lock_sessions

HERE = Path(__file__).parent
WAIT = 60.0


async def _auntil(condition: Callable[[], bool], what: str) -> None:
    await asyncio.to_thread(holds_soon, condition, what)


# ------------------------------------------------------------ in this process


@pytest.fixture
def local(tmp_path: Path) -> Iterator[ServiceDB]:
    db = ServiceDB(f"sqlite:///{tmp_path / 'service.db'}")
    yield db
    db.dispose()


def test_advisory_keys_are_two_int4s_in_hive_namespace() -> None:
    keys = {advisory_key(t) for t in ("a", "b", "thread-1", "é", "\udc80", "")}
    assert len(keys) == 6
    for first, second in keys:
        assert first == 0x48495645
        assert -(2**31) <= second < 2**31
    assert advisory_key("a") == advisory_key("a")


def test_a_delete_waits_for_a_change_in_flight_and_entries_go(local: ServiceDB) -> None:
    async def main() -> None:
        guard = ThreadGuard(local)
        order: list[str] = []
        changing = asyncio.Event()
        go = asyncio.Event()

        async def change() -> None:
            async with guard.shared("t"):
                changing.set()
                await go.wait()
                order.append("change")

        async def delete() -> None:
            async with guard.exclusive("t"):
                order.append("delete")

        first = asyncio.create_task(change())
        await changing.wait()
        second = asyncio.create_task(delete())
        await _auntil(lambda: guard.waiters("t") == 2, "the delete to wait")
        assert not second.done()
        async with guard.shared("other"):  # another thread's lock is free
            assert guard.waiters("other") == 1
        go.set()
        await asyncio.gather(first, second)
        assert order == ["change", "delete"]
        assert guard.waiters("t") == 0 and guard.waiters("other") == 0
        assert guard._local == {}

    asyncio.run(main())


def test_a_wait_past_the_timeout_is_a_typed_409_and_leaves_nothing(
    local: ServiceDB,
) -> None:
    async def main() -> None:
        guard = ThreadGuard(local, timeout_s=0.05)
        async with guard.exclusive("t"):
            with pytest.raises(ThreadBusyError) as caught:
                async with guard.shared("t"):
                    raise AssertionError("entered a held lock")
            assert guard.waiters("t") == 1
        err = caught.value
        assert err.thread_id == "t" and err.run_ids == () and err.why is not None
        assert "busy: another request held its lock" in str(err)
        assert guard._local == {}

    asyncio.run(main())


def test_a_cancelled_wait_leaves_the_lock_usable(local: ServiceDB) -> None:
    async def main() -> None:
        guard = ThreadGuard(local)
        async with guard.exclusive("t"):
            waiting = asyncio.create_task(guard.shared("t").__aenter__())
            await _auntil(lambda: guard.waiters("t") == 2, "the second to wait")
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert guard.waiters("t") == 1
        async with guard.exclusive("t"):
            assert guard.waiters("t") == 1
        assert guard._local == {}

    asyncio.run(main())


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def pg_db() -> Iterator[ServiceDB]:
    db = ServiceDB(require_url(), pool_size=1)
    yield db
    db.dispose()


@contextlib.asynccontextmanager
async def opened(db: ServiceDB, **options: float) -> AsyncIterator[ThreadGuard]:
    guard = ThreadGuard(db, **options)  # type: ignore[arg-type]
    await guard.open()
    try:
        yield guard
    finally:
        await guard.aclose()


class Holder:
    """``guard_holder.py``: holds a thread's lock until told (or killed)."""

    def __init__(self, url: str, thread_id: str, mode: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "guard_holder.py"), url, thread_id, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        assert self._line() == "held"

    def _line(self) -> str:
        """The holder's next line, or a failure if it has none within ``WAIT``."""
        assert self.proc.stdout is not None
        with ThreadPoolExecutor(1) as pool:
            line = pool.submit(self.proc.stdout.readline)
            try:
                return line.result(WAIT).strip()
            except FutureTimeout:
                self.proc.kill()
                raise AssertionError("the holder process did not answer") from None

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self._line() == "released"
        assert self.proc.wait(WAIT) == 0
        self._close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(WAIT) == -signal.SIGKILL
        self._close()

    def _close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def test_postgres_a_change_waits_for_a_delete_in_another_process(
    pg_db: ServiceDB,
) -> None:
    url, tid = pg_db.url, f"guard-{uuid.uuid4().hex}"
    holder = Holder(url, tid, "exclusive")

    async def main() -> None:
        entered = asyncio.Event()
        async with opened(pg_db) as guard:

            async def change() -> None:
                async with guard.shared(tid):
                    entered.set()
                    assert advisory_locks(url, tid) == [("ShareLock", True)]

            task = asyncio.create_task(change())
            want = [("ExclusiveLock", True), ("ShareLock", False)]
            await _auntil(
                lambda: advisory_locks(url, tid) == want, "the change to wait"
            )
            assert not entered.is_set()
            await asyncio.to_thread(holder.release)
            await task
            assert entered.is_set()

    asyncio.run(main())
    assert advisory_locks(url, tid) == []


def test_postgres_changes_share_and_a_delete_waits_for_them(pg_db: ServiceDB) -> None:
    url, tid = pg_db.url, f"guard-{uuid.uuid4().hex}"
    holder = Holder(url, tid, "shared")

    async def main() -> None:
        async with opened(pg_db) as guard:
            async with guard.shared(tid):  # no wait beside another process's
                assert advisory_locks(url, tid) == [
                    ("ShareLock", True),
                    ("ShareLock", True),
                ]
            held = guard.exclusive(tid)
            deleting = asyncio.create_task(held.__aenter__())
            want = [("ExclusiveLock", False), ("ShareLock", True)]
            await _auntil(
                lambda: advisory_locks(url, tid) == want, "the delete to wait"
            )
            await asyncio.to_thread(holder.kill)  # kill -9: its session ends
            await deleting
            assert advisory_locks(url, tid) == [("ExclusiveLock", True)]
            await held.__aexit__(None, None, None)
            assert advisory_locks(url, tid) == []

    asyncio.run(main())


def test_postgres_timeout_and_cancelled_waits_leave_no_lock(pg_db: ServiceDB) -> None:
    url, tid = pg_db.url, f"guard-{uuid.uuid4().hex}"
    holder = Holder(url, tid, "exclusive")
    try:

        async def main() -> None:
            async with opened(pg_db, timeout_s=0.2) as guard:
                with pytest.raises(ThreadBusyError) as caught:
                    async with guard.shared(tid):
                        raise AssertionError("entered a held lock")
                assert caught.value.why is not None
                assert advisory_locks(url, tid) == [("ExclusiveLock", True)]
                guard.timeout_s = WAIT
                waiting = asyncio.create_task(guard.exclusive(tid).__aenter__())
                want = [("ExclusiveLock", False), ("ExclusiveLock", True)]
                await _auntil(
                    lambda: advisory_locks(url, tid) == want, "the second to wait"
                )
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                # psycopg cancelled the wait on the server: only the holder's lock
                assert advisory_locks(url, tid) == [("ExclusiveLock", True)]
                await asyncio.to_thread(holder.release)
                assert advisory_locks(url, tid) == []
                async with guard.exclusive(tid):  # the pool's connection works
                    assert advisory_locks(url, tid) == [("ExclusiveLock", True)]

        asyncio.run(main())
    finally:
        if holder.proc.poll() is None:
            holder.kill()
    assert advisory_locks(url, tid) == []


def _held_idle_for(url: str, thread_id: str) -> float | None:
    """Seconds the one session holding ``thread_id``'s lock has been idle in its
    transaction; ``None`` if no session holds it so."""
    rows = lock_sessions(url, thread_id)
    if [(g, state) for g, state, _, _ in rows] != [(True, "idle in transaction")]:
        return None
    return rows[0][2]


def test_postgres_role_timeouts_neither_cancel_a_wait_nor_drop_a_held_lock() -> None:
    """A database whose sessions time out statements and idle transactions after
    100 ms (as managed PostgreSQL often sets): the guard's wait outlives the
    first, its held lock the second."""
    timeouts = {
        "statement_timeout": "100ms",
        "idle_in_transaction_session_timeout": "100ms",
    }
    with fresh_database(timeouts) as url:
        db = ServiceDB(url, pool_size=1)
        tid = f"guard-{uuid.uuid4().hex}"
        holder = Holder(url, tid, "exclusive")
        try:

            async def main() -> None:
                async with opened(db) as guard:
                    held = guard.shared(tid)
                    entering = asyncio.create_task(held.__aenter__())
                    await _auntil(
                        lambda: (
                            entering.done()
                            or any(
                                not g and q > 0.3
                                for g, _, _, q in lock_sessions(url, tid)
                            )
                        ),
                        "a wait of over 300 ms",
                    )
                    assert not entering.done(), entering.result()
                    await asyncio.to_thread(holder.release)
                    await entering
                    idle = functools.partial(_held_idle_for, url, tid)
                    await _auntil(
                        lambda: idle() is None or (idle() or 0.0) > 0.3,
                        "the held lock to idle for over 300 ms",
                    )
                    assert (idle() or 0.0) > 0.3  # held all along
                    await held.__aexit__(None, None, None)
                    assert advisory_locks(url, tid) == []

            asyncio.run(main())
        finally:
            if holder.proc.poll() is None:
                holder.kill()
            db.dispose()


def test_postgres_waiters_for_one_thread_leave_the_pool_to_others(
    pg_db: ServiceDB,
) -> None:
    """Five requests wait for a thread another process holds, on a pool of three
    connections: one of them waits at the database, the others in this process,
    and a request for another thread gets a connection at once."""
    url, busy, other = (
        pg_db.url,
        f"guard-{uuid.uuid4().hex}",
        f"guard-{uuid.uuid4().hex}",
    )
    holder = Holder(url, busy, "exclusive")

    async def main() -> None:
        entered: list[int] = []
        async with opened(pg_db, connections=3, timeout_s=10.0) as guard:

            async def change(i: int) -> None:
                async with guard.shared(busy):
                    entered.append(i)

            tasks = [asyncio.create_task(change(i)) for i in range(5)]
            want = [("ExclusiveLock", True), ("ShareLock", False)]
            await _auntil(
                lambda: guard.waiters(busy) == 5 and advisory_locks(url, busy) == want,
                "one waiter at the database, four in the process",
            )
            async with guard.exclusive(other):
                assert advisory_locks(url, other) == [("ExclusiveLock", True)]
            assert entered == []
            await asyncio.to_thread(holder.release)
            await asyncio.gather(*tasks)
            assert sorted(entered) == [0, 1, 2, 3, 4]
            assert guard.waiters(busy) == 0

    asyncio.run(main())
    assert advisory_locks(url, busy) == [] and advisory_locks(url, other) == []
