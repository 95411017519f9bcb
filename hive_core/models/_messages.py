"""The messages reducer, deterministic message ids, and context compaction.

``messages_reducer`` is LangGraph's ``add_messages`` made strict: replace by id or
append, ``remove`` needs an existing id, and a remove-all marker clears the list.
Message ids come from the run, step and task (HMSG1), never from a random source, so
the same run gives the same ids and the same trace.

Updates may be written as users write them (``"hi"``, ``("user", "hi")``, message
dicts, LangChain messages): they are coerced to ``ChatMessage`` in the reducer, and
those without an id get one derived from the list and the message (HMSGD1), so the
stored type, its codec and old checkpoints are unchanged (docs/agents.md).
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, cast

import attrs
import msgspec

from ..ids import lp, u32
from ..reducers import coercing
from ..state._channels import Channel, channel
from ..state._codecs import JSONCodec
from ._chat import ChatMessage
from ._errors import InvalidMessagesUpdateError
from ._message_parts import _content, _fail, _role, coerce_tool_call

__all__ = [
    "Compaction",
    "MessageLike",
    "MessagesUpdate",
    "derived_message_id",
    "messages_channel",
    "approximate_tokens",
    "compact_messages",
    "message_id",
    "messages_reducer",
    "tool_message_id",
]


MessageLike: TypeAlias = (
    "ChatMessage | str | tuple[str, str] | tuple[str, str, str] | Mapping[str, Any]"
)
"""One message as users write it: a ``ChatMessage``; ``"text"`` (a user message);
``(role, text)`` with role ``user``/``human``, ``assistant``/``ai``, ``system``/
``developer``; ``("tool", text, tool_call_id)``; a dict with ``role`` (or
LangChain's ``type``), ``content`` and optional ``id``, ``name``, ``tool_calls``,
``tool_call_id``; or a LangChain ``BaseMessage``. See docs/agents.md."""

MessagesUpdate: TypeAlias = "Sequence[MessageLike] | MessageLike"
"""What a ``messages_reducer`` channel accepts: a list (or a tuple of
``ChatMessage``) of items, or one item."""

_DICT_KEYS = frozenset(
    {"role", "type", "content", "id", "name", "tool_calls", "tool_call_id"}
)


def _optional_str(
    data: Mapping[str, Any], key: str, item: object, index: int | None
) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _fail(item, index, f"{key} must be a string, got {type(value).__name__}")


def _from_dict(data: Mapping[str, Any], index: int | None) -> tuple[ChatMessage, bool]:
    unknown = sorted(str(k) for k in data if k not in _DICT_KEYS)
    if unknown:
        raise _fail(
            data,
            index,
            f"unknown key(s) {', '.join(unknown)}; a message dict has "
            + ", ".join(sorted(_DICT_KEYS)),
        )
    if "role" not in data and "type" not in data:
        raise _fail(data, index, "a message dict needs a 'role'")
    role = _role(data.get("role", data.get("type")), data, index)
    calls = data.get("tool_calls") or ()
    if not isinstance(calls, list | tuple):
        raise _fail(data, index, "tool_calls must be a list")
    mid = _optional_str(data, "id", data, index)
    msg = ChatMessage(
        id=mid or "",
        role=role,
        content=_content(data.get("content", ""), data, index),
        name=_optional_str(data, "name", data, index),
        tool_call_id=_optional_str(data, "tool_call_id", data, index),
        tool_calls=tuple(coerce_tool_call(c, data, index) for c in calls),
    )
    return _checked(msg, data, index), mid is None


def _from_tuple(item: tuple[Any, ...], index: int | None) -> ChatMessage:
    if len(item) not in (2, 3) or not all(isinstance(x, str) for x in item):
        raise _fail(item, index, "a tuple must be (role, text) or (role, text, id)")
    role = _role(item[0], item, index)
    if role == "tool":
        if len(item) != 3:
            raise _fail(item, index, "a tool message answers a call: (role, text, id)")
        msg = ChatMessage(id="", role="tool", content=item[1], tool_call_id=item[2])
        return msg
    if len(item) == 3:
        raise _fail(item, index, "only ('tool', text, tool_call_id) has three parts")
    return ChatMessage(id="", role=role, content=item[1])


def _checked(msg: ChatMessage, item: object, index: int | None) -> ChatMessage:
    if msg.role == "tool" and msg.tool_call_id is None:
        raise _fail(item, index, "a tool message needs a tool_call_id")
    if msg.tool_calls and msg.role != "assistant":
        raise _fail(
            item, index, f"only assistant messages carry tool_calls, not {msg.role}"
        )
    return msg


def _from_langchain(item: object, index: int | None) -> tuple[ChatMessage, bool]:
    from ._langchain_messages import from_langchain_message

    msg = from_langchain_message(item, index=index)
    return msg, msg.id == ""


def coerce_message(item: object, index: int | None = None) -> tuple[ChatMessage, bool]:
    """One item as a ``ChatMessage``, and whether it still needs an id.

    Raises ``MessageFormatError`` naming the item and what is wrong with it.
    """
    if isinstance(item, ChatMessage):
        return item, False
    if isinstance(item, str):
        return ChatMessage(id="", role="user", content=item), True
    if isinstance(item, tuple):
        return _from_tuple(item, index), True
    if isinstance(item, Mapping):
        return _from_dict(item, index)
    lc = sys.modules.get("langchain_core.messages")  # never imported from here
    if lc is not None and isinstance(item, lc.BaseMessage):
        return _from_langchain(item, index)
    raise _fail(
        item, index, f"type {type(item).__name__} is none of the accepted message forms"
    )


def coerce_update(update: object) -> tuple[list[ChatMessage], frozenset[int]]:
    """The update as messages, and the positions of those written without an id.

    A list is a list of items; a tuple of ``ChatMessage`` too (as
    ``MessagesUpdate`` allows); anything else is one item (``"hi"``, ``("user", "hi")``, ...).
    """
    if isinstance(update, list) or (
        isinstance(update, tuple) and all(isinstance(m, ChatMessage) for m in update)
    ):
        if all(type(m) is ChatMessage for m in update):  # the hot path: no copies
            return cast("list[ChatMessage]", update), frozenset()
        out: list[ChatMessage] = []
        anonymous: set[int] = set()
        for i, item in enumerate(update):
            msg, needs_id = coerce_message(item, i)
            out.append(msg)
            if needs_id:
                anonymous.add(i)
        return out, frozenset(anonymous)
    msg, needs_id = coerce_message(update, None)
    return [msg], frozenset({0}) if needs_id else frozenset()


def messages_channel(
    *,
    id: str | None = None,
    persistence: Literal["checkpointed", "untracked", "ephemeral"] = "checkpointed",
) -> Channel[list[ChatMessage]]:
    """A conversation channel that also takes a single message as users write it.

    ``channel(list[ChatMessage], reducer=messages_reducer, update="multi")`` only
    accepts lists (its runtime check is ``list``); this one also lets a bare
    ``"hi"``, ``("user", "hi")``, dict or ``ChatMessage`` through to the reducer,
    which turns it into a list. It stores the same type with the same codec, so
    a schema switching to it keeps its version and its checkpoints.
    """
    loose = list[ChatMessage] | ChatMessage | str | tuple[Any, ...] | dict[str, Any]
    declared = channel(
        cast("type[list[ChatMessage]]", loose),
        id=id,
        reducer=cast(
            "Callable[[list[ChatMessage], list[ChatMessage]], list[ChatMessage]]",
            messages_reducer,
        ),
        update="multi",
        initial=list,
        codec=JSONCodec(list[ChatMessage]),
        persistence=persistence,
    )
    return declared


@coercing
def messages_reducer(
    current: list[ChatMessage], update: MessagesUpdate | list[ChatMessage], /
) -> list[ChatMessage]:
    """Fold ``update`` into ``current`` and return a new list.

    ``update`` is a list of messages as users write them (see
    :data:`MessageLike`: ``ChatMessage``, ``"text"``, ``(role, text)``, a message
    dict, a LangChain message) or one such item. An item without an id gets a
    derived one (:func:`derived_message_id`) when it is appended, so it is always
    a new message. Then:

    * If ``update`` holds a remove-all marker (``op="remove_all"``), everything up to
      and including the *last* marker is dropped, ``current`` included.
    * A normal message replaces the message with the same id in place, or is
      appended.
    * ``op="remove"`` deletes the message with that id; an unknown id raises
      ``InvalidMessagesUpdateError``.
    * The result holds only normal messages.

    An item in no accepted form raises ``MessageFormatError``.
    """
    items, anonymous = coerce_update(update)
    start = 0
    base: list[ChatMessage] = [m for m in current if m.op is None]
    for i in range(len(items) - 1, -1, -1):
        if items[i].op == "remove_all":
            start = i + 1
            base = []
            break
    out = base
    index = {m.id: i for i, m in enumerate(out)}
    for at_item in range(start, len(items)):
        msg = items[at_item]
        if at_item in anonymous:
            msg = msgspec.structs.replace(msg, id=_fresh_id(out, index, msg))
        if msg.op is None:
            at = index.get(msg.id)
            if at is None:
                index[msg.id] = len(out)
                out.append(msg)
            else:
                out[at] = msg
        elif msg.op == "remove":
            at = index.get(msg.id)
            if at is None:
                raise InvalidMessagesUpdateError(
                    msg.id, reason="remove names a message that is not in the list"
                )
            del out[at]
            index = {m.id: i for i, m in enumerate(out)}
        else:  # pragma: no cover - remove_all was handled above
            raise InvalidMessagesUpdateError(msg.id, reason=f"unknown op {msg.op!r}")
    return out


def derived_message_id(previous_id: str, position: int, message: ChatMessage) -> str:
    """The id given to a message written without one (layout HMSGD1).

    ``"msg:" + sha256hex("HMSGD1" ‖ lp(previous_id) ‖ u32BE(position) ‖ canonical
    JSON of the message without its id)``, where ``position`` is the index it is
    appended at and ``previous_id`` the id of the message before it (``""`` for
    the first). Only the list and the message go in (no clock, no randomness, no
    run id), so the same conversation gets the same ids in every run and replay.
    If the id is already in the list (the same text written again at the same
    place after a removal), the reducer retries with the position ``+ 2**31``,
    ``+ 2**31 + 1``, ..., so an id-less message is always appended.
    """
    h = hashlib.sha256(b"HMSGD1")
    h.update(lp(previous_id))
    h.update(u32(position, "message position"))
    h.update(msgspec.json.encode(msgspec.structs.replace(message, id="")))
    return "msg:" + h.hexdigest()


_RETRY_BASE = 1 << 31


def _fresh_id(out: list[ChatMessage], index: dict[str, int], msg: ChatMessage) -> str:
    if msg.role == "tool" and msg.tool_call_id is not None:
        return tool_message_id(msg.tool_call_id)
    previous = out[-1].id if out else ""
    mid = derived_message_id(previous, len(out), msg)
    retry = 0
    while mid in index:
        mid = derived_message_id(previous, _RETRY_BASE + retry, msg)
        retry += 1
    return mid


def _run_bytes(run_id: str | uuid.UUID) -> bytes:
    return (run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(run_id)).bytes


def message_id(
    role: Literal["user", "assistant", "system"],
    *,
    run_id: str | uuid.UUID,
    step: int,
    task_id: str | None = None,
    index: int = 0,
) -> str:
    """A deterministic message id (HMSG1).

    * user: ``"msg:" + sha256hex("HMSG1" ‖ run uuid (16 bytes) ‖ u32BE(step) ‖
      "user" ‖ u32BE(index))``; user messages come from run input, so no task;
    * assistant and system: the same with ``task_id`` UTF-8 ‖ 0x00 before the role.

    ``index`` tells apart several messages of one role from one task (a single
    message uses 0; the tool loop numbers its assistant messages 0, 1, ...).
    """
    h = hashlib.sha256(b"HMSG1")
    h.update(_run_bytes(run_id))
    h.update(u32(step, "step index"))
    if role == "user":
        if task_id is not None:
            raise ValueError("user message ids take no task_id")
    else:
        if task_id is None:
            raise ValueError(f"{role} message ids need the task_id of the writer")
        h.update(task_id.encode("utf-8") + b"\x00")
    h.update(role.encode("ascii"))
    h.update(u32(index, "message index"))
    return "msg:" + h.hexdigest()


def tool_message_id(call_id: str) -> str:
    """The id of the tool message answering call ``call_id``: ``tool:<call id>``."""
    return f"tool:{call_id}"


def approximate_tokens(message: ChatMessage) -> int:
    """A cheap, deterministic token estimate: one per four characters of content
    and tool-call arguments, plus four for the message frame."""
    chars = len(message.content) + sum(
        len(c.name) + len(c.arguments_json) for c in message.tool_calls
    )
    return 4 + (chars + 3) // 4


@attrs.frozen(kw_only=True)
class Compaction:
    """Fit the conversation into ``max_tokens`` before each model call.

    The last ``keep_last`` messages are always kept; older ones are added back,
    newest first, while they fit; a leading system message is always kept.
    """

    max_tokens: int
    keep_last: int = 4
    count_tokens: Callable[[ChatMessage], int] = approximate_tokens


def compact_messages(
    messages: Sequence[ChatMessage], policy: Compaction | None
) -> list[ChatMessage]:
    """The messages a model should see under ``policy`` (``None``: all of them).

    Keeps the tail, prepends older messages greedily while they fit, then prepends
    the first message if it is a system message (its tokens are reserved first).
    A kept window never starts with tool messages whose assistant call was cut, so
    the result stays valid for chat-completions servers. ``messages`` itself is
    never changed.
    """
    msgs = list(messages)
    if policy is None:
        return msgs
    count = policy.count_tokens
    if sum(count(m) for m in msgs) <= policy.max_tokens:
        return msgs
    head: list[ChatMessage] = []
    body = msgs
    if msgs and msgs[0].role == "system":
        head, body = [msgs[0]], msgs[1:]
    budget = policy.max_tokens - sum(count(m) for m in head)
    keep = max(policy.keep_last, 0)
    cut = max(len(body) - keep, 0)
    budget -= sum(count(m) for m in body[cut:])
    while cut > 0 and count(body[cut - 1]) <= budget:
        cut -= 1
        budget -= count(body[cut])
    while cut < len(body) and body[cut].role == "tool":
        cut += 1
    return head + body[cut:]
