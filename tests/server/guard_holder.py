"""A process that holds one thread's lock (``hive_core.server._guard``) on
PostgreSQL: ``python guard_holder.py URL THREAD_ID shared|exclusive``. It prints
``held`` once it has the lock and releases it when its stdin gets a line (or
never, when the test kills it)."""

from __future__ import annotations

import asyncio
import sys

from hive_core.server._guard import ThreadGuard
from hive_core.service._db import ServiceDB


async def main(url: str, thread_id: str, mode: str) -> None:
    db = ServiceDB(url, pool_size=1)
    guard = ThreadGuard(db)
    await guard.open()
    hold = guard.shared if mode == "shared" else guard.exclusive
    try:
        async with hold(thread_id):
            print("held", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
    finally:
        await guard.aclose()
        db.dispose()
    print("released", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
