"""LangGraph pattern 4, subgraphs, in Hive: a child graph as a node of the parent
that streams through it and pauses it.

The child ``research`` graph shares ``question`` and ``answer`` with the parent by
name (no mapping needed, as in LangGraph). Its ``confirm`` node asks a person with
an inline interrupt; that pauses the *parent*, with the paused child kept in the
parent's SQLite checkpoint store. A new Python process (``--resume DB``) then
answers, and the child continues where it stopped. The child's events stream
through the parent as ``subgraph_event``s namespaced by the subgraph node
(LangGraph's ``stream(..., subgraphs=True)``). See
``docs/coming-from-langgraph.md``. Run it with
``python examples/langgraph_subgraphs.py``.
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
    CompiledGraph,
    DerivedIds,
    NodeInput,
    Outcome,
    RunHandle,
    Runtime,
    Schema,
    channel,
)
from hive_core.events import SubgraphEvent
from hive_core.persistence import SQLiteCheckpointStore
from hive_dsl import Chain, Effects, Subgraph, Workflow, Write, interrupt

THREAD = "support-3"


class Confirm(msgspec.Struct, frozen=True):
    use_sources: bool


class Research(Schema):  # the child
    question = channel(str)
    sources = channel(list[str])
    answer = channel(str)
    interrupt_payload = str
    resume_payload = Confirm


class Support(Schema):  # the parent: `question` and `answer` are shared by name
    question = channel(str)
    answer = channel(str)
    reply = channel(str)
    interrupt_payload = str
    resume_payload = Confirm


def research_graph() -> Workflow:
    child = Workflow(Research, name="research")

    @child.node(start=True)
    def search(ctx: NodeInput) -> Effects:
        topic = ctx.store.get(Research.question).rstrip("?").split()[-1]
        return Effects(Write(Research.sources, [f"{topic}-faq", f"{topic}-manual"]))

    @child.node
    def confirm(ctx: NodeInput) -> Effects:
        sources = ctx.store.get(Research.sources)
        answer = interrupt(ctx, f"Use {', '.join(sources)}?", expect=Confirm)
        text = f"see {sources[0]}" if answer.use_sources else "no sources used"
        return Effects(Write(Research.answer, text))

    Chain(child, search, confirm)
    return child


def build() -> CompiledGraph:
    wf = Workflow(Support, name="support")

    @wf.node(start=True)
    def intake(ctx: NodeInput) -> Effects:
        return Effects(Write(Support.question, ctx.store.get(Support.question).strip()))

    research = wf.node(Subgraph(research_graph()), node_id="research")

    @wf.node
    def respond(ctx: NodeInput) -> Effects:
        return Effects(Write(Support.reply, f"Answer: {ctx.store.get(Support.answer)}"))

    Chain(wf, intake, research, respond)
    return wf.compile()


async def streamed(handle: RunHandle) -> Outcome:
    """Print the parent's events; a child's are shown under their namespace."""
    async for event in handle.events:
        if isinstance(event, SubgraphEvent):
            inner = event.event
            node = f" {inner['node']}" if "node" in inner else ""
            print(f"   {'/'.join(event.namespace)}: {inner['kind']}{node}")
        else:
            node = f" {event.node}" if hasattr(event, "node") else ""
            print(f"   {event.__struct_config__.tag}{node}")
    return await handle


def ask(db: Path) -> None:
    with SQLiteCheckpointStore(db) as store:
        rt = Runtime(build(), checkpoint_store=store, ids=DerivedIds(f"{THREAD}/run"))
        handle = rt.run(THREAD, {Support.question: " How do I descale the kettle? "})
        paused = asyncio.run(streamed(handle))
    assert paused.interrupt is not None
    print(
        f"   -> {paused.status}: {paused.interrupt.payload!r} (asked by node "
        f"{paused.interrupt.node!r})"
    )


def answer(db: Path) -> None:
    with SQLiteCheckpointStore(db) as store:
        state = Runtime(build(), checkpoint_store=store).get_state_sync(THREAD)
        assert state is not None and state.interrupt is not None
        print(f"   pending in {db.name}: {state.interrupt.payload!r}")
        ids = DerivedIds(f"{THREAD}/resume/{state.interrupt.id}")
        rt = Runtime(build(), checkpoint_store=store, ids=ids)
        handle = rt.resume(THREAD, state.interrupt.id, {"use_sources": True})
        done = asyncio.run(streamed(handle))
    print(f"   -> {done.status}: {done.get(Support.reply)!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", type=Path, metavar="DB", help="part 2 only")
    args = parser.parse_args(argv)
    if args.resume is not None:
        answer(args.resume)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "support.db"
        print("1. Run until the child asks:")
        ask(db)
        print("2. Answer from a new process:", flush=True)
        subprocess.run([sys.executable, __file__, "--resume", str(db)], check=True)


if __name__ == "__main__":
    main()
