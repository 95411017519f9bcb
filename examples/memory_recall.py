"""A node that remembers and recalls: BM25 memory reached through the environment.

``remember`` stores each incoming note in the user's namespace; ``answer`` recalls the
notes that best match the question (exact BM25, ties by id) and writes them out. The
store is the runtime's ``Environment.memory_store``, so swapping the in-memory store
for ``SQLiteMemoryStore("memory.db")`` makes the notes persistent without touching
the nodes.

Run it with ``python examples/memory_recall.py``.
"""

from __future__ import annotations

from hive_core import (
    Environment,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.memory import InMemoryMemoryStore, MemoryStore

USER = ("users", "ada")


class Notes(Schema):
    incoming = channel(list[str], reducer=reducers.append, update="multi")
    question = channel(str)
    recalled = channel(list[str], reducer=reducers.append, update="multi")


def memory(ctx: NodeInput) -> MemoryStore:
    store = ctx.environment.memory_store
    if not isinstance(store, MemoryStore):
        raise TypeError("this graph needs Environment(memory_store=...)")
    return store


async def remember(ctx: NodeInput) -> NodeOutput:
    store = memory(ctx)
    for i, text in enumerate(ctx.store.get(Notes.incoming)):
        await store.remember(USER, f"note-{i}", text, {"source": "chat"})
    return NodeOutput()


async def answer(ctx: NodeInput) -> NodeOutput:
    hits = await memory(ctx).recall(USER, ctx.store.get(Notes.question), limit=2)
    lines = [f"{hit.score:.3f}  {hit.item.text}" for hit in hits]
    return NodeOutput(writes=[Write(Notes.recalled, lines)])


def build() -> Runtime:
    graph = (
        GraphBuilder(Notes, start=["remember"])
        .add_node("remember", remember)
        .add_node("answer", answer)
        .add_edge("remember", "answer")
        .compile()
    )
    return Runtime(graph, environment=Environment(memory_store=InMemoryMemoryStore()))


def main() -> None:
    runtime = build()
    outcome = runtime.run_sync(
        "ada",
        {
            Notes.incoming: [
                "Ada prefers tea over coffee in the morning.",
                "The quarterly report is due on Friday.",
                "Ada's cat is called Babbage; he likes tea towels.",
                "Coffee machine on floor 3 is broken.",
            ],
            Notes.question: "what does ada drink, tea or coffee?",
        },
    )
    print("Recalled for:", outcome.get(Notes.question))
    for line in outcome.get(Notes.recalled):
        print("  ", line)


if __name__ == "__main__":
    main()
