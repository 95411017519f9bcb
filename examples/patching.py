"""Patching a compiled graph: insert a probe and replace a node, then diff.

`WorkflowPatch` rebuilds the graph from its public IR; the diff renders as Mermaid
comments. The structure changed (a probe), so the graph version changes too.
Run it with ``python examples/patching.py``.
"""

from __future__ import annotations

from hive_core import NodeInput, Runtime, Schema, channel, reducers
from hive_dsl import Chain, Effects, Workflow, WorkflowPatch, Write


class Post(Schema):
    draft = channel(str)
    verdict = channel(str)
    audit = channel(list[str], reducer=reducers.append, update="multi")


wf = Workflow(Post)


@wf.node(start=True)
def write(ctx: NodeInput) -> Effects:
    return Effects(Write(Post.draft, "Bees are great. Bees are busy."))


@wf.node
def review(ctx: NodeInput) -> Effects:
    return Effects(Write(Post.verdict, "ok"))


@wf.node
def publish(ctx: NodeInput) -> None:
    return None


Chain(wf, write, review, publish)
graph = wf.compile()


def measure(ctx: NodeInput) -> Effects:
    """The probe: records what flows between `write` and `review`."""
    return Effects(
        Write(Post.audit, [f"draft has {len(ctx.store.get(Post.draft))} chars"])
    )


def strict_review(ctx: NodeInput) -> Effects:
    repeated = ctx.store.get(Post.draft).count("Bees") > 1
    return Effects(Write(Post.verdict, "repetitive" if repeated else "ok"))


patch = (
    WorkflowPatch()
    .insert_probe(measure, between=write, and_=review)
    .replace_node(review, strict_review)
)
patched, diff = patch.apply(graph)


def main() -> None:
    print(diff.to_mermaid())
    print("version changed:", patched.graph_version != graph.graph_version)
    before = Runtime(graph).run_sync("post-1")
    after = Runtime(patched).run_sync("post-1")
    print("before:", before.get(Post.verdict), before.get(Post.audit))
    print("after: ", after.get(Post.verdict), after.get(Post.audit))


if __name__ == "__main__":
    main()
