"""Reading the parts of one message as users write it: its role, its content, its
tool calls; a part that cannot be read is a ``MessageFormatError`` naming the item.

Shared by the messages reducer (``_messages.py``) and the LangChain conversions
(``_langchain_messages.py``), which import it rather than each other. See
docs/agents.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..state._codecs import canonical_json
from ._chat import Role, ToolCall
from ._errors import MessageFormatError

__all__ = ["coerce_tool_call"]

_ROLES: Mapping[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}


def _describe(item: object) -> str:
    text = repr(item)
    return text if len(text) <= 120 else text[:117] + "..."


def _fail(item: object, index: int | None, reason: str) -> MessageFormatError:
    return MessageFormatError(_describe(item), index=index, reason=reason)


def _role(value: object, item: object, index: int | None) -> Role:
    role = _ROLES.get(value) if isinstance(value, str) else None
    if role is None:
        raise _fail(
            item, index, f"role {value!r} is not one of {', '.join(sorted(_ROLES))}"
        )
    return role


def _content(value: object, item: object, index: int | None) -> str:
    """Text, ``None`` (an assistant turn with only tool calls), or a list of text
    blocks as OpenAI and LangChain write multi-part content."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        parts: list[str] = []
        for block in value:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                raise _fail(
                    item, index, f"content block {_describe(block)} is not text"
                )
        return "".join(parts)
    raise _fail(item, index, f"content must be text, got {type(value).__name__}")


def _arguments(value: object, item: object, index: int | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return canonical_json(dict(value)).decode("utf-8")
    raise _fail(item, index, f"tool call arguments {_describe(value)} are not JSON")


def coerce_tool_call(call: object, item: object, index: int | None) -> ToolCall:
    """A ``ToolCall`` from itself, an OpenAI ``{"id", "function": {"name",
    "arguments"}}`` dict, or a LangChain ``{"id", "name", "args"}`` dict."""
    if isinstance(call, ToolCall):
        return call
    if not isinstance(call, Mapping):
        raise _fail(item, index, f"tool call {_describe(call)} is not a dict")
    fn = call.get("function")
    source: Mapping[str, Any] = fn if isinstance(fn, Mapping) else call
    call_id, name = call.get("id"), source.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise _fail(item, index, f"tool call {_describe(call)} has no id")
    if not isinstance(name, str) or not name:
        raise _fail(item, index, f"tool call {_describe(call)} has no name")
    if "arguments_json" in source:
        args = source["arguments_json"]
    else:
        args = source.get("arguments", source.get("args", {}))
    return ToolCall(id=call_id, name=name, arguments_json=_arguments(args, item, index))
