"""Graphs the ``hive`` command-line tests name as ``cli_app:GRAPHS``."""

from __future__ import annotations

from hive_core import NodeInput, Schema, channel, reducers
from hive_core.events import ModelToken
from hive_dsl import Effects, GoTo, Interrupt, Workflow, Write


class Steps(Schema):
    target = channel(int, initial=lambda: 3)
    count = channel(int, initial=lambda: 0)
    seen = channel(list[int], reducer=reducers.append, initial=list)


_st = Workflow(Steps)


@_st.node(start=True)
def tick(ctx: NodeInput) -> Effects:
    count = ctx.store.get(Steps.count) + 1
    ctx.emit(ModelToken(f"tok{count} "))  # shown live under a terminal
    writes = (Write(Steps.count, count), Write(Steps.seen, [count]))
    if count < ctx.store.get(Steps.target):
        return Effects(*writes, GoTo(tick))
    return Effects(*writes)


class Expense(Schema):
    resume_payload = bool
    amount = channel(int, initial=lambda: 0)
    approved = channel(bool, initial=lambda: False)


_ap = Workflow(Expense)


@_ap.node(start=True)
def review(ctx: NodeInput) -> Effects:
    resume = ctx.resume
    if resume is None or resume.node != ctx.node_id:
        return Effects(
            Interrupt(f"approve {ctx.store.get(Expense.amount)}?"), GoTo(review)
        )
    return Effects(Write(Expense.approved, bool(resume.payload)))


class Boom(Schema):
    x = channel(int, initial=lambda: 0)


_bm = Workflow(Boom)


@_bm.node(start=True)
def explode(ctx: NodeInput) -> Effects:
    raise RuntimeError("planned failure")


steps = _st.compile()
GRAPHS = {"steps": steps, "approval": _ap.compile(), "boom": _bm.compile()}
