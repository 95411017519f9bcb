"""A small research workflow: plan two queries, search them in parallel, write an
answer, and ask a person before publishing it."""

from __future__ import annotations

from typing import Protocol, cast

from hive_core import (
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)


class Research(Schema):
    question = channel(str)
    query = channel(str, scope="task_local")
    findings = channel(list[str], reducer=reducers.append, update="multi")
    answer = channel(str)
    verdict = channel(str)


class SearchClient(Protocol):
    async def search(self, query: str) -> list[str]: ...


def plan(node: NodeInput) -> NodeOutput:
    question = node.store.get(Research.question)
    queries = [f"{question} history", f"{question} today"]
    return NodeOutput(spawn=[Spawn("search", {Research.query: q}) for q in queries])


async def search(node: NodeInput) -> NodeOutput:
    query = node.store.get(Research.query)
    client = cast(SearchClient, node.environment.extras["search"])
    hits = await client.search(query)
    return NodeOutput(writes=[Write(Research.findings, [f"{query}: {hits[0]}"])])


def write(node: NodeInput) -> NodeOutput:
    findings = node.store.get(Research.findings)
    return NodeOutput(
        writes=[Write(Research.answer, " / ".join(findings))],
        interrupt={"question": "Publish this answer?"},
    )


def publish(node: NodeInput) -> NodeOutput:
    verdict = str(node.resume.payload) if node.resume is not None else "unreviewed"
    return NodeOutput(writes=[Write(Research.verdict, verdict)])


graph = (
    GraphBuilder(Research, start=["plan"])
    .add_node("plan", plan)
    .add_node("search", search)
    .add_node("write", write)
    .add_node("publish", publish)
    .add_edge("search", "write")
    .add_edge("write", "publish")
    .compile()
)
