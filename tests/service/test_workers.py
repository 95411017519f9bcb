"""Worker processes on the CI PostgreSQL: the global limit, kill -9 recovery, a
SIGTERM drain and a woken zombie. Real processes and real signals; ordering by
files the nodes write, rows in the database and exit codes, never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from postgres_support import Database

from hive_core.persistence import CheckpointSummary
from hive_core.service import ServiceClient, ServiceConfig

from .conftest import spawn_worker

LEASE_S = 2.0
WAIT = 90.0


def until(check: Callable[[], object], what: str, timeout: float = WAIT) -> object:
    """Poll ``check`` (a database row, a file) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    """Worker processes sharing one queue of their own on the module's database."""

    def __init__(self, db: Database, tmp: Path, **limits: str) -> None:
        self.queue = f"q_{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.ready = tmp / "ready"
        self.ready.mkdir()
        self.hold = tmp / "hold"
        self.steps = tmp / "steps.log"
        self.env = {
            "HIVE_SERVICE_DATABASE_URL": db.url,
            "HIVE_SERVICE_QUEUE": self.queue,
            "HIVE_SERVICE_LEASE_S": str(LEASE_S),
            "HIVE_SERVICE_HEARTBEAT_S": "0.2",
            "HIVE_SERVICE_POLLING_INTERVAL_S": "0.02",
            "HIVE_SERVICE_POOL_SIZE": "4",
            "HIVE_TEST_READY": str(self.ready),
            "HIVE_TEST_STEP_LOG": str(self.steps),
            "HIVE_TEST_HOLD": str(self.hold),
            **limits,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client = ServiceClient(
            ServiceConfig(database_url=db.url, queue=self.queue, lease_s=LEASE_S)
        )

    def start(self, *names: str) -> None:
        for name in names:
            self.procs[name] = spawn_worker(self.env, name, self.tmp / f"{name}.log")
        for name in names:
            until((self.ready / name).exists, f"worker {name} ready")

    def step_lines(self) -> list[tuple[str, int]]:
        if not self.steps.exists():
            return []
        rows = [line.split() for line in self.steps.read_text().splitlines()]
        return [(t, int(s)) for t, s, _pid in rows]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with_signal(proc, signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=30)
        self.client.close()


def with_signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    os.kill(proc.pid, sig)


@pytest.fixture
def cluster_factory(
    pg_database: Database, tmp_path: Path
) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(**limits: str) -> Cluster:
        c = Cluster(pg_database, tmp_path, **limits)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = now = 0
    for _, delta in edges:
        now += delta
        peak = max(peak, now)
    return peak


def test_three_workers_two_hundred_runs_never_exceed_the_global_limit(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory(HIVE_SERVICE_GLOBAL_CONCURRENCY="4",
                        HIVE_SERVICE_WORKER_CONCURRENCY="2")  # fmt: skip
    c.hold.unlink(missing_ok=True)
    c.start("lim-a", "lim-b", "lim-c")
    ids = [
        c.client.submit_sync("counter", f"lim-{i}", {"target": 2}) for i in range(200)
    ]
    results = [c.client.result_sync(r, timeout=WAIT) for r in ids]
    assert {r.status for r in results} == {"finished"}
    assert all(r.output["seen"] == [1, 2] for r in results)
    attempts = [a for r in ids for a in c.client.attempts_sync(r)]
    assert len(attempts) == 200
    spans = [(a.started_at, a.ended_at or a.started_at) for a in attempts]
    assert 2 <= max_overlap(spans) <= 4
    assert len({a.worker_id for a in attempts}) == 3


def test_kill_9_a_worker_and_its_runs_finish_elsewhere_from_the_last_checkpoint(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory(HIVE_TEST_HOLD_STEP="3")
    c.hold.write_text("")
    c.start("k-a", "k-b", "k-c")
    threads = [f"kill-{i}" for i in range(4)]
    ids = {t: c.client.submit_sync("counter", t, {"target": 6}) for t in threads}
    for t in threads:
        until(Path(f"{c.hold}.{t}.reached").exists, f"{t} at step 3")
    victim_thread = threads[0]
    victim = c.client.status_sync(ids[victim_thread]).worker_id
    assert victim is not None
    c.procs[victim].kill()  # SIGKILL
    c.procs[victim].wait()
    killed_at = time.monotonic()
    c.hold.unlink()
    mine = [t for t in threads if c.client.status_sync(ids[t]).worker_id == victim]
    for t in threads:
        assert c.client.result_sync(ids[t], timeout=WAIT).output["seen"] == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
    for t in mine:
        history = c.client.attempts_sync(ids[t])
        assert len(history) == 2 and history[1].worker_id != victim
        assert history[1].started_at - (
            time.time() - (time.monotonic() - killed_at)
        ) < (LEASE_S + 5)
    runs = c.step_lines()
    for t in threads:
        steps = sorted(s for thread, s in runs if thread == t)
        # steps 0-2 were checkpointed before the kill and never re-ran; step 3 was
        # in flight (held before it logged), so it too ran once
        assert steps == [0, 1, 2, 3, 4, 5], (t, steps)


def test_sigterm_drains_within_the_deadline_and_hands_runs_back(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory(HIVE_TEST_HOLD_STEP="2", HIVE_SERVICE_DRAIN_DEADLINE_S="10")
    c.hold.write_text("")
    c.start("d-a")
    threads = [f"drain-{i}" for i in range(3)]
    ids = {t: c.client.submit_sync("counter", t, {"target": 5}) for t in threads}
    for t in threads:
        until(Path(f"{c.hold}.{t}.reached").exists, f"{t} at step 2")
    proc = c.procs["d-a"]
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    until(
        lambda: any(w.state == "draining" for w in c.client.workers_sync()),
        "the worker to start draining",
    )
    c.hold.unlink()  # the steps in flight may finish now, and checkpoint
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - signalled < 10 + 1
    for t in threads:
        history = c.client.attempts_sync(ids[t])
        assert [a.result for a in history] == ["handed_back"]
    c.start("d-b")
    for t in threads:
        result = c.client.result_sync(ids[t], timeout=WAIT)
        assert result.output["seen"] == [1, 2, 3, 4, 5]
    for t in threads:
        steps = sorted(s for thread, s in c.step_lines() if thread == t)
        assert steps == [0, 1, 2, 3, 4], (
            t,
            steps,
        )  # step 2 finished before the hand-back


def test_a_woken_zombie_cannot_commit(cluster_factory: Callable[..., Cluster]) -> None:
    c = cluster_factory(HIVE_TEST_HOLD_STEP="2")
    c.hold.write_text("")
    c.start("z-a")
    run_id = c.client.submit_sync("counter", "zombie-1", {"target": 5})
    until(lambda: Path(f"{c.hold}.zombie-1.reached").exists(), "the run at step 2")
    zombie = c.procs["z-a"]
    zombie.send_signal(signal.SIGSTOP)
    c.start("z-b")  # takes the run over once z-a's lease runs out
    until(lambda: len(c.client.attempts_sync(run_id)) == 2, "the take-over", 30)
    c.hold.unlink()
    result = c.client.result_sync(run_id, timeout=WAIT)
    assert result.output["seen"] == [1, 2, 3, 4, 5]
    zombie.send_signal(signal.SIGCONT)
    first = until(
        lambda: c.client.attempts_sync(run_id)[0].result,
        "the zombie's attempt to end",
        30,
    )
    assert first == "lost_ownership"
    assert c.client.result_sync(run_id).output["seen"] == [1, 2, 3, 4, 5]
    # The zombie wrote nothing: one checkpoint per step, no fork, no gap.
    steps = [s.step_index for s in asyncio.run(_history(c, "zombie-1"))]
    assert steps == list(range(steps[0], steps[0] - len(steps), -1))


async def _history(c: Cluster, thread: str) -> list[CheckpointSummary]:
    from hive_core.persistence import PostgresCheckpointStore

    async with PostgresCheckpointStore(c.env["HIVE_SERVICE_DATABASE_URL"]) as store:
        return await store.list_checkpoints(thread)
