"""Smoke test of the server benchmark's own measurements (``bench/server.py``).

The servers' rows need LangGraph's server, which CI does not install; what is
checked here is what those rows are computed from: the DBOS floor runs every
run it counts and reports it, a process group's CPU is read from ``/proc``, a
row pools its takes' CPU per run, and the split Hive server (``--no-worker`` and
one ``hive worker``) runs the client's workload in one process group that stops
whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hive_core.service import ServiceConfig

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench` is not installed; it lives in the checkout
    sys.path.insert(0, str(ROOT))

from bench import server as bench_server  # noqa: E402


def _floor(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "server_dbos_floor.py"), *args],
        check=True, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert "cancelled" not in out.stderr  # every outcome recorded before DBOS stops
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def test_the_dbos_floor_queues_as_the_service_does_unless_told() -> None:
    # the settings in the row are read back from DBOS's registered queue, so a
    # floor queued otherwise than the service's defaults says so
    row = _floor("--clients", "3", "--runs-each", "2")
    assert row["row"] == "server_dbos_floor_c3"
    assert (row["clients"], row["runs"]) == (3, 6)
    _, per_worker = ServiceConfig().queue_limits()
    assert row["worker_concurrency"] == per_worker
    assert row["partition_concurrency"] == 1  # one attempt per thread
    assert row["polling_interval_s"] == ServiceConfig().polling_interval_s
    assert row["service_defaults"] is True
    assert row["runs_per_s"] > 0 and row["cpu_ms_per_run"] > 0
    # runs/s is taken from the unrounded time, `seconds` is rounded to 1 ms
    assert row["runs_per_s"] == pytest.approx(6 / row["seconds"], rel=0.01, abs=0.1)

    other = _floor("--clients", "2", "--runs-each", "2",
                   "--worker-concurrency", "2", "--polling-interval-s", "0.02")  # fmt: skip
    assert other["row"] == "server_dbos_floor_c2_w2_p20ms"
    assert (other["worker_concurrency"], other["polling_interval_s"]) == (2, 0.02)
    assert other["service_defaults"] is False and other["runs"] == 4


def test_group_cpu_counts_every_process_of_the_group() -> None:
    # a parent and its child, each spinning 0.3 s of CPU and then waiting, alive,
    # in a session of their own
    spin = (
        "import time\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
    )
    child = spin + "print('child', flush=True)\nimport sys; sys.stdin.read()\n"
    script = (
        "import subprocess, sys\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child!r}],"
        " stdout=subprocess.PIPE, text=True)\n"
        "assert child.stdout.readline().strip() == 'child'\n"
        f"{spin}"
        "print('spun', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "spun"
            cpu = bench_server._group_cpu_s(proc.pid)
            assert cpu is not None
            # both spun 0.3 s (ticks of 10 ms, and their start-up on top)
            assert 0.55 <= cpu < 10.0, cpu
        finally:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_row_pools_its_takes_cpu_per_run() -> None:
    take = {
        "seconds": 2.0,
        "runs": 10,
        "server_cpu_s": 0.25,
        "client_cpu_s": 0.05,
        "first": [0.01] * 10,
        "parts": [7] * 10,
        "state": [0.002] * 10,
    }
    row = bench_server._row(5, [take, {**take, "server_cpu_s": 0.15}])
    assert row["runs"] == 20 and row["runs_per_s"] == 5.0
    assert row["server_cpu_ms_per_run"] == 20.0  # (250 + 150) ms over 20 runs
    assert row["client_cpu_ms_per_run"] == 5.0
    unknown = bench_server._row(5, [{**take, "server_cpu_s": None}])
    assert unknown["server_cpu_ms_per_run"] is None


def test_the_split_server_runs_the_workload_on_its_worker(tmp_path: Path) -> None:
    with bench_server.hive_server(tmp_path, split=True) as url:
        server, worker = bench_server._PROCS[url]
        serve_cmd = " ".join(map(str, server.args))  # type: ignore[arg-type]
        worker_cmd = " ".join(map(str, worker.args))  # type: ignore[arg-type]
        assert " serve " in serve_cmd and "--no-worker" in serve_cmd
        assert " worker " in worker_cmd
        assert worker.poll() is None
        # the server runs nothing itself: every run finishes only on the worker
        take = asyncio.run(
            asyncio.wait_for(
                bench_server._level(url, 2, 2, [server.pid, worker.pid]), timeout=120
            )
        )
        assert take["runs"] == 4
        assert len(take["first"]) == 4 and len(take["state"]) == 4
        assert all(count > 0 for count in take["parts"])
        assert take["server_cpu_s"] is not None and take["server_cpu_s"] > 0
    assert server.poll() is not None and worker.poll() is not None  # both stopped
