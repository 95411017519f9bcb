"""Subgraphs: a whole workflow as one node of another.

The child workflow outlines a text; the parent maps its `article` into the child's
input and the child's `outline` back into its own channels. The child runs to the
end inside the node, on its own thread; its events stream through the parent's
trace as ``subgraph_event``s namespaced by the node (``docs/dsl.md#subgraphs``).
Run it with ``python examples/subgraph.py``.
"""

from __future__ import annotations

from hive_core import NodeInput, Runtime, Schema, channel
from hive_dsl import Chain, Effects, Subgraph, Workflow, Write


class Doc(Schema):
    text = channel(str)
    sentences = channel(list[str])
    outline = channel(str)


child = Workflow(Doc, name="outline")


@child.node(start=True)
def split(ctx: NodeInput) -> Effects:
    parts = [s.strip() for s in ctx.store.get(Doc.text).split(".") if s.strip()]
    return Effects(Write(Doc.sentences, parts))


@child.node
def number(ctx: NodeInput) -> Effects:
    sentences = ctx.store.get(Doc.sentences)
    lines = [f"{i}. {s}" for i, s in enumerate(sentences, 1)]
    return Effects(Write(Doc.outline, "\n".join(lines)))


Chain(child, split, number)


class Article(Schema):
    article = channel(str)
    outline = channel(str)
    size = channel(int)


wf = Workflow(Article)


@wf.node(start=True)
def fetch(ctx: NodeInput) -> Effects:
    return Effects(Write(Article.article, "Bees dance. Ants march. Wasps build."))


outline = wf.node(
    Subgraph(
        child,
        input=lambda view: {Doc.text: view.get(Article.article)},
        output=lambda store: [Write(Article.outline, store.get(Doc.outline))],
    ),
    node_id="outline",
)


@wf.node
def measure(ctx: NodeInput) -> Effects:
    return Effects(
        Write(Article.size, len(ctx.store.get(Article.outline).splitlines()))
    )


Chain(wf, fetch, outline, measure)
graph = wf.compile()


def main() -> None:
    outcome = Runtime(graph).run_sync("article-1")
    print(outcome.get(Article.outline))
    print("lines:", outcome.get(Article.size))


if __name__ == "__main__":
    main()
