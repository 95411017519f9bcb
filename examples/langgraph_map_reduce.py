"""LangGraph pattern 2, map-reduce with ``Send``, in Hive.

LangGraph's ``Send("write_joke", {"subject": s})`` per subject becomes
``SpawnEach(subjects, write_joke, local=...)``: one task per subject in the next
superstep, each with its own task-local ``subject`` (LangGraph's private state).
The ``jokes`` channel's append reducer is LangGraph's ``Annotated[list,
operator.add]``; the tasks' writes are applied in task order, so the result is
the same on every run however the tasks interleave. ``pick_best`` runs once, after
every joke (a ``Join``). See ``docs/coming-from-langgraph.md``. Run it with
``python examples/langgraph_map_reduce.py``.
"""

from __future__ import annotations

from hive_core import (
    CompiledGraph,
    NodeInput,
    Outcome,
    Runtime,
    Schema,
    channel,
    reducers,
)
from hive_core.testing import SequentialIds
from hive_dsl import Effects, End, Join, SpawnEach, Workflow, Write


class Jokes(Schema):
    topic = channel(str)
    subjects = channel(list[str])
    subject = channel(str, scope="task_local")  # what each Send carries
    jokes = channel(list[str], reducer=reducers.append, update="multi")
    best = channel(str)


def build() -> CompiledGraph:
    wf = Workflow(Jokes, name="map_reduce")

    @wf.node(start=True)
    def generate_topics(ctx: NodeInput) -> Effects:
        topic = ctx.store.get(Jokes.topic)
        subjects = [f"{topic} {kind}" for kind in ("queens", "drones", "honey")]
        return Effects(
            Write(Jokes.subjects, subjects),
            SpawnEach(subjects, write_joke, local=lambda s: {Jokes.subject: s}),
            End(),
        )

    @wf.node
    def write_joke(ctx: NodeInput) -> Effects:  # a model call in real life
        subject = ctx.store.get(Jokes.subject)
        return Effects(Write(Jokes.jokes, [f"Why do {subject} never rest? Buzzness."]))

    @wf.node
    def pick_best(ctx: NodeInput) -> Effects:
        jokes = ctx.store.get(Jokes.jokes)
        return Effects(Write(Jokes.best, min(jokes, key=len)))

    Join(wf, [write_joke], pick_best)
    return wf.compile()


def run() -> Outcome:
    return Runtime(build(), ids=SequentialIds()).run_sync(
        "jokes-1", {Jokes.topic: "bee"}
    )


def main() -> None:
    outcome = run()
    for joke in outcome.get(Jokes.jokes):
        print("joke:", joke)
    print("best:", outcome.get(Jokes.best))


if __name__ == "__main__":
    main()
