"""Graphs the HTTP server tests run (also loaded by ``hive`` in subprocesses).

``steps`` counts one superstep per step up to the input's ``target`` (streaming a
token and custom data each step); a thread
named in ``GATES`` stops at step ``hold_step`` until the test opens its gate (after
``REACHED`` is set: the test knows the run is there). ``approval`` asks for a typed
``Decision`` and records it.
"""

from __future__ import annotations

import asyncio
import threading

import msgspec

from hive_core import NodeInput, Schema, channel, reducers
from hive_core.events import CustomEvent, ModelToken
from hive_dsl import Effects, GoTo, Interrupt, Workflow, Write

GATES: dict[str, threading.Event] = {}
REACHED: dict[str, threading.Event] = {}


class Steps(Schema):
    target = channel(int, initial=lambda: 5)
    hold_step = channel(int, initial=lambda: -1)
    count = channel(int, initial=lambda: 0)
    seen = channel(list[int], reducer=reducers.append, initial=list)


_st = Workflow(Steps)


@_st.node(start=True)
async def tick(ctx: NodeInput) -> Effects:
    gate = GATES.get(ctx.thread_id)
    if gate is not None and ctx.step == ctx.store.get(Steps.hold_step):
        REACHED[ctx.thread_id].set()
        while not gate.is_set():  # cancellable, unlike a thread's wait
            await asyncio.sleep(0.002)
    count = ctx.store.get(Steps.count) + 1
    ctx.emit(ModelToken(f"t{count}"))  # the messages-tuple mode's tokens
    ctx.emit(CustomEvent({"count": count}))  # the custom mode's data
    writes = (Write(Steps.count, count), Write(Steps.seen, [count]))
    if count < ctx.store.get(Steps.target):
        return Effects(*writes, GoTo(tick))
    return Effects(*writes)


steps = _st.compile()


class Decision(msgspec.Struct, frozen=True):
    approved: bool
    note: str = ""


class Expense(Schema):
    resume_payload = Decision
    amount = channel(int, initial=lambda: 0)
    status = channel(str, initial=lambda: "new")


_ap = Workflow(Expense)


@_ap.node(start=True)
def review(ctx: NodeInput) -> Effects:
    resume = ctx.resume
    if resume is None or resume.node != ctx.node_id:
        return Effects(
            Interrupt(f"approve {ctx.store.get(Expense.amount)}?"), GoTo(review)
        )
    decision = resume.payload
    assert isinstance(decision, Decision)
    verdict = "approved" if decision.approved else "rejected"
    return Effects(Write(Expense.status, f"{verdict}: {decision.note}"))


approval = _ap.compile()

GRAPHS = {"steps": steps, "approval": approval}
