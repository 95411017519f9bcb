"""The run service on DBOS, measured (``--only service``; or run this file).

Needs a server: ``scripts/with-postgres python bench/service.py --quick``. Every
number printed is measured in this run:

* ``service_throughput_w1/_w2/_w4``: runs/s of a 5-step graph (one checkpoint per
  step) through the service with 1, 2 and 4 worker processes; and, on the same
  database with the same worker count, raw DBOS workflows doing the same work with
  no Hive. ``raw_dbos_runs_per_s`` (the floor, ``ratio`` = service / it) does the
  same work with the same durability and the same queueing: five ``@DBOS.step``
  calls (each step's result durable, as each Hive step is by its checkpoint), on
  a queue with the service's limits (global 4, one run per thread at a time
  through a partition per thread). ``raw_dbos_bare_runs_per_s`` (``ratio_bare``)
  is DBOS with neither: five plain awaits in one workflow on an unpartitioned
  queue, only the workflow's start and end durable.
* ``service_latency``: one worker, runs one at a time: submit → first event (read by
  a client process polling the events table) and submit → done, p50/p95.
* ``service_recovery``: ``kill -9`` of the worker holding a run → the run's next
  attempt starting on the other worker (lease-based take-over).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LEASE_S = 2.0
STEPS = 5


def _graph() -> Any:
    from hive_core import NodeInput, Schema, channel
    from hive_dsl import Effects, GoTo, Workflow, Write

    class Five(Schema):
        count = channel(int, initial=lambda: 0)

    wf = Workflow(Five)

    @wf.node(start=True)
    async def step(ctx: NodeInput) -> Effects:
        hold = os.environ.get("BENCH_HOLD")
        while hold and ctx.step == 2 and Path(hold).exists():
            Path(hold + ".reached").touch()
            await asyncio.sleep(0.005)
        count = ctx.store.get(Five.count) + 1
        if count < STEPS:
            return Effects(Write(Five.count, count), GoTo(step))
        return Effects(Write(Five.count, count))

    return wf.compile()


def _raw_worker() -> None:
    """Raw DBOS: the same five steps of work with no Hive, two ways."""
    from dbos import DBOS

    @DBOS.step(name="raw_step")
    async def raw_step(count: int) -> int:
        await asyncio.sleep(0)
        return count + 1

    @DBOS.workflow(name="raw_five_steps")
    async def raw_five_steps(n: int) -> int:
        count = 0
        for _ in range(STEPS):
            count = await raw_step(count)
        return count

    @DBOS.workflow(name="raw_five")
    async def raw_five(n: int) -> int:
        count = 0
        for _ in range(STEPS):
            await asyncio.sleep(0)
            count += 1
        return count

    DBOS(
        config={
            "name": "hive",
            "system_database_url": os.environ["BENCH_RAW_URL"],
            "executor_id": os.environ["HIVE_SERVICE_EXECUTOR_ID"],
            "application_version": "1",
            "sys_db_pool_size": 4,
            "log_level": "WARNING",
        }
    )
    DBOS.launch()
    for name, partitioned in (("raw", True), ("raw_bare", False)):
        DBOS.register_queue(
            name,
            global_concurrency=4,
            partition_concurrency=1 if partitioned else None,
            polling_interval_sec=0.02,
            on_conflict="always_update",
        )
    Path(os.environ["BENCH_READY"], os.environ["HIVE_SERVICE_EXECUTOR_ID"]).touch()
    signal.sigwait({signal.SIGTERM})
    os._exit(0)


def _hive_worker() -> None:
    from hive_core.service import Service

    service = Service()
    service.register("five", _graph())
    ready = Path(os.environ["BENCH_READY"], service.worker_id)
    sys.exit(service.serve(ready.touch))


def _database(base: str) -> tuple[str, str]:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"hive_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(base)
    return name, "postgresql://{user}@{host}:{port}/".format(**parts) + name


def _drop(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _spawn(mode: str, n: int, url: str, tmp: Path, **env: str) -> list[Any]:
    ready = tmp / f"ready-{uuid.uuid4().hex[:6]}"
    ready.mkdir()
    procs = []
    for i in range(n):
        full = {
            **os.environ,
            "HIVE_SERVICE_DATABASE_URL": url,
            "HIVE_SERVICE_EXECUTOR_ID": f"{mode}-{i}-{uuid.uuid4().hex[:4]}",
            "HIVE_SERVICE_LEASE_S": str(LEASE_S),
            "HIVE_SERVICE_HEARTBEAT_S": "0.2",
            "HIVE_SERVICE_POLLING_INTERVAL_S": "0.02",
            "HIVE_SERVICE_POOL_SIZE": "4",
            "BENCH_RAW_URL": url,
            "BENCH_READY": str(ready),
            **env,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, f"--{mode}-worker"],
                env=full,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    while len(list(ready.iterdir())) < n:
        time.sleep(0.01)
    return procs


def _stop(procs: list[Any]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _hive_runs(url: str, workers: int, runs: int) -> float:
    """Runs/s of the service: submit ``runs`` runs, wait for every result."""
    from hive_core.service import ServiceClient, ServiceConfig

    client = ServiceClient(ServiceConfig(database_url=url))

    async def go() -> float:
        warm = await client.submit("five", "warm", None)  # the queue's first poll
        await client.result(warm, timeout=60)
        t0 = time.perf_counter()
        ids = [
            await client.submit("five", f"t-{workers}-{i}", None) for i in range(runs)
        ]
        for r in ids:
            assert (await client.result(r, timeout=300)).status == "finished"
        return runs / (time.perf_counter() - t0)

    try:
        return asyncio.run(go())
    finally:
        client.close()


def _raw_runs(url: str, runs: int, *, durable: bool) -> float:
    """Runs/s of raw DBOS: the durable floor or the bare one (module docstring)."""
    from dbos import DBOSClient

    client = DBOSClient(system_database_url=url, application_name="hive")
    opts: Any = {
        "queue_name": "raw" if durable else "raw_bare",
        "workflow_name": "raw_five_steps" if durable else "raw_five",
        "app_version": "1",
    }

    def enqueue(i: int) -> Any:
        if durable:  # one run per thread, as the service partitions its queue
            partitioned: Any = dict(opts, queue_partition_key=f"t-{i}")
            return client.enqueue(partitioned, i)
        return client.enqueue(opts, i)

    try:
        enqueue(-1).get_result(polling_interval_sec=0.01)
        t0 = time.perf_counter()
        handles = [enqueue(i) for i in range(runs)]
        for h in handles:
            assert h.get_result(polling_interval_sec=0.01) == STEPS
        return runs / (time.perf_counter() - t0)
    finally:
        client.destroy()


def _throughput(url: str, tmp: Path, workers: int, runs: int) -> dict[str, Any]:
    procs = _spawn("hive", workers, url, tmp)
    try:
        hive = _hive_runs(url, workers, runs)
    finally:
        _stop(procs)
    procs = _spawn("raw", workers, url, tmp)
    try:
        raw = _raw_runs(url, runs, durable=True)
        bare = _raw_runs(url, runs, durable=False)
    finally:
        _stop(procs)
    return {
        "workload": f"service_throughput_w{workers}",
        "runs": runs,
        "runs_per_s": round(hive, 1),
        "raw_dbos_runs_per_s": round(raw, 1),
        "ratio": round(hive / raw, 3),
        "raw_dbos_bare_runs_per_s": round(bare, 1),
        "ratio_bare": round(hive / bare, 3),
    }


def _latency(url: str, tmp: Path, runs: int) -> dict[str, Any]:
    from hive_core.service import ServiceClient, ServiceConfig

    procs = _spawn("hive", 1, url, tmp)
    client = ServiceClient(ServiceConfig(database_url=url))
    first: list[float] = []
    done: list[float] = []

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        run_id = await client.submit("five", f"lat-{i}-{uuid.uuid4().hex[:4]}", None)
        async for _ev in client.events(run_id):
            if len(first) == len(done):
                first.append(time.perf_counter() - t0)
        await client.result(run_id, timeout=60)
        done.append(time.perf_counter() - t0)

    try:
        asyncio.run(one(-1))
        first.clear()
        done.clear()
        for i in range(runs):
            asyncio.run(one(i))
    finally:
        client.close()
        _stop(procs)

    def q(values: list[float], p: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(p) - 1] * 1000, 1)

    return {
        "workload": "service_latency",
        "runs": runs,
        "first_event_p50_ms": round(statistics.median(first) * 1000, 1),
        "first_event_p95_ms": q(first, 95),
        "done_p50_ms": round(statistics.median(done) * 1000, 1),
        "done_p95_ms": q(done, 95),
    }


def _recovery(url: str, tmp: Path) -> dict[str, Any]:
    from hive_core.service import ServiceClient, ServiceConfig

    hold = tmp / "hold"
    hold.touch()
    a = _spawn("hive", 1, url, tmp, BENCH_HOLD=str(hold))
    client = ServiceClient(ServiceConfig(database_url=url))
    b: list[Any] = []
    try:
        run_id = client.submit_sync("five", f"rec-{uuid.uuid4().hex[:4]}", None)
        while not Path(str(hold) + ".reached").exists():
            time.sleep(0.005)
        b = _spawn("hive", 1, url, tmp)
        a[0].kill()
        a[0].wait()
        killed = time.time()
        hold.unlink()
        while len(client.attempts_sync(run_id)) < 2:
            time.sleep(0.005)
        taken = client.attempts_sync(run_id)[1].started_at
        assert client.result_sync(run_id, timeout=60).output["count"] == STEPS
    finally:
        client.close()
        _stop(a + b)
    return {
        "workload": "service_recovery",
        "recovery_s": round(taken - killed, 3),
        "lease_s": LEASE_S,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """Every service row; empty (with a note on stderr) without a server or DBOS."""
    base = os.environ.get("HIVE_TEST_POSTGRES_URL")
    try:
        import dbos  # noqa: F401
    except ImportError:
        base = None
    if not base:
        print(
            "service: skipped: needs HIVE_TEST_POSTGRES_URL and dbos", file=sys.stderr
        )
        return []
    runs = 100 if quick else 400
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for workers in (1, 2, 4):
            name, url = _database(base)
            try:
                rows.append(_throughput(url, tmp, workers, runs))
            finally:
                _drop(base, name)
        name, url = _database(base)
        try:
            rows.append(_latency(url, tmp, 20 if quick else 100))
            rows.append(_recovery(url, tmp))
        finally:
            _drop(base, name)
    return rows


if __name__ == "__main__":
    if "--hive-worker" in sys.argv:
        _hive_worker()
    elif "--raw-worker" in sys.argv:
        _raw_worker()
    else:
        for row in run("--quick" in sys.argv):
            print(json.dumps(row), flush=True)
