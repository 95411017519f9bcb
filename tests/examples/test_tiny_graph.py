"""TinyGraph (examples/tiny_graph.py): its trace is pinned, and the script runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from syrupy.assertion import SnapshotAssertion

from hive_core import CheckpointPolicy, RunOptions, Runtime
from hive_core.events import trace_to_builtins
from hive_core.persistence import SQLiteCheckpointStore
from hive_core.testing import SequentialIds

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import tiny_graph  # noqa: E402

OPTIONS = RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt())


def test_trace_of_run_and_resume_from_a_fresh_runtime_is_pinned(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    db = tmp_path / "tiny.db"

    async def first() -> tuple[list[dict[str, Any]], Any]:
        with SQLiteCheckpointStore(db) as store:
            rt = Runtime(
                tiny_graph.build(), checkpoint_store=store, ids=SequentialIds()
            )
            handle = rt.run(tiny_graph.THREAD, None, OPTIONS)
            events = [e async for e in handle.events]
            return trace_to_builtins(events), await handle

    async def second(interrupt_id: str) -> tuple[list[dict[str, Any]], Any]:
        with SQLiteCheckpointStore(db) as store:
            rt = Runtime(
                tiny_graph.build(), checkpoint_store=store, ids=SequentialIds()
            )
            handle = rt.resume(tiny_graph.THREAD, interrupt_id, "approved", OPTIONS)
            events = [e async for e in handle.events]
            return trace_to_builtins(events), await handle

    run_trace, paused = asyncio.run(first())
    assert paused.status == "interrupted"
    assert paused.interrupt.payload == "review"
    assert run_trace == snapshot(name="run")
    resume_trace, done = asyncio.run(second(paused.interrupt.id))
    assert done.status == "finished"
    assert done.output["results"] == [
        "WorkerA processed apple",
        "WorkerB processed banana",
        "finalized: approved",
    ]
    assert resume_trace == snapshot(name="resume")


def test_the_script_resumes_in_a_fresh_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tiny_graph.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = proc.stdout
    assert "run_interrupted" in out and "checkpoint_loaded" in out
    assert "Finalize got resume payload 'approved'" in out
    assert out.rstrip().endswith("- finalized: approved")
