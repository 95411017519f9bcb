"""The four LangGraph patterns of docs/coming-from-langgraph.md, as examples whose
traces are pinned (``.trace`` snapshots) and whose promises are checked: a tool
error reaches the model and the run finishes; Send-style fan-out reduces in task
order; an edit travels as the resume payload and forks replay history; a subgraph
interrupt is resumed from a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import cast

from syrupy.assertion import SnapshotAssertion

from hive_core import CheckpointPolicy, Environment, RunOptions, Write
from hive_core.persistence import SQLiteCheckpointStore
from hive_core.testing import Tracer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import langgraph_human_in_the_loop as hitl  # noqa: E402
import langgraph_map_reduce as map_reduce  # noqa: E402
import langgraph_react_agent as react  # noqa: E402
import langgraph_subgraphs as subgraphs  # noqa: E402


def script(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout


def test_react_agent_a_tool_error_reaches_the_model_and_the_run_finishes(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    client = react.scripted_model()
    trace = hive_trace(
        react.build(), react.QUESTION, environment=Environment(model=client)
    )
    assert trace.status == "finished"
    assert trace == snapshot
    second = client.requests[1].messages
    tool_reply = [m for m in second if m.role == "tool"]
    assert len(tool_reply) == 1 and tool_reply[0].tool_call_id == "c1"
    assert tool_reply[0].content.startswith(
        "Error: the call to tool `get_weather` failed with LookupError: no weather "
        "station in Atlantis"
    )
    finished = [e for e in trace.events if e["kind"] == "tool_invocation_finished"]
    assert [e["success"] for e in finished] == [False, True]
    assert str(trace.store["final_answer"]).startswith(
        "Atlantis has no weather station"
    )


def test_map_reduce_one_task_per_subject_reduced_in_task_order(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    trace = hive_trace(map_reduce.build(), {map_reduce.Jokes.topic: "bee"})
    assert trace == snapshot
    started = [e["node"] for e in trace.events if e["kind"] == "task_started"]
    assert started == ["generate_topics", *["write_joke"] * 3, "pick_best"]
    assert [j.split()[3] for j in cast("list[str]", trace.store["jokes"])] == [
        "queens",
        "drones",
        "honey",
    ]


def test_human_in_the_loop_edit_as_the_answer_then_time_travel(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    graph = hitl.build()
    asked = hive_trace(
        graph, {hitl.Post.topic: "bees"}, thread_id=hitl.THREAD, options=hitl.EVERY_STEP
    )
    assert asked.interrupt is not None
    assert asked.interrupt.payload == "Publish 'A post about bees'?"
    assert asked == snapshot(name="ask")
    edited = hive_trace.resume(
        {"approved": True, "edit": "Bees: a short field guide"}, options=hitl.EVERY_STEP
    )
    assert edited.store["published"] == "Bees: a short field guide"
    assert edited == snapshot(name="answer_with_edit")
    # forking before the question and writing there asks again about the new state
    rt = hive_trace.runtime(graph, hitl.THREAD)
    before = next(
        c for c in rt.get_checkpoint_history_sync(hitl.THREAD) if c.step_index == 1
    )
    rt.fork_sync(hitl.THREAD, before.id, into="fork")
    rt.apply_external_writes_sync("fork", [Write(hitl.Post.draft, "Wasps")])
    again = rt.run_sync("fork", None, hitl.EVERY_STEP)
    assert again.interrupt is not None and again.interrupt.payload == "Publish 'Wasps'?"


def test_human_in_the_loop_script_prints_the_three_branches() -> None:
    out = script("langgraph_human_in_the_loop")
    assert "   published: Bees: a short field guide" in out
    assert "   asked again: Publish 'Wasps, too'?" in out
    assert out.rstrip().endswith("post-1-no     draft='A post about bees'")


def test_subgraph_interrupt_is_resumed_from_a_new_process(
    hive_trace: Tracer, snapshot: SnapshotAssertion, tmp_path: Path
) -> None:
    db = tmp_path / "support.db"
    question = {subgraphs.Support.question: " How do I descale the kettle? "}
    with SQLiteCheckpointStore(db) as store:
        paused = hive_trace(
            subgraphs.build(),
            question,
            thread_id=subgraphs.THREAD,
            checkpoint_store=store,
            options=RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt()),
        )
    assert paused.status == "interrupted" and paused.interrupt is not None
    assert paused.interrupt.node == "research"
    assert paused.interrupt.payload == "Use kettle-faq, kettle-manual?"
    child = [e for e in paused.events if e["kind"] == "subgraph_event"]
    assert {tuple(e["namespace"]) for e in child} == {("research",)}
    assert child[-1]["event"]["kind"] == "run_interrupted"
    assert paused == snapshot(name="ask")

    out = script("langgraph_subgraphs", "--resume", str(db))  # a new process
    assert "   research: checkpoint_loaded" in out  # the child resumed, not restarted
    assert "research: task_started search" not in out
    assert out.rstrip().endswith("-> finished: 'Answer: see kettle-faq'")
    with SQLiteCheckpointStore(db) as store:
        state = hive_trace.runtime(
            subgraphs.build(), subgraphs.THREAD, checkpoint_store=store
        ).get_state_sync(subgraphs.THREAD)
        # the answered step is always saved (later ones follow the policy)
        assert state is not None and state.interrupt is None
        assert state.store.get(subgraphs.Support.answer) == "see kettle-faq"


def test_subgraph_script_runs_both_processes() -> None:
    out = script("langgraph_subgraphs")
    assert out.index("2. Answer from a new process:") < out.index("   pending in")
    assert out.rstrip().endswith("-> finished: 'Answer: see kettle-faq'")
