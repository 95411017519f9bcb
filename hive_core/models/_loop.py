"""The bounded model/tool loop: call the model, run the tools it asks for, repeat.

Its rules (docs/agents.md, "The bounded tool loop"): a hard limit on model
calls (reaching it is an error, even right after tools ran), strict stream
validation, ``model_invocation_finished`` even when a call fails, tools run one at a
time in a chosen order, and every event goes through the node's ``emit`` so the
runtime can stream it live or buffer it deterministically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import attrs
import msgspec

from ..errors import InvalidRunOptionsError
from ..events import (
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    StreamEvent,
    ToolInvocationFinished,
    ToolInvocationStarted,
)
from ._chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Final,
    Token,
    ToolCall,
)
from ._client import ModelClient
from ._errors import (
    ModelStreamInvalidError,
    ModelToolLoopLimitError,
    ToolRegistryMissingError,
)
from ._tools import ToolProvider

__all__ = [
    "Emit",
    "ModelCallMode",
    "ToolCallOrder",
    "ToolLoopConfig",
    "ToolLoopResult",
    "call_model",
    "invoke_tool",
    "order_tool_calls",
    "run_tool_loop",
]

ModelCallMode = Literal["complete", "stream"]
ToolCallOrder = Literal["as_emitted", "by_name_then_id"]


class Emit(Protocol):
    """The signature of ``NodeInput.emit``: stream events go through it."""

    def __call__(self, event: StreamEvent, /) -> None: ...


def _no_emit(event: StreamEvent, /) -> None:
    return None


@attrs.frozen(kw_only=True)
class ToolLoopConfig:
    """How the loop calls the model and orders tool calls."""

    mode: ModelCallMode = "complete"
    """``"complete"``: one ``complete`` call per turn; ``"stream"``: stream tokens."""
    max_model_invocations: int = 8
    """Model calls allowed; needing one more is ``ModelToolLoopLimitError``."""
    tool_order: ToolCallOrder = "as_emitted"
    """``"by_name_then_id"`` sorts calls by name, id, then arguments."""


@attrs.frozen(kw_only=True)
class ToolLoopResult:
    """The last response and every message the loop appended, in order."""

    response: ChatResponse
    appended: tuple[ChatMessage, ...]
    model_invocations: int


async def call_model(
    request: ChatRequest,
    client: ModelClient,
    mode: ModelCallMode,
    emit: Emit | None = None,
) -> ChatResponse:
    """One model call wrapped in ``model_invocation_started``/``_finished``.

    In stream mode each token is emitted as ``model_token``; a token after the
    final chunk, a second final, or no final at all raise
    ``ModelStreamInvalidError``. The finished event is emitted even on failure.
    """
    out = emit if emit is not None else _no_emit
    out(ModelInvocationStarted(request.model))
    try:
        if mode == "complete":
            return await client.complete(request)
        final: ChatResponse | None = None
        async for chunk in client.stream(request):
            if isinstance(chunk, Token):
                if final is not None:
                    raise ModelStreamInvalidError(
                        "a token arrived after the final chunk", model=request.model
                    )
                out(ModelToken(chunk.text))
            elif isinstance(chunk, Final):
                if final is not None:
                    raise ModelStreamInvalidError(
                        "a second final chunk arrived", model=request.model
                    )
                final = chunk.response
            else:
                raise ModelStreamInvalidError(
                    f"a chunk of type {type(chunk).__name__} is neither Token nor "
                    "Final",
                    model=request.model,
                )
        if final is None:
            raise ModelStreamInvalidError(
                "the stream ended without a final chunk", model=request.model
            )
        return final
    finally:
        out(ModelInvocationFinished())


def order_tool_calls(calls: Sequence[ToolCall], order: ToolCallOrder) -> list[ToolCall]:
    """``as_emitted`` keeps the model's order; ``by_name_then_id`` sorts by
    (name, id, arguments_json) in code-point order."""
    if order == "by_name_then_id":
        return sorted(calls, key=lambda c: (c.name, c.id, c.arguments_json))
    return list(calls)


async def invoke_tool(
    call: ToolCall, tools: ToolProvider, emit: Emit | None = None
) -> ChatMessage:
    """Run one call between ``tool_invocation_started``/``_finished`` events and
    return its tool message (id ``tool:<call id>``). A failing tool emits
    ``ToolInvocationFinished(success=False)`` and re-raises."""
    out = emit if emit is not None else _no_emit
    out(ToolInvocationStarted(call.name))
    try:
        result = await tools.invoke(call)
    except BaseException:
        out(ToolInvocationFinished(call.name, False))
        raise
    out(ToolInvocationFinished(call.name, True))
    return ChatMessage.tool(call, result.content)


async def run_tool_loop(
    request: ChatRequest,
    client: ModelClient,
    tools: ToolProvider | None,
    config: ToolLoopConfig,
    emit: Emit | None = None,
    *,
    assistant_ids: Callable[[int], str] | None = None,
) -> ToolLoopResult:
    """Call the model, run the tools it asks for, and repeat until it answers.

    Each iteration: fail with ``ModelToolLoopLimitError`` if the model was already
    called ``max_model_invocations`` times; call it with the whole conversation and
    the same tool list; append its message; return if it asked for no tools;
    otherwise run the calls sequentially (``ToolRegistryMissingError`` without a
    registry) and append one tool message per call.

    Args:
        request: The first request; later ones add the appended messages.
        client: The model.
        tools: Runs the calls; only needed if the model asks for tools.
        config: Call mode, the invocation bound and the tool order.
        emit: Usually ``node_input.emit``; ``None`` emits nothing.
        assistant_ids: If given, the n-th assistant message (from 0) gets id
            ``assistant_ids(n)`` instead of the client's, e.g. an HMSG1 id.

    Raises:
        InvalidRunOptionsError: ``max_model_invocations < 1``.
        ModelToolLoopLimitError: the bound was reached.
        ModelStreamInvalidError: a stream broke its contract.
        ToolRegistryMissingError: tools were asked for and ``tools`` is ``None``.
    """
    if config.max_model_invocations < 1:
        raise InvalidRunOptionsError(
            f"max_model_invocations must be at least 1, got "
            f"{config.max_model_invocations}",
            option="max_model_invocations",
        )
    conversation = list(request.messages)
    appended: list[ChatMessage] = []
    invocations = 0
    while True:
        if invocations >= config.max_model_invocations:
            raise ModelToolLoopLimitError(config.max_model_invocations)
        turn = invocations
        invocations += 1
        current = ChatRequest(
            model=request.model,
            messages=tuple(conversation),
            tools=request.tools,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
        )
        response = await call_model(current, client, config.mode, emit)
        message = response.message
        if assistant_ids is not None:
            message = _with_id(message, assistant_ids(turn))
            response = ChatResponse(
                message=message, finish_reason=response.finish_reason
            )
        conversation.append(message)
        appended.append(message)
        if not message.tool_calls:
            return ToolLoopResult(
                response=response,
                appended=tuple(appended),
                model_invocations=invocations,
            )
        if tools is None:
            raise ToolRegistryMissingError(
                tool_names=tuple(c.name for c in message.tool_calls)
            )
        for call in order_tool_calls(message.tool_calls, config.tool_order):
            tool_message = await invoke_tool(call, tools, emit)
            conversation.append(tool_message)
            appended.append(tool_message)


def _with_id(message: ChatMessage, new_id: str) -> ChatMessage:
    return msgspec.structs.replace(message, id=new_id)
