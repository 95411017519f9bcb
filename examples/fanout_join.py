"""Fan-out and join: one task per topic, then a summary once all are done.

`plan` spawns a `research` task per topic, each with its own task-local `topic`
(``SpawnEach``); the tasks run in the same superstep and append their notes; the
join runs `summarize` once `research` has run. Run it with
``python examples/fanout_join.py``.
"""

from __future__ import annotations

from hive_core import NodeInput, Runtime, Schema, channel, reducers
from hive_dsl import Effects, End, Join, SpawnEach, Workflow, Write


class Research(Schema):
    topics = channel(list[str])
    topic = channel(str, scope="task_local")
    notes = channel(list[str], reducer=reducers.append, update="multi")
    summary = channel(str)


wf = Workflow(Research)


@wf.node(start=True)
def plan(ctx: NodeInput) -> Effects:
    topics = ctx.store.get(Research.topics)
    return Effects(
        SpawnEach(topics, research, local=lambda topic: {Research.topic: topic}),
        End(),  # nothing follows `plan` itself: the join takes over
    )


@wf.node
def research(ctx: NodeInput) -> Effects:
    topic = ctx.store.get(Research.topic)
    return Effects(Write(Research.notes, [f"{topic}: {len(topic)} letters"]))


@wf.node
def summarize(ctx: NodeInput) -> Effects:
    notes = ctx.store.get(Research.notes)
    return Effects(Write(Research.summary, f"{len(notes)} notes: " + "; ".join(notes)))


Join(wf, [research], summarize)
graph = wf.compile()


def main() -> None:
    outcome = Runtime(graph).run_sync(
        "research-1", {Research.topics: ["bees", "wasps", "ants"]}
    )
    print(outcome.get(Research.summary))


if __name__ == "__main__":
    main()
