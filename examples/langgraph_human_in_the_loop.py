"""LangGraph pattern 3, human in the loop with time travel, in Hive.

``review`` asks with an inline interrupt, LangGraph's ``interrupt()``:
``verdict = interrupt(ctx, question, expect=Verdict)`` pauses the first run, and
the resumed run executes ``review`` again with the answer. Then time travel:

1. run until ``review`` asks, and answer with an *edit* in the resume payload
   (Hive refuses ``update_state`` on a paused thread; the edit is the answer);
2. read the thread's history (``get_state_history``), fork the checkpoint from
   before the question (``checkpoint_id=...``), write to the fork
   (``update_state``) and run it: ``review`` asks again about the new state;
3. fork the paused checkpoint itself and answer the same question differently.

See ``docs/coming-from-langgraph.md``. Run it with
``python examples/langgraph_human_in_the_loop.py``.
"""

from __future__ import annotations

import msgspec

from hive_core import (
    CheckpointPolicy,
    CompiledGraph,
    InMemoryCheckpointStore,
    NodeInput,
    RunOptions,
    Runtime,
    Schema,
    channel,
)
from hive_core.testing import SequentialIds
from hive_dsl import Chain, Effects, End, GoTo, Workflow, Write, interrupt

THREAD = "post-1"
EVERY_STEP = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Verdict(msgspec.Struct, frozen=True):
    approved: bool
    edit: str | None = None  # the reviewer's version of the draft, if any


class Post(Schema):
    topic = channel(str)
    draft = channel(str)
    published = channel(str)
    interrupt_payload = str
    resume_payload = Verdict


def build() -> CompiledGraph:
    wf = Workflow(Post, name="human_in_the_loop")

    @wf.node(start=True)
    def write_draft(ctx: NodeInput) -> Effects:
        return Effects(Write(Post.draft, f"A post about {ctx.store.get(Post.topic)}"))

    @wf.node
    def review(ctx: NodeInput) -> Effects:
        draft = ctx.store.get(Post.draft)
        verdict = interrupt(ctx, f"Publish {draft!r}?", expect=Verdict)
        fx = Effects()
        if verdict.edit is not None:
            fx.add(Write(Post.draft, verdict.edit))
        return fx.add(GoTo(publish) if verdict.approved else End())

    @wf.node
    def publish(ctx: NodeInput) -> Effects:
        return Effects(Write(Post.published, ctx.store.get(Post.draft)))

    Chain(wf, write_draft, review)
    return wf.compile()


def main() -> None:
    rt = Runtime(
        build(), checkpoint_store=InMemoryCheckpointStore(), ids=SequentialIds()
    )

    print("1. Ask, and answer with an edit:")
    asked = rt.run_sync(THREAD, {Post.topic: "bees"}, EVERY_STEP)
    assert asked.interrupt is not None
    print("   asked:", asked.interrupt.payload, "by", asked.interrupt.node)
    edit = Verdict(approved=True, edit="Bees: a short field guide")
    done = rt.resume_sync(THREAD, asked.interrupt.id, edit, EVERY_STEP)
    print("   published:", done.get(Post.published))

    print("2. History, fork before the question, write, run:")
    history = rt.get_checkpoint_history_sync(THREAD)  # newest first
    for cp in history:
        flag = "  <- the question" if cp.has_interruption else ""
        print(f"   step {cp.step_index}  {cp.id[:12]}{flag}")
    before = next(c for c in history if c.step_index == 1)
    rt.fork_sync(THREAD, before.id, into="post-1-wasps")
    rt.apply_external_writes_sync("post-1-wasps", [Write(Post.draft, "Wasps, too")])
    again = rt.run_sync("post-1-wasps", None, EVERY_STEP)
    assert again.interrupt is not None
    print("   asked again:", again.interrupt.payload)
    approved = rt.resume_sync("post-1-wasps", again.interrupt.id, Verdict(True))
    print("   published:", approved.get(Post.published))

    print("3. Fork the question itself and reject it:")
    question = next(c for c in history if c.has_interruption)
    rt.fork_sync(THREAD, question.id, into="post-1-no")
    rejected = rt.resume_sync("post-1-no", asked.interrupt.id, Verdict(False))
    print("   published:", repr(rejected.get(Post.published)))
    for thread in (THREAD, "post-1-wasps", "post-1-no"):
        state = rt.get_state_sync(thread)
        assert state is not None
        print(f"   {thread:<13} draft={state.store.get(Post.draft)!r}")


if __name__ == "__main__":
    main()
