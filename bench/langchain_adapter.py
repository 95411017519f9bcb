"""Per-call overhead of ``LangChainModelClient`` over calling the LangChain model
directly.

Usage::

    python bench/langchain_adapter.py           # about 10 s
    python bench/langchain_adapter.py --quick   # about 2 s

Both sides call the same ``FakeMessagesListChatModel`` (with ``bind_tools``, so a
request with tools is bound, and cached, as a real model would be) in one event
loop: "direct" is ``await bound.ainvoke(langchain_messages)`` and ``astream``;
"adapter" is ``await client.complete(request)`` and ``client.stream(request)``,
which add the message conversion both ways, the tool-call and usage mapping and
the derived reply id. Each figure is the fastest of several interleaved rounds
(the least disturbed by other processes); the adapter's own work is also timed
alone (request conversion plus reply mapping, with the message cache warm as in a
running conversation, and cold). Results go to docs/agents.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from hive_core.models import (
    ChatMessage,
    ChatRequest,
    LangChainModelClient,
    LangChainTools,
)
from hive_core.models._langchain_messages import chat_response, to_langchain_messages


class Fake(FakeMessagesListChatModel):
    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def conversation(n: int) -> tuple[ChatMessage, ...]:
    out = [ChatMessage.system("s", "You add numbers.")]
    for i in range(n // 2):
        out.append(ChatMessage.user(f"u{i}", f"What is {i} + {i}?"))
        out.append(ChatMessage.assistant(f"a{i}", f"It is {2 * i}."))
    return tuple(out[:n])


async def per_call_us(fn: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        await fn()
    return (time.perf_counter_ns() - start) / calls / 1000


async def measure(n: int, calls: int, repeats: int) -> dict[str, Any]:
    reply = AIMessage(
        content="It is 5.",
        tool_calls=[{"id": "c1", "name": "add", "args": {"a": 2, "b": 3}}],
        usage_metadata={"input_tokens": 10, "output_tokens": 4, "total_tokens": 14},
    )
    fake = Fake(responses=[reply])
    client = LangChainModelClient(fake)
    request = ChatRequest(
        model="fake",
        messages=conversation(n),
        tools=LangChainTools([add]).definitions(),
    )
    lc_messages = to_langchain_messages(request.messages)

    async def direct() -> object:
        return await fake.ainvoke(lc_messages)

    async def adapter() -> object:
        return await client.complete(request)

    async def direct_stream() -> object:
        return [c async for c in fake.astream(lc_messages)]

    async def adapter_stream() -> object:
        return [c async for c in client.stream(request)]

    async def own_work() -> object:  # what the adapter adds, without LangChain
        client._inputs(request)
        return chat_response(request, reply)

    async def own_work_cold() -> object:  # the same, no message converted yet
        LangChainModelClient(fake)._inputs(request)
        return chat_response(request, reply)

    for fn in (direct, adapter, direct_stream, adapter_stream):  # warm up
        await per_call_us(fn, calls // 4)
    rounds: dict[str, list[float]] = {
        k: [] for k in ("d", "a", "ds", "as", "own", "cold")
    }
    for _ in range(repeats):  # interleaved, so drift hits both sides alike
        rounds["d"].append(await per_call_us(direct, calls))
        rounds["a"].append(await per_call_us(adapter, calls))
        rounds["ds"].append(await per_call_us(direct_stream, calls))
        rounds["as"].append(await per_call_us(adapter_stream, calls))
        rounds["own"].append(await per_call_us(own_work, calls))
        rounds["cold"].append(await per_call_us(own_work_cold, calls))
    med = {k: min(v) for k, v in rounds.items()}  # least disturbed round
    return {
        "messages": n,
        "direct_us": round(med["d"], 1),
        "adapter_us": round(med["a"], 1),
        "overhead_us": round(med["a"] - med["d"], 1),
        "direct_stream_us": round(med["ds"], 1),
        "adapter_stream_us": round(med["as"], 1),
        "stream_overhead_us": round(med["as"] - med["ds"], 1),
        "adapter_own_work_us": round(med["own"], 1),
        "adapter_own_work_cold_us": round(med["cold"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls, repeats = (100, 3) if args.quick else (400, 9)
    for n in (2, 20):
        print(json.dumps(asyncio.run(measure(n, calls, repeats))))


if __name__ == "__main__":
    main()
