"""The health probe a process manager calls, through a subprocess against a real
worker process on the CI PostgreSQL: exit 0 while it beats, 1 once it is silent
past the lease (shown dead) or stopped, readiness failing while it drains, 2 on a
bad configuration. Ordering by the probe's own answers, files and exit codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postgres_support import Database

from hive_core.service import ServiceClient, ServiceConfig

from .conftest import spawn_worker

LEASE_S = 2.0
WAIT = 60.0


def until(check: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Probe:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hive_core.service", "health", *args],
            env={**self.env, **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    def code(self, *args: str) -> int:
        return self.run(*args).returncode


@pytest.fixture
def setup(pg_database: Database, tmp_path: Path) -> Iterator[dict[str, object]]:
    queue = f"q_{uuid.uuid4().hex[:8]}"
    env = {
        "HIVE_SERVICE_DATABASE_URL": pg_database.url,
        "HIVE_SERVICE_QUEUE": queue,
        "HIVE_SERVICE_LEASE_S": str(LEASE_S),
        "HIVE_SERVICE_HEARTBEAT_S": "0.2",
        "HIVE_SERVICE_POLLING_INTERVAL_S": "0.02",
        "HIVE_SERVICE_POOL_SIZE": "4",
    }
    hold = tmp_path / "hold"
    ready = tmp_path / "ready"
    ready.mkdir()
    worker_env = {
        **env,
        "HIVE_TEST_READY": str(ready),
        "HIVE_TEST_HOLD": str(hold),
        "HIVE_TEST_HOLD_STEP": "1",
    }
    procs: list[subprocess.Popen[bytes]] = []
    yield {"env": env, "worker_env": worker_env, "hold": hold, "ready": ready,
           "procs": procs, "tmp": tmp_path}  # fmt: skip
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=30)


def test_the_probe_follows_a_worker_from_alive_to_silent_to_drained(
    setup: dict[str, object],
) -> None:
    env = setup["env"]
    assert isinstance(env, dict)
    hold, ready, tmp = setup["hold"], setup["ready"], setup["tmp"]
    assert isinstance(hold, Path) and isinstance(ready, Path) and isinstance(tmp, Path)
    procs = setup["procs"]
    assert isinstance(procs, list)
    probe = Probe(env)
    assert probe.code("--worker", "h-a") == 1  # not registered yet

    hold.write_text("")
    worker_env = setup["worker_env"]
    assert isinstance(worker_env, dict)
    worker = spawn_worker(worker_env, "h-a", tmp / "h-a.log")
    procs.append(worker)
    until(lambda: (ready / "h-a").exists(), "the worker to serve")
    live = probe.run("--worker", "h-a", "--json")
    assert live.returncode == 0, live.stdout + live.stderr
    (row,) = json.loads(live.stdout)
    assert row["worker_id"] == "h-a" and row["state"] == "alive" and row["ok"]
    assert row["pid"] == worker.pid
    assert probe.code("--worker", "h-a", "--ready") == 0
    assert probe.code() == 0  # any worker healthy
    assert probe.code("--worker", "nobody") == 1

    os.kill(worker.pid, signal.SIGSTOP)  # silent: no heartbeat past the lease
    until(lambda: probe.code("--worker", "h-a") == 1, "the silent worker to fail")
    client = ServiceClient(_config(env))
    try:
        (seen,) = [w for w in client.workers_sync() if w.worker_id == "h-a"]
        assert seen.state == "dead" and not seen.alive
        assert "state=dead" in probe.run("--worker", "h-a").stdout
        os.kill(worker.pid, signal.SIGCONT)  # it beats again: alive again
        until(lambda: probe.code("--worker", "h-a") == 0, "the worker to recover")

        run_id = client.submit_sync("counter", "health-1", {"target": 3})
        until(lambda: Path(f"{hold}.health-1.reached").exists(), "the held run")
        worker.send_signal(signal.SIGTERM)
        until(
            lambda: probe.code("--worker", "h-a", "--ready") == 1,
            "readiness to fail while draining",
        )
        assert probe.code("--worker", "h-a") == 0  # still live while it drains
        hold.unlink()
        assert worker.wait(timeout=30) == 0
        stopped = probe.run("--worker", "h-a")
        assert stopped.returncode == 1 and "state=stopped" in stopped.stdout
        assert client.status_sync(run_id).status in ("queued", "running")
    finally:
        client.close()


def test_a_bad_configuration_exits_2_naming_the_key(setup: dict[str, object]) -> None:
    env = setup["env"]
    assert isinstance(env, dict)
    bad = Probe(env).run("--worker", "h-a", HIVE_SERVICE_LEASE_S="-1")
    assert bad.returncode == 2
    assert "lease_s" in bad.stderr and "Fix:" in bad.stderr


def _config(env: dict[str, str]) -> ServiceConfig:
    return ServiceConfig(
        database_url=env["HIVE_SERVICE_DATABASE_URL"],
        queue=env["HIVE_SERVICE_QUEUE"],
        lease_s=LEASE_S,
    )
