"""Hello, Hive: two decorated nodes joined by an edge.

`greet` reads the run's input and writes a greeting; `shout` follows it along the
static edge and rewrites it in capitals. Run it with ``python examples/hello.py``.
"""

from __future__ import annotations

from hive_core import NodeInput, Runtime, Schema, channel
from hive_dsl import Effects, Workflow, Write


class Greeting(Schema):
    name = channel(str)
    message = channel(str)


wf = Workflow(Greeting)


@wf.node(start=True)
def greet(ctx: NodeInput) -> Effects:
    name = ctx.store.get(Greeting.name)
    return Effects(Write(Greeting.message, f"Hello, {name}!"))


@wf.node
def shout(ctx: NodeInput) -> Effects:
    return Effects(Write(Greeting.message, ctx.store.get(Greeting.message).upper()))


wf.edge(greet, shout)
graph = wf.compile()


def main() -> None:
    outcome = Runtime(graph).run_sync("hello-1", {Greeting.name: "Ada"})
    print(outcome.status)
    print(outcome.get(Greeting.message))


if __name__ == "__main__":
    main()
