"""Branching: a router after `classify` picks the next node from the state.

Cases are tried in order and the first whose condition holds wins; the default
catches the rest. Run it with ``python examples/branching.py``.
"""

from __future__ import annotations

from hive_core import NodeInput, Runtime, Schema, channel
from hive_dsl import Branch, Effects, Workflow, Write


class Ticket(Schema):
    text = channel(str)
    category = channel(str)
    reply = channel(str)


wf = Workflow(Ticket)


@wf.node(start=True)
def classify(ctx: NodeInput) -> Effects:
    text = ctx.store.get(Ticket.text).lower()
    if "down" in text:
        category = "urgent"
    elif "invoice" in text:
        category = "billing"
    else:
        category = "general"
    return Effects(Write(Ticket.category, category))


@wf.node
def escalate(ctx: NodeInput) -> Effects:
    return Effects(Write(Ticket.reply, "Paging the on-call engineer."))


@wf.node
def billing(ctx: NodeInput) -> Effects:
    return Effects(Write(Ticket.reply, "Forwarded to accounts."))


@wf.node
def respond(ctx: NodeInput) -> Effects:
    return Effects(Write(Ticket.reply, "Thanks, we will get back to you."))


with Branch(wf, after=classify) as branch:
    branch.case(
        "urgent", when=lambda view: view.get(Ticket.category) == "urgent", then=escalate
    )
    branch.case(
        "billing",
        when=lambda view: view.get(Ticket.category) == "billing",
        then=billing,
    )
    branch.default(then=respond)

graph = wf.compile()


def main() -> None:
    runtime = Runtime(graph)
    tickets = ["The site is down!", "Wrong invoice total", "How do I export?"]
    for i, text in enumerate(tickets):
        outcome = runtime.run_sync(f"ticket-{i}", {Ticket.text: text})
        print(
            f"{text!r} -> {outcome.get(Ticket.category)}: {outcome.get(Ticket.reply)}"
        )


if __name__ == "__main__":
    main()
