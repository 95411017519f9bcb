"""Graphs the service tests run, in-process and in worker processes alike.

``counter`` runs one superstep per count until ``count`` reaches the input's
``target``. Its node appends ``<thread> <step>`` to the file named by
``HIVE_TEST_STEP_LOG`` (which steps ran, and how often) and, while the file named by
``HIVE_TEST_HOLD`` exists, waits at step ``HIVE_TEST_HOLD_STEP`` (a barrier the
tests open by deleting the file), after writing ``<hold>.<thread>.reached``. ``approval`` interrupts and resumes; ``flaky``
fails until its thread has failed ``fail_times`` times (counted in a file).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from hive_core import NodeInput, Schema, channel, reducers
from hive_dsl import Effects, GoTo, Interrupt, Workflow, Write


class Counter(Schema):
    target = channel(int, initial=lambda: 0)
    count = channel(int, initial=lambda: 0)
    seen = channel(list[int], reducer=reducers.append, initial=list)


_wf = Workflow(Counter)


async def _barrier(thread: str, step: int) -> None:
    hold = os.environ.get("HIVE_TEST_HOLD")
    if hold is None or step != int(os.environ.get("HIVE_TEST_HOLD_STEP", "-1")):
        return
    reached = Path(f"{hold}.{thread}.reached")
    reached.write_text(f"{os.getpid()}\n")
    while Path(hold).exists():
        await asyncio.sleep(0.005)


@_wf.node(start=True)
async def tick(ctx: NodeInput) -> Effects:
    await _barrier(ctx.thread_id, ctx.step)
    log = os.environ.get("HIVE_TEST_STEP_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{ctx.thread_id} {ctx.step} {os.getpid()}\n")
    count = ctx.store.get(Counter.count) + 1
    writes = (Write(Counter.count, count), Write(Counter.seen, [count]))
    if count < ctx.store.get(Counter.target):
        return Effects(*writes, GoTo(tick))
    return Effects(*writes)


counter = _wf.compile()


class Expense(Schema):
    resume_payload = str
    amount = channel(int, initial=lambda: 0)
    status = channel(str, initial=lambda: "")


_ap = Workflow(Expense)


@_ap.node(start=True)
def review(ctx: NodeInput) -> Effects:
    resume = ctx.resume
    if resume is None or resume.node != ctx.node_id:
        return Effects(
            Interrupt(f"approve {ctx.store.get(Expense.amount)}?"), GoTo(review)
        )
    return Effects(Write(Expense.status, str(resume.payload)))


approval = _ap.compile()


class Flaky(Schema):
    fail_times = channel(int, initial=lambda: 0)
    done = channel(bool, initial=lambda: False)


_fl = Workflow(Flaky)


@_fl.node(start=True)
def attempt(ctx: NodeInput) -> Effects:
    counter_file = Path(os.environ["HIVE_TEST_FAILS"]) / ctx.thread_id
    failed = int(counter_file.read_text()) if counter_file.exists() else 0
    if failed < ctx.store.get(Flaky.fail_times):
        counter_file.write_text(str(failed + 1))
        raise RuntimeError(f"planned failure {failed + 1}")
    return Effects(Write(Flaky.done, True))


flaky = _fl.compile()

GRAPHS = {"counter": counter, "approval": approval, "flaky": flaky}
