"""Human approval: interrupt the run, then resume it with a typed answer.

`review` asks for an `Approval` and goes to itself, so that it runs again when the
run is resumed and reads the answer from ``ctx.resume``. The schema declares the
resume payload type: a plain dict is converted to it, a wrong one is rejected before
anything runs. Interrupts need a checkpoint store. Run it with
``python examples/approval.py``.
"""

from __future__ import annotations

import msgspec

from hive_core import InMemoryCheckpointStore, NodeInput, Runtime, Schema, channel
from hive_dsl import Effects, GoTo, Interrupt, Workflow, Write


class Approval(msgspec.Struct, frozen=True):
    approved: bool
    note: str


class Expense(Schema):
    resume_payload = Approval
    amount = channel(int)
    status = channel(str)
    note = channel(str)


wf = Workflow(Expense)


@wf.node(start=True)
def submit(ctx: NodeInput) -> Effects:
    return Effects(Write(Expense.status, "submitted"))


@wf.node
def review(ctx: NodeInput) -> Effects:
    resume = ctx.resume
    if resume is None or resume.node != ctx.node_id:
        amount = ctx.store.get(Expense.amount)
        return Effects(Interrupt(f"Approve an expense of {amount} EUR?"), GoTo(review))
    answer = resume.payload
    if not isinstance(answer, Approval):  # converted by the runtime; narrows the type
        raise TypeError(f"expected Approval, got {type(answer).__name__}")
    status = "approved" if answer.approved else "rejected"
    return Effects(Write(Expense.status, status), Write(Expense.note, answer.note))


wf.edge(submit, review)
graph = wf.compile()


def main() -> None:
    runtime = Runtime(graph, checkpoint_store=InMemoryCheckpointStore())
    first = runtime.run_sync("expense-42", {Expense.amount: 120})
    assert first.interrupt is not None
    print(first.status, "-", first.interrupt.payload)

    answer = {"approved": True, "note": "within budget"}
    final = runtime.resume_sync("expense-42", first.interrupt.id, answer)
    print(final.status, "-", final.get(Expense.status), "-", final.get(Expense.note))


if __name__ == "__main__":
    main()
