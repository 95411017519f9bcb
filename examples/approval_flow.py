"""The whole approval flow: interrupt, resume from a new process, fork and answer
differently, with checkpoints in a SQLite file.

Run it with ``python examples/approval_flow.py`` (offline; a temporary directory
holds the SQLite file). It

1. runs thread ``post-7`` until ``review`` asks a person to approve the draft (the
   interrupt is checkpointed to SQLite);
2. starts a *new Python process* (``--resume DB``) that opens the same file, reads
   the pending interrupt from ``get_state``, and approves: the post is published;
3. back in this process, forks the checkpoint that holds the interrupt into thread
   ``post-7-rejected`` and answers the same question with a rejection there.

Ids come from ``DerivedIds``, so every run of this script prints the same ids and
the same traces (see ``docs/guides/approval-flow.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

from hive_core import (
    END,
    CheckpointPolicy,
    CompiledGraph,
    DerivedIds,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Outcome,
    RunHandle,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import trace_to_builtins
from hive_core.persistence import SQLiteCheckpointStore

THREAD = "post-7"
FORK = "post-7-rejected"
DEPLOYMENT = "approval-example"
OPTIONS = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Decision(msgspec.Struct, frozen=True):
    """What the reviewer answers; a plain dict is converted to it on resume."""

    approved: bool
    note: str = ""


class Post(Schema):
    title = channel(str)
    log = channel(list[str], reducer=reducers.append, update="multi")
    interrupt_payload = str
    resume_payload = Decision


def draft(ctx: NodeInput) -> NodeOutput:
    title = ctx.store.get(Post.title)
    return NodeOutput(writes=[Write(Post.log, [f"drafted {title!r}"])])


def review(ctx: NodeInput) -> NodeOutput:
    """Ask, then come back here: the resumed step runs ``review`` again with the
    answer in ``ctx.resume``."""
    if ctx.resume is None:
        title = ctx.store.get(Post.title)
        return NodeOutput(interrupt=f"Publish {title!r}?", next=[ctx.node_id])
    answer = ctx.resume.payload
    assert isinstance(answer, Decision)  # converted by the runtime
    verdict = "approved" if answer.approved else f"rejected: {answer.note}"
    return NodeOutput(
        writes=[Write(Post.log, [verdict])],
        next=["publish"] if answer.approved else END,
    )


def publish(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Post.log, ["published"])], next=END)


def build() -> CompiledGraph:
    return (
        GraphBuilder(Post, start=["draft"])
        .add_node("draft", draft)
        .add_node("review", review)
        .add_node("publish", publish)
        .add_edge("draft", "review")
        .compile()
    )


def ids_for(thread: str, interrupt_id: str | None = None) -> DerivedIds:
    """One id source per deployment, thread and call: a new thread's run id and
    each call's attempt id are reproducible and never shared with another call."""
    call = "run" if interrupt_id is None else f"resume/{interrupt_id}"
    return DerivedIds(f"{DEPLOYMENT}/{thread}/{call}")


def short(value: object) -> str:
    text = str(value)
    return text[:12] + "…" if len(text) >= 32 else text  # ids and hashes


async def traced(handle: RunHandle) -> Outcome:
    """Print the attempt's events, one line each, and return its outcome."""
    events = [e async for e in handle.events]
    print(f"   attempt {short(handle.attempt_id)} of run {short(handle.run_id)}")
    for ev in trace_to_builtins(events):
        where = "run" if ev.get("step") is None else f"step {ev['step']}"
        fields = " ".join(
            f"{k}={short(v)}"
            for k, v in ev.items()
            if k not in {"kind", "index", "step"}
        )
        print(f"    {ev['index']:>2} {where:<7} {ev['kind']:<17} {fields}".rstrip())
    return await handle


def ask(db: Path) -> None:
    """Part 1: run until the review question is asked."""
    print(f"1. Run {THREAD!r} until review asks:")
    with SQLiteCheckpointStore(db) as store:
        runtime = Runtime(build(), checkpoint_store=store, ids=ids_for(THREAD))
        handle = runtime.run(THREAD, {Post.title: "Tides"}, OPTIONS)
        paused = asyncio.run(traced(handle))
    assert paused.interrupt is not None and paused.checkpoint_id is not None
    print(f"   -> {paused.status}: {paused.interrupt.payload!r}")
    print(f"      interrupt {short(paused.interrupt.id)}")
    print(f"      checkpoint {short(paused.checkpoint_id)} in {db.name}")


def approve(db: Path) -> None:
    """Part 2 (in a new process): find the pending interrupt and approve."""
    with SQLiteCheckpointStore(db) as store:
        snapshot = Runtime(build(), checkpoint_store=store).get_state_sync(THREAD)
        assert snapshot is not None and snapshot.interrupt is not None
        pending = snapshot.interrupt
        print(f"   state: step {snapshot.step_index}, next {snapshot.next_nodes}")
        print(f"          pending {pending.payload!r} from {pending.node!r}")
        runtime = Runtime(
            build(), checkpoint_store=store, ids=ids_for(THREAD, pending.id)
        )
        handle = runtime.resume(THREAD, pending.id, {"approved": True}, OPTIONS)
        done = asyncio.run(traced(handle))
    print(f"   -> {done.status}: {done.get(Post.log)}")


def fork_and_reject(db: Path) -> None:
    """Part 3: branch from the interrupt's checkpoint and answer differently."""
    with SQLiteCheckpointStore(db) as store:
        runtime = Runtime(build(), checkpoint_store=store)
        history = asyncio.run(runtime.get_checkpoint_history(THREAD))
        print("   history of", repr(THREAD), "(newest first):")
        for cp in history:
            flag = "  <- holds the question" if cp.has_interruption else ""
            print(f"     step {cp.step_index}  {short(cp.id)}{flag}")
        asked = next(cp for cp in history if cp.has_interruption)
        summary = runtime.fork_sync(THREAD, asked.id, into=FORK)
        print(f"   forked into {FORK!r}: checkpoint {short(summary.id)}")
        snapshot = runtime.get_state_sync(FORK)
        assert snapshot is not None and snapshot.interrupt is not None
        pending = snapshot.interrupt
        print(f"   {FORK!r} is asked {pending.payload!r} again")
        runtime = Runtime(
            build(), checkpoint_store=store, ids=ids_for(FORK, pending.id)
        )
        answer = {"approved": False, "note": "needs sources"}
        done = asyncio.run(traced(runtime.resume(FORK, pending.id, answer, OPTIONS)))
        print(f"   -> {done.status}: {done.get(Post.log)}")
        print("4. Both threads, read back from the store:")
        for thread in (THREAD, FORK):
            state = runtime.get_state_sync(thread)
            assert state is not None
            print(f"   {thread:<16} {state.store.get(Post.log)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", type=Path, metavar="DB", help="part 2 only")
    args = parser.parse_args(argv)
    if args.resume is not None:
        approve(args.resume)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "approval.db"
        ask(db)
        print("2. Approve it from a new process:", flush=True)
        subprocess.run([sys.executable, __file__, "--resume", str(db)], check=True)
        print("3. Fork the question's checkpoint and reject it there:")
        fork_and_reject(db)


if __name__ == "__main__":
    main()
