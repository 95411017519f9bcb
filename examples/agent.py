"""A tool-calling support agent that asks before refunding, replayed from a cassette.

The prebuilt ``tool_calling_agent`` gets two tools: ``lookup_order`` may run freely
(it is on the ``AllowList``), ``refund_order`` needs a human's approval. The run
interrupts with a typed ``ToolApprovalRequired`` payload listing the pending calls;
resuming with ``ToolApproval(approved=True)`` runs the refund and the model writes
its answer. The trace (deterministic: stream events are buffered per task and
flushed in task order) and the answer are printed.

The model's side comes from ``examples/cassettes/agent.json``, so this runs offline
and prints the same thing every time. That cassette was recorded from a scripted
stand-in model (``python tests/models/test_agent_example.py`` regenerates it); to
record a real model instead, point ``OPENAI_BASE_URL`` (and ``OPENAI_API_KEY``, if
needed) at any OpenAI-compatible server and run
``HIVE_MODEL=<model> python examples/agent.py --record``.

Run it with ``python examples/agent.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import attrs

from hive_core import (
    Environment,
    InMemoryCheckpointStore,
    Outcome,
    RunOptions,
    Runtime,
)
from hive_core.events import Event, trace_to_builtins
from hive_core.models import Cassette, ModelClient, ToolRegistry
from hive_core.testing import SequentialIds
from hive_dsl import (
    AgentState,
    AllowList,
    ToolApproval,
    ToolApprovalRequired,
    tool_calling_agent,
)

CASSETTE = Path(__file__).parent / "cassettes" / "agent.json"
MODEL = os.environ.get("HIVE_MODEL", "gpt-4o-mini")
QUESTION = "My teapot from order 1042 arrived broken. Can I get my money back?"
SYSTEM_PROMPT = (
    "You are the support agent of a small tea shop. Look orders up before acting, "
    "refund the full price of broken items, and answer in one or two sentences."
)

ORDERS = {
    "1042": {"item": "teapot", "price_eur": 35.0, "status": "delivered"},
}

tools = ToolRegistry()


@tools.tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look up an order by id: its item, price in EUR and delivery status."""
    return ORDERS.get(order_id, {"error": f"no order {order_id}"})


@tools.tool
def refund_order(order_id: str, amount_eur: float) -> str:
    """Refund an amount in EUR for an order. Needs a human's approval."""
    if order_id not in ORDERS:
        return f"no order {order_id}"
    return f"refunded {amount_eur:.2f} EUR for order {order_id}"


graph = tool_calling_agent(
    model=MODEL,
    tools=tools,
    approval=AllowList(["lookup_order"]),
    system_prompt=SYSTEM_PROMPT,
)


@attrs.define
class AgentRun:
    """Both attempts of the run: their events, the interrupt and the outcome."""

    events: list[Event] = attrs.Factory(list)
    pending: ToolApprovalRequired | None = None
    outcome: Outcome | None = None

    @property
    def answer(self) -> str | None:
        return (
            None if self.outcome is None else self.outcome.get(AgentState.final_answer)
        )


async def run_agent(client: ModelClient) -> AgentRun:
    """Ask the question, approve the refund when asked, and collect everything.

    Fixed run ids (``SequentialIds``) make the message ids, and so every request,
    identical from run to run: that is what lets a cassette replay them.
    """
    runtime = Runtime(
        graph,
        environment=Environment(model=client),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    options = RunOptions(deterministic_token_streaming=True)
    result = AgentRun()
    handle = runtime.run("support-1", QUESTION, options)
    result.events += [ev async for ev in handle.events]
    first = await handle
    if first.interrupt is None:
        result.outcome = first
        return result
    payload = first.interrupt.payload
    if isinstance(payload, ToolApprovalRequired):
        result.pending = payload
    handle = runtime.resume(
        "support-1", first.interrupt.id, ToolApproval(True), options
    )
    result.events += [ev async for ev in handle.events]
    result.outcome = await handle
    return result


def _short(key: str, value: object) -> str:
    if key.endswith("_id") and isinstance(value, str) and len(value) > 12:
        value = value[:12] + "…"  # hex ids: the prefix is enough to tell them apart
    return repr(value)


def format_event(ev: dict[str, Any]) -> str:
    """One trace line: step/task position, kind, and the interesting fields."""
    where = ""
    if "step" in ev:
        where = f"s{ev['step']}" + (f"/t{ev['ordinal']}" if "ordinal" in ev else "")
    skip = {"kind", "index", "step", "ordinal", "task_id", "payload_hash"}
    fields = " ".join(f"{k}={_short(k, v)}" for k, v in ev.items() if k not in skip)
    return f"{where:>6} {ev['kind']} {fields}".rstrip()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--record" in args:
        from hive_core.models import OpenAICompatClient

        with Cassette(CASSETTE, mode="record") as tape:
            run = asyncio.run(run_agent(tape.client(OpenAICompatClient())))
    else:
        tape = Cassette(CASSETTE, mode="replay")
        run = asyncio.run(run_agent(tape.client()))
    for ev in trace_to_builtins(run.events):
        print(format_event(ev))
    if run.pending is not None:
        asked = ", ".join(f"{c.name}({c.arguments_json})" for c in run.pending.calls)
        print(f"\napproval asked for: {asked} -> approved")
    print(f"\nanswer: {run.answer}")


if __name__ == "__main__":
    main()
