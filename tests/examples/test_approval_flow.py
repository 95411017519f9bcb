"""The approval flow (examples/approval_flow.py): interrupt, resume from a new
process, fork and answer differently. Its traces are pinned, and the script prints
the same thing, ids included, every time it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from hive_core.persistence import SQLiteCheckpointStore
from hive_core.testing import Tracer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import approval_flow as flow  # noqa: E402


def test_ask_approve_fork_and_reject_traces_are_pinned(
    hive_trace: Tracer, snapshot: SnapshotAssertion, tmp_path: Path
) -> None:
    graph = flow.build()
    with SQLiteCheckpointStore(tmp_path / "approval.db") as store:
        paused = hive_trace(
            graph,
            {flow.Post.title: "Tides"},
            thread_id=flow.THREAD,
            options=flow.OPTIONS,
            checkpoint_store=store,
        )
        assert paused.status == "interrupted"
        assert paused.interrupt is not None
        assert paused.interrupt.payload == "Publish 'Tides'?"
        assert paused == snapshot(name="ask")

        approved = hive_trace.resume({"approved": True}, options=flow.OPTIONS)
        assert approved.store["log"] == ["drafted 'Tides'", "approved", "published"]
        assert approved == snapshot(name="approve")

        source = hive_trace.runtime(graph, flow.THREAD)
        assert paused.outcome is not None and paused.outcome.checkpoint_id is not None
        source.fork_sync(flow.THREAD, paused.outcome.checkpoint_id, into=flow.FORK)
        rejected = hive_trace(
            graph,
            thread_id=flow.FORK,
            options=flow.OPTIONS,
            resume=(paused.interrupt.id, {"approved": False, "note": "no"}),
        )
        assert rejected.store["log"] == ["drafted 'Tides'", "rejected: no"]
        assert rejected == snapshot(name="fork_and_reject")
        # the fork changed nothing on the source thread
        state = source.get_state_sync(flow.THREAD)
        assert state is not None and state.store.get(flow.Post.log)[-1] == "published"


def test_the_script_resumes_in_a_new_process_and_prints_the_same_every_time(
    snapshot: SnapshotAssertion,
) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "approval_flow.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = proc.stdout
    # part 2 ran in the child: its state line comes after the parent's heading
    assert out.index("2. Approve it from a new process:") < out.index("   state:")
    assert out.rstrip().endswith(
        "post-7-rejected  [\"drafted 'Tides'\", 'rejected: needs sources']"
    )
    # DerivedIds: every id printed (run, attempt, task, checkpoint) is pinned too
    assert out == snapshot
