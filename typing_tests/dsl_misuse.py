"""Misuse the type checker must keep rejecting (mypy only, never run).

Every line below is an error; ``warn_unused_ignores`` (part of ``--strict``) fails
the check if one of them ever stops being one.
"""

from __future__ import annotations

from hive_core import NodeInput, Schema, channel, reducers
from hive_dsl import Branch, Effects, GoTo, Workflow, WorkflowPatch, Write
from hive_dsl.testing import node_input


class S(Schema):
    count = channel(int)
    maybe = channel(int | None)
    log = channel(list[str], reducer=reducers.append, update="multi")


wf = Workflow(S)


@wf.node(start=True)
def step(ctx: NodeInput) -> Effects:
    return Effects()


# a value of the wrong type for the channel ("cannot infer T": no T fits both)
Write(S.count, "three")  # type: ignore[misc]
Effects().write(S.count, "three")  # type: ignore[misc]
Write(S.log, [1, 2])  # type: ignore[misc]
Write(S.count, [1])  # type: ignore[misc]

# reading gives the channel's type
text: str = node_input(S).store.get(S.count)  # type: ignore[assignment]

# a node must return effects, a NodeOutput or None
wf.node(lambda ctx: 42)  # type: ignore[type-var]


@wf.node  # type: ignore[type-var]
def wrong_return(ctx: NodeInput) -> int:
    return 1


# not an effect; not a node
Effects(42)  # type: ignore[arg-type]
GoTo(42)  # type: ignore[arg-type]

# calling a NodeDef checks its parameters
step()  # type: ignore[call-arg]

# a NodeDef's return type is kept
not_none: None = step(node_input(S))  # type: ignore[assignment]

# NodeDef is frozen
step.id = "other"  # type: ignore[misc]

# options are keyword-only
Branch(wf, step)  # type: ignore[call-arg]
wf.compile("v1")  # type: ignore[call-arg]
WorkflowPatch().insert_probe(step, step, "x")  # type: ignore[call-arg]

# optional channels: the value type is the union, no wider
Write(S.maybe, "three")  # type: ignore[misc]
channel(int | None, initial="x")  # type: ignore[arg-type]
