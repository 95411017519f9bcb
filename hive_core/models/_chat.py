"""Chat data: messages, tool definitions and calls, requests, responses, stream chunks.

All of it is frozen msgspec structs, so values are hashable by content, encode to
canonical JSON for checkpoints and cassettes, and can never be mutated in a store.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "REMOVE_ALL_ID",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "Final",
    "MessageOp",
    "Role",
    "StreamChunk",
    "Token",
    "ToolCall",
    "ToolDefinition",
    "ToolResult",
    "Usage",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
MessageOp: TypeAlias = Literal["remove", "remove_all"]

REMOVE_ALL_ID = "__remove_all__"
"""The id of the remove-all marker message (see ``ChatMessage.remove_all``)."""


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call the model asked for."""

    id: str
    """The model's id for the call; tool replies carry it as ``tool_call_id``."""
    name: str
    """The tool's name."""
    arguments_json: str
    """The arguments as the model wrote them: a JSON object, not yet validated."""


class ToolDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A tool as the model sees it."""

    name: str
    description: str
    parameters_json_schema: str
    """JSON Schema of the arguments object, as a canonical JSON string."""


class ToolResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a tool returned for one call, as text for the model."""

    tool_call_id: str
    content: str


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One chat message, or an operation on the message list.

    ``op`` is ``None`` for a normal message; ``"remove"`` deletes the message with
    this ``id`` and ``"remove_all"`` clears everything before it when folded by
    ``messages_reducer``. Build the operations with ``ChatMessage.remove(id)`` and
    ``ChatMessage.remove_all()``.
    """

    id: str
    role: Role
    content: str = ""
    name: str | None = None
    """For tool messages: the tool's name; otherwise an optional participant name."""
    tool_call_id: str | None = None
    """For tool messages: the call this message answers."""
    tool_calls: tuple[ToolCall, ...] = ()
    """For assistant messages: the tool calls the model asked for, in its order."""
    op: MessageOp | None = None

    @classmethod
    def system(cls, id: str, content: str) -> ChatMessage:
        return cls(id=id, role="system", content=content)

    @classmethod
    def user(cls, id: str, content: str) -> ChatMessage:
        return cls(id=id, role="user", content=content)

    @classmethod
    def assistant(
        cls, id: str, content: str = "", tool_calls: tuple[ToolCall, ...] = ()
    ) -> ChatMessage:
        return cls(id=id, role="assistant", content=content, tool_calls=tool_calls)

    @classmethod
    def tool(cls, call: ToolCall, content: str) -> ChatMessage:
        """The reply to ``call``; its id is ``tool:<call id>``."""
        return cls(
            id=f"tool:{call.id}",
            role="tool",
            content=content,
            name=call.name,
            tool_call_id=call.id,
        )

    @classmethod
    def remove(cls, id: str) -> ChatMessage:
        """An update that deletes the message with ``id`` (it must exist)."""
        return cls(id=id, role="system", op="remove")

    @classmethod
    def remove_all(cls) -> ChatMessage:
        """An update that drops every message before it (and itself)."""
        return cls(id=REMOVE_ALL_ID, role="system", op="remove_all")


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One model call: the model name, the whole conversation and the tools."""

    model: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolDefinition, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one model call, as the provider reported them."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The model's reply: one assistant message (content and/or tool calls)."""

    message: ChatMessage
    finish_reason: str | None = None
    """Why the model stopped (``"stop"``, ``"tool_calls"``, ...), when known."""
    usage: Usage | None = None
    """Token counts, when the client reports them. ``None`` is omitted from the
    encoding, so responses without usage (and cassettes) keep their bytes."""


class Token(msgspec.Struct, frozen=True, tag="token"):
    """A piece of the reply's text, in order."""

    text: str


class Final(msgspec.Struct, frozen=True, tag="final"):
    """The complete reply; the last chunk of every stream, exactly once."""

    response: ChatResponse


StreamChunk: TypeAlias = Token | Final
"""What ``ModelClient.stream`` yields: ``Token``s, then one ``Final``."""
