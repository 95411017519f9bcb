"""Converting messages, tool schemas and replies between Hive and LangChain.

This module imports ``langchain_core`` at the top, so only ``_langchain`` (when an
adapter is used) and the messages reducer (when it meets a LangChain message, which
means LangChain is already imported) import it. See docs/agents.md, "Coming from
LangChain".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages import ChatMessage as LCChatMessage

from ._chat import (
    REMOVE_ALL_ID,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ToolCall,
    ToolDefinition,
    Usage,
)
from ._errors import MessageFormatError
from ._message_parts import _content, _role, coerce_tool_call

__all__ = [
    "chat_response",
    "text_of",
    "from_langchain_message",
    "to_langchain_message",
    "to_langchain_messages",
    "to_langchain_tool",
]

_NO_ID = "\x00"
"""Marks a reply's tool call that came without an id, until it gets one."""
_TYPES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "HumanMessageChunk": "user",
    "AIMessageChunk": "assistant",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
}


def text_of(content: object) -> str:
    """The text of a reply's content: a ``str``, or the text blocks of a list
    (providers put tool-use and reasoning blocks there too; those are not text and
    the tool calls arrive in ``tool_calls``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str)
            or (isinstance(b, Mapping) and b.get("type") == "text")
        )
    return ""


def _tool_calls(msg: AIMessage, index: int | None, fill: str) -> tuple[ToolCall, ...]:
    """Parsed calls first, then the ones LangChain could not parse, with their raw
    arguments, so the tool registry reports them as invalid arguments. A call
    without an id gets ``fill`` (when not ``""``) plus its position."""
    raw: list[dict[str, Any]] = [
        {"id": c.get("id"), "name": c.get("name"), "args": c.get("args")}
        for c in msg.tool_calls
    ]
    raw += [
        {"id": c.get("id"), "name": c.get("name"), "args": c.get("args") or ""}
        for c in msg.invalid_tool_calls
    ]
    if fill:
        for i, call in enumerate(raw):
            call["id"] = call["id"] or f"{fill}{i}"
    return tuple(coerce_tool_call(c, msg, index) for c in raw)


def from_langchain_message(
    msg: object, *, index: int | None = None, call_ids: str = ""
) -> ChatMessage:
    """A LangChain message as a ``ChatMessage``; ``id`` is ``""`` when LangChain
    has none (the reducer then derives one). ``RemoveMessage`` becomes
    ``ChatMessage.remove`` (or ``remove_all`` for LangGraph's ``__remove_all__``)."""
    if not isinstance(msg, BaseMessage):
        raise MessageFormatError(
            repr(msg), index=index, reason="not a LangChain BaseMessage"
        )
    if isinstance(msg, RemoveMessage):
        if msg.id == REMOVE_ALL_ID:
            return ChatMessage.remove_all()
        return ChatMessage.remove(msg.id or "")
    if isinstance(msg, LCChatMessage):
        role = _role(msg.role, msg, index)
    else:
        kind = _TYPES.get(msg.type)
        if kind is None:
            raise MessageFormatError(
                repr(msg),
                index=index,
                reason=f"LangChain message type {msg.type!r} has no Hive role",
            )
        role = _role(kind, msg, index)
    return ChatMessage(
        id=msg.id or "",
        role=role,
        content=text_of(msg.content)
        if isinstance(msg, AIMessage)
        else _content(msg.content, msg, index),
        name=msg.name,
        tool_call_id=msg.tool_call_id if isinstance(msg, ToolMessage) else None,
        tool_calls=_tool_calls(msg, index, call_ids)
        if isinstance(msg, AIMessage)
        else (),
    )


def _args(call: ToolCall) -> dict[str, Any] | None:
    try:
        value = json.loads(call.arguments_json or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def to_langchain_message(msg: ChatMessage) -> BaseMessage:
    """A ``ChatMessage`` as the LangChain message of its role (ids kept)."""
    if msg.role == "system":
        return SystemMessage(content=msg.content, id=msg.id, name=msg.name)
    if msg.role == "user":
        return HumanMessage(content=msg.content, id=msg.id, name=msg.name)
    if msg.role == "tool":
        return ToolMessage(
            content=msg.content,
            id=msg.id,
            name=msg.name,
            tool_call_id=msg.tool_call_id or "",
        )
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for call in msg.tool_calls:
        args = _args(call)
        if args is None:  # the model wrote broken JSON: keep it as LangChain does
            bad.append(
                {"id": call.id, "name": call.name, "args": call.arguments_json}
                | {"error": None, "type": "invalid_tool_call"}
            )
        else:
            good.append(
                {"id": call.id, "name": call.name, "args": args, "type": "tool_call"}
            )
    return AIMessage(
        content=msg.content,
        id=msg.id,
        name=msg.name,
        tool_calls=good,
        invalid_tool_calls=bad,
    )


def to_langchain_messages(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    return [to_langchain_message(m) for m in messages]


def to_langchain_tool(definition: ToolDefinition) -> dict[str, Any]:
    """A Hive tool definition in the OpenAI function format ``bind_tools`` takes."""
    return {
        "type": "function",
        "function": {
            "name": definition.name,
            "description": definition.description,
            "parameters": json.loads(definition.parameters_json_schema),
        },
    }


def _usage(msg: AIMessage) -> Usage | None:
    raw: Mapping[str, Any] | None = msg.usage_metadata
    if not raw:
        return None
    return Usage(
        input_tokens=int(raw.get("input_tokens", 0)),
        output_tokens=int(raw.get("output_tokens", 0)),
        total_tokens=int(raw.get("total_tokens", 0)),
    )


def reply_id(request: ChatRequest, content: str, calls: tuple[ToolCall, ...]) -> str:
    """``"lc:" + sha256hex("HLC1" ‖ request JSON ‖ 0x00 ‖ reply JSON)``.

    Providers' reply ids (``run-<uuid>``) change on every call; this one depends
    only on what was asked and answered, so traces and cassettes stay stable.
    """
    h = hashlib.sha256(b"HLC1")
    h.update(msgspec.json.encode(request))
    h.update(b"\x00")
    h.update(msgspec.json.encode((content, calls)))
    return "lc:" + h.hexdigest()


def chat_response(request: ChatRequest, reply: object) -> ChatResponse:
    """The ``ChatResponse`` for a LangChain reply (an ``AIMessage`` or chunk)."""
    if not isinstance(reply, AIMessage):
        raise TypeError(
            f"the model returned a {type(reply).__name__}, not an AIMessage"
        )
    msg = from_langchain_message(reply, call_ids=_NO_ID)
    mid = reply_id(request, msg.content, msg.tool_calls)
    calls = tuple(  # ids the provider left out: unique per reply, deterministic
        msgspec.structs.replace(c, id=f"call_{mid[3:19]}_{c.id[1:]}")
        if c.id.startswith(_NO_ID)
        else c
        for c in msg.tool_calls
    )
    meta = reply.response_metadata or {}
    finish = meta.get("finish_reason") or meta.get("stop_reason")
    return ChatResponse(
        message=ChatMessage.assistant(mid, msg.content, calls),
        finish_reason=str(finish) if finish else ("tool_calls" if calls else "stop"),
        usage=_usage(reply),
    )
