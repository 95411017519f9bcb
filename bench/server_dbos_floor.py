"""DBOS alone, queued as ``hive serve`` queues runs: how many runs/s DBOS leaves room for.

``python bench/server_dbos_floor.py --clients K --runs-each R``: one JSON line. No
HTTP and no Hive. ``K`` concurrent clients each enqueue a workflow of five bare
awaits (the five steps of the server benchmark's graph, with no work in them) and
wait for it to end, ``R`` times; every run is on a partition of its own (a thread
of its own, as the benchmark's client makes a new thread per run).

The system database is SQLite, set up as the embedded service sets up its own
(``hive_core.service._sysdb``), and the queue gets the service's limits and
polling interval (``ServiceConfig``: 4 runs at once, polled every 50 ms; one run
per partition), unless ``--worker-concurrency`` or ``--polling-interval-s`` say
otherwise. The row reports the settings read back from DBOS's registered queue.
It is a generous bound rather than a copy of the service: the service also
enqueues through ``DBOSClient`` after a row of its own, and keeps every earlier
run in its tables, while this database starts empty.

Measured: runs/s from the first enqueue to the last run's end, and this process's
CPU per run (DBOS's threads and the enqueuing clients together). A run "ends" when
its workflow body resolves the client's waiter, as the server's stream sees a run
end in the service's tables rather than by polling the workflow's DBOS handle
(which backs off up to a second between reads). ``bench/server.py`` runs it at
each level, the servers stopped (``docs/http-api.md``, "Benchmark").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = 5
QUEUE = "hive_bench_floor"

_DONE: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[str]]] = {}
"""Each run's waiter, resolved by its workflow on the client's loop."""


def _cpu_s() -> float:
    """This process's CPU seconds, every thread's (DBOS runs its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(
    queue: Any,  # dbos.Queue: DBOS is imported only once this script runs
    workflow: Callable[[str], Awaitable[str]],
    clients: int,
    runs_each: int,
) -> dict[str, Any]:
    """Time the clients' runs; then wait for DBOS to record every outcome, so that
    destroying it cancels nothing."""
    from dbos import SetEnqueueOptions

    results: list[str] = []
    handles: list[Any] = []
    loop = asyncio.get_running_loop()

    async def one(name: str) -> str:
        waiter: asyncio.Future[str] = loop.create_future()
        _DONE[name] = (loop, waiter)
        with SetEnqueueOptions(queue_partition_key=name):
            handles.append(await queue.enqueue_async(workflow, name))
        return await waiter

    async def client(c: int) -> None:
        for i in range(runs_each):  # one run in flight per client, as a user waits
            results.append(await one(f"r{c}-{i}"))

    # warm-up: DBOS starts a queue's worker thread up to a second after the queue
    # is declared, and the server benchmark's levels start on a warm server too
    await one("warm-up")
    cpu0, t0 = _cpu_s(), time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    elapsed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    runs = clients * runs_each
    expected = sorted(f"r{c}-{i}" for c in range(clients) for i in range(runs_each))
    if sorted(results) != expected:
        raise RuntimeError(f"workflows returned {len(results)} wrong results")
    outcomes = [await h.get_result() for h in handles]  # untimed
    if sorted(outcomes) != sorted([*expected, "warm-up"]):
        raise RuntimeError("DBOS recorded other outcomes than the runs returned")
    return {
        "clients": clients,
        "runs": runs,
        "seconds": round(elapsed, 3),
        "runs_per_s": round(runs / elapsed, 1),
        "cpu_ms_per_run": round(1000 * cpu / runs, 2),
    }


def measure(
    clients: int,
    runs_each: int,
    data_dir: Path,
    *,
    worker_concurrency: int | None = None,
    polling_interval_s: float | None = None,
) -> dict[str, Any]:
    """Launch DBOS in ``data_dir``, run the clients' runs, destroy DBOS; the row.
    ``None`` settings are the service's defaults."""
    sys.path.insert(0, str(ROOT))
    from dbos import DBOS, DBOSConfig

    from hive_core.service import ServiceConfig
    from hive_core.service._sysdb import system_engine

    cfg = ServiceConfig()
    queue_wide, per_worker = cfg.queue_limits()
    url = f"sqlite:///{data_dir / 'dbos.sqlite'}"
    config: DBOSConfig = {
        "name": "hive-bench-floor",
        "system_database_url": url,
        "sys_db_pool_size": cfg.pool_size,
        "notification_listener_polling_interval_sec": 0.05,
        "log_level": "WARNING",
    }
    engine = system_engine(url, cfg.pool_size)
    if engine is not None:
        config["system_database_engine"] = engine
    DBOS(config=config)

    @DBOS.workflow(name=QUEUE)
    async def five(x: str) -> str:
        """The benchmark graph's five steps, with no work in them."""
        for _ in range(STEPS):
            await asyncio.sleep(0)
        loop, done = _DONE.pop(x)
        loop.call_soon_threadsafe(done.set_result, x)
        return x

    DBOS.launch()
    try:
        queue = DBOS.register_queue(
            QUEUE,
            global_concurrency=queue_wide,
            worker_concurrency=worker_concurrency or per_worker,
            partition_concurrency=1,  # as the service: one attempt per thread
            polling_interval_sec=polling_interval_s or cfg.polling_interval_s,
        )
        declared = DBOS.retrieve_queue(QUEUE)  # what DBOS holds, not what was asked
        assert declared is not None
        # read while DBOS is up: a queue reads them from its database
        slots, poll = declared.worker_concurrency, declared.polling_interval_sec
        settings = {
            "worker_concurrency": slots,
            "partition_concurrency": declared.partition_concurrency,
            "polling_interval_s": poll,
        }
        row = asyncio.run(_measure(queue, five, clients, runs_each))
    finally:
        DBOS.destroy()
    defaults = (slots, poll) == (per_worker, cfg.polling_interval_s)
    name = f"server_dbos_floor_c{clients}"
    if not defaults:  # e.g. server_dbos_floor_c10_w4_p10ms
        name += f"_w{slots}_p{round(1000 * poll)}ms"
    return {"row": name, **row, **settings, "service_defaults": defaults}


def main(argv: list[str] | None = None) -> None:
    """The command line: one row on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs-each", type=int, default=10)
    parser.add_argument("--worker-concurrency", type=int, default=None,
                        help="runs at once (default: the service's)")  # fmt: skip
    parser.add_argument("--polling-interval-s", type=float, default=None,
                        help="the queue's polling interval (default: the service's)")  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as raw:
        row = measure(
            args.clients,
            args.runs_each,
            Path(raw),
            worker_concurrency=args.worker_concurrency,
            polling_interval_s=args.polling_interval_s,
        )
    print(json.dumps(row, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
