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

from .._observe import current_task
from ..errors import InvalidRunOptionsError
from ..events import (
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    StreamEvent,
    ToolInvocationFinished,
    ToolInvocationStarted,
)
from ._call_context import current_emit
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
from ._tool_errors import ToolErrors, check_tool_errors, tool_error_text
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
    tool_errors: ToolErrors = attrs.field(default="raise")
    """A failing call: ``"raise"`` ends the loop with the error, ``"return"`` (or a
    function ``(call, error) -> str``) answers the call with the error's text."""

    @tool_errors.validator
    def _check_tool_errors(self, _attribute: object, value: object) -> None:
        check_tool_errors(value, where="ToolLoopConfig")


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
    observed = current_task.get()
    if observed is None or getattr(client, "observes_itself", False):
        return await _call_model(request, client, mode, emit)
    obs = observed.observer
    call = obs.model_call_started(observed.scope, provider_name(client), request)
    try:
        response = await _call_model(request, client, mode, emit)
    except BaseException as exc:
        obs.model_call_ended(call, None, exc)
        raise
    obs.model_call_ended(call, response, None)
    return response


def provider_name(client: object) -> str:
    """A client's ``provider`` attribute, else its class name (a bounded label)."""
    name = getattr(client, "provider", None)
    return name if isinstance(name, str) and name else type(client).__name__


async def _call_model(
    request: ChatRequest,
    client: ModelClient,
    mode: ModelCallMode,
    emit: Emit | None,
) -> ChatResponse:
    out = emit if emit is not None else _no_emit
    out(ModelInvocationStarted(request.model))
    token = current_emit.set(emit) if emit is not None else None
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
        if token is not None:
            current_emit.reset(token)
        out(ModelInvocationFinished())


def order_tool_calls(calls: Sequence[ToolCall], order: ToolCallOrder) -> list[ToolCall]:
    """``as_emitted`` keeps the model's order; ``by_name_then_id`` sorts by
    (name, id, arguments_json) in code-point order."""
    if order == "by_name_then_id":
        return sorted(calls, key=lambda c: (c.name, c.id, c.arguments_json))
    return list(calls)


async def invoke_tool(
    call: ToolCall,
    tools: ToolProvider,
    emit: Emit | None = None,
    *,
    on_error: ToolErrors = "raise",
) -> ChatMessage:
    """Run one call between ``tool_invocation_started``/``_finished`` events and
    return its tool message (id ``tool:<call id>``).

    A failing call (the tool raised, its arguments are invalid, or no tool has its
    name) emits ``ToolInvocationFinished(success=False)``; then ``on_error`` decides:
    ``"raise"`` re-raises, ``"return"`` or a handler make the error the tool
    message (``docs/agents.md#tool-errors-the-model-can-see``).
    """
    out = emit if emit is not None else _no_emit
    observed = current_task.get()
    scope = (
        None
        if observed is None
        else observed.observer.tool_call_started(observed.scope, call)
    )
    out(ToolInvocationStarted(call.name))
    try:
        result = await tools.invoke(call)
    except Exception as exc:
        out(ToolInvocationFinished(call.name, False))
        if observed is not None:
            observed.observer.tool_call_ended(scope, None, exc)
        if on_error == "raise":
            raise
        return ChatMessage.tool(call, tool_error_text(on_error, call, exc))
    except BaseException as exc:
        out(ToolInvocationFinished(call.name, False))
        if observed is not None:
            observed.observer.tool_call_ended(scope, None, exc)
        raise
    out(ToolInvocationFinished(call.name, True))
    if observed is not None:
        observed.observer.tool_call_ended(scope, result.content, None)
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
    registry) and append one tool message per call (a failed call's message is its
    error under ``config.tool_errors="return"``).

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
            tool_message = await invoke_tool(
                call, tools, emit, on_error=config.tool_errors
            )
            conversation.append(tool_message)
            appended.append(tool_message)


def _with_id(message: ChatMessage, new_id: str) -> ChatMessage:
    return msgspec.structs.replace(message, id=new_id)
