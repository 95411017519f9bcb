"""Fenced writes through the runtime, and two real processes racing on one thread.

Two runtimes (or processes) that loaded the same checkpoint can never both advance a
thread: the one that saves second gets ``CheckpointConflict`` as its run's error,
nothing of its step is written, and its visible state stays the last committed one
(``docs/persistence.md``, "Fenced writes"). The race uses the workers' pipes as the
barrier: both print ``ready`` while holding the same baseline, then both get ``go``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_support import Schema, postgres_schema, postgres_url, require_url

from hive_core import CheckpointPolicy, RunOptions, Runtime
from hive_core.persistence import (
    CheckpointConflict,
    CheckpointStore,
    InMemoryCheckpointStore,
    SQLiteCheckpointStore,
)

from .fencing_graph import THREAD, counter_graph

__all__ = ["postgres_schema", "postgres_url"]

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("race_worker.py")


def every(max_steps: int) -> RunOptions:
    return RunOptions(checkpoint_policy=CheckpointPolicy.every(1), max_steps=max_steps)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[CheckpointStore, CheckpointStore]]:
    """Two store objects over the same data (one object for the memory store)."""
    if request.param == "memory":
        shared = InMemoryCheckpointStore()
        yield shared, shared
    elif request.param == "sqlite":
        with (
            SQLiteCheckpointStore(tmp_path / "t.db") as a,
            SQLiteCheckpointStore(tmp_path / "t.db") as b,
        ):
            yield a, b
    else:
        from hive_core.persistence import PostgresCheckpointStore

        schema = Schema(require_url())
        pa = PostgresCheckpointStore(schema.url)
        pb = PostgresCheckpointStore(schema.url)
        yield pa, pb
        pa.close()
        pb.close()
        schema.drop()


def test_a_stale_runtime_fails_its_run_and_writes_nothing(
    two_stores: tuple[CheckpointStore, CheckpointStore],
) -> None:
    store_a, store_b = two_stores
    a = Runtime(counter_graph("a"), checkpoint_store=store_a)
    b = Runtime(counter_graph("b"), checkpoint_store=store_b)
    first = a.run_sync(THREAD, None, every(2))
    b.run_sync(THREAD, None, every(2))  # loads a's checkpoint, moves the thread on
    history = b.get_checkpoint_history_sync(THREAD)
    with pytest.raises(CheckpointConflict) as err:
        a.run_sync(THREAD, None, every(2))  # a still holds its own step 2 in memory
    assert err.value.thread_id == THREAD
    assert err.value.expected == first.checkpoint_id
    assert err.value.actual == history[0].id
    assert b.get_checkpoint_history_sync(THREAD) == history  # nothing written
    snap = a.get_state_sync(THREAD)
    assert snap is not None
    assert snap.checkpoint_id == first.checkpoint_id  # the last one a committed
    assert snap.store.get("log") == ["a 0", "a 1"]
    latest = b.get_state_sync(THREAD)
    assert latest is not None and latest.store.get("log") == [
        "a 0",
        "a 1",
        "b 2",
        "b 3",
    ]
    # A runtime that reloads the thread continues it from the store's latest.
    c = Runtime(counter_graph("c"), checkpoint_store=store_a)
    out = c.run_sync(THREAD, None, every(1))
    assert out.output["log"] == ["a 0", "a 1", "b 2", "b 3", "c 4"]


# ---------------------------------------------------------------- two processes


def _seed(store: CheckpointStore) -> str:
    """The thread's first step, saved: the baseline both workers load."""
    out = Runtime(counter_graph("seed"), checkpoint_store=store).run_sync(
        THREAD, None, every(1)
    )
    assert out.checkpoint_id is not None
    return out.checkpoint_id


def _race(kind: str, target: str) -> list[dict[str, Any]]:
    env_path = f"{ROOT}:{Path(__file__).parent}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), kind, target, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        )
        for name in ("w1", "w2")
    ]
    try:
        for proc in procs:  # barrier: both hold the same baseline
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _check_race(
    results: list[dict[str, Any]], seed: str, store: Callable[[], CheckpointStore]
) -> None:
    winners = [i for i, r in enumerate(results) if "advanced" in r]
    losers = [i for i, r in enumerate(results) if "conflict" in r]
    assert len(winners) == 1 and len(losers) == 1, results
    winner = f"w{winners[0] + 1}"
    assert results[winners[0]]["advanced"] == [1, 2, 3]
    conflict = results[losers[0]]["conflict"]
    assert conflict["expected"] == seed
    rt = Runtime(counter_graph("check"), checkpoint_store=store())
    history = rt.get_checkpoint_history_sync(THREAD)
    # No fork, no gap: one checkpoint per step, the seed's then the winner's.
    assert [s.step_index for s in history] == [4, 3, 2, 1]
    assert history[-1].id == seed
    assert conflict["actual"] in {s.id for s in history[:-1]}
    snap = rt.get_state_sync(THREAD)
    assert snap is not None
    assert snap.store.get("log") == [
        "seed 0",
        f"{winner} 1",
        f"{winner} 2",
        f"{winner} 3",
    ]


def test_two_processes_race_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    with SQLiteCheckpointStore(db) as store:
        seed = _seed(store)
    results = _race("sqlite", str(db))
    with SQLiteCheckpointStore(db) as store:
        _check_race(results, seed, lambda: store)


def test_two_processes_race_on_postgres(postgres_schema: Schema) -> None:
    from hive_core.persistence import PostgresCheckpointStore

    store = PostgresCheckpointStore(postgres_schema.url)
    try:
        seed = _seed(store)
        results = _race("postgres", postgres_schema.url)
        _check_race(results, seed, lambda: store)
    finally:
        store.close()
