"""DBOS alone, queued the way ``hive serve`` queues runs: the floor under its runs/s.

``python bench/server_dbos_floor.py --clients K --runs-each R``: one JSON line. No
HTTP, no Hive: ``K`` concurrent clients each enqueue a workflow of five bare
awaits (the five steps of the server benchmark's graph, with no work in them) and
wait for its result, ``R`` times, every run on its own partition (a thread of its
own, as the benchmark's client makes a new thread per run), on a SQLite system
database set up as the
embedded service sets up its own (``hive_core.service._sysdb``), with the queue
limits and polling interval of the service's default configuration
(``ServiceConfig``: 4 runs at once, polled every 50 ms). Measured: runs/s from the
first enqueue to the last result, and this process's CPU per run (DBOS's own
threads and the enqueuing clients included). ``bench/server.py`` runs it at each
level after that level's takes, the servers paused, so that its rows can say how
many runs/s DBOS itself leaves room for on this machine (``docs/http-api.md``,
"Benchmark").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = 5


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_DONE: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[str]]] = {}
"""Each run's waiter: the workflow resolves it on the client's loop as it returns,
as the server's stream sees a run end from its own tables, not by polling the
workflow's DBOS handle (which backs off for up to a second between reads)."""


async def _measure(
    queue: Any, workflow: Any, clients: int, runs_each: int
) -> dict[str, Any]:
    from dbos import SetEnqueueOptions

    results: list[str] = []
    loop = asyncio.get_running_loop()

    async def one(name: str) -> str:
        waiter: asyncio.Future[str] = loop.create_future()
        _DONE[name] = (loop, waiter)
        with SetEnqueueOptions(queue_partition_key=name):
            await queue.enqueue_async(workflow, name)
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
    return {
        "clients": clients,
        "runs": runs,
        "seconds": round(elapsed, 3),
        "runs_per_s": round(runs / elapsed, 1),
        "cpu_ms_per_run": round(1000 * cpu / runs, 2),
    }


def measure(clients: int, runs_each: int, data_dir: Path) -> dict[str, Any]:
    """Launch DBOS in ``data_dir``, run the clients' runs, destroy DBOS; the row."""
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

    @DBOS.workflow(name="hive_bench_floor")
    async def five(x: str) -> str:
        for _ in range(STEPS):
            await asyncio.sleep(0)
        loop, done = _DONE.pop(x)
        loop.call_soon_threadsafe(done.set_result, x)
        return x

    DBOS.launch()
    try:
        queue = DBOS.register_queue(
            "hive_bench_floor",
            global_concurrency=queue_wide,
            worker_concurrency=per_worker,
            partition_concurrency=1,  # as the service: one attempt per thread
            polling_interval_sec=cfg.polling_interval_s,
        )
        row = asyncio.run(_measure(queue, five, clients, runs_each))
    finally:
        DBOS.destroy()
    return {
        "row": f"server_dbos_floor_c{clients}",
        **row,
        "worker_concurrency": per_worker,
        "polling_interval_s": cfg.polling_interval_s,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs-each", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as raw:
        row = measure(args.clients, args.runs_each, Path(raw))
    print(json.dumps(row, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
