"""Crash safety: SIGKILL a run between steps, inside a node and inside a save; a fresh
process resumes and reaches the same final store and trace tail as a run that was
never killed, and nothing whose save returned before the kill is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hive_core.persistence import SQLiteCheckpointStore

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _read(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _run(db: Path, out: Path, mode: str, at: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(out), mode, str(at)], env=env
    )


def _finish(db: Path, out: Path) -> dict[str, Any]:
    proc = _run(db, out, "none", -1)
    assert proc.wait(timeout=60) == 0
    return _read(out)[-1]


def _comparable(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events of committed steps, without per-attempt fields (index, attempt)."""
    keep = []
    for e in events:
        if e.get("step") is None:
            continue
        keep.append(
            (
                e["kind"],
                e.get("step"),
                e.get("ordinal"),
                e.get("node"),
                e.get("task_id"),
                e.get("channel"),
                e.get("payload_hash"),
                e.get("checkpoint_id"),
            )
        )
    return keep


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("reference")
    return _finish(tmp / "ref.db", tmp / "ref.jsonl")


@pytest.mark.parametrize(
    ("mode", "at", "latest_after_kill"),
    [
        ("between", 4, 5),  # checkpoint of step 4 (next step 5) saved, then killed
        ("node", 6, 6),  # killed inside step 6's node: latest is after step 5
        ("save", 8, 8),  # killed inside the save for step 8: that save is lost
    ],
)
def test_sigkill_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path,
    reference: dict[str, Any],
    mode: str,
    at: int,
    latest_after_kill: int,
) -> None:
    db, out = tmp_path / "crash.db", tmp_path / "crash.jsonl"
    proc = _run(db, out, mode, at)
    deadline = time.monotonic() + 60
    while not any(r.get("frozen") for r in _read(out)):
        assert proc.poll() is None, "worker exited before reaching the kill point"
        assert time.monotonic() < deadline, "worker never reached the kill point"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    saved_before_kill = [r["saved"] for r in _read(out) if "saved" in r]

    async def inspect() -> list[int]:
        with SQLiteCheckpointStore(db) as store:
            latest = await store.load_latest("crash-thread")
            assert latest is not None
            assert latest.step_index == latest_after_kill
            return [c.step_index for c in await store.list_checkpoints("crash-thread")]

    on_disk = asyncio.run(inspect())
    assert set(saved_before_kill) <= set(on_disk)  # nothing committed was lost
    assert max(on_disk) == latest_after_kill

    resumed = _finish(db, out)
    assert resumed["store"] == reference["store"]
    tail = _comparable(resumed["trace"])
    ref_tail = [e for e in _comparable(reference["trace"]) if e[1] >= latest_after_kill]
    assert tail == ref_tail
    assert resumed["trace"][1]["kind"] == "checkpoint_loaded"
