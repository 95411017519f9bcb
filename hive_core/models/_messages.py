"""The messages reducer, deterministic message ids, and context compaction.

``messages_reducer`` is LangGraph's ``add_messages`` made strict: replace by id or
append, ``remove`` needs an existing id, and a remove-all marker clears the list.
Message ids come from the run, step and task (HMSG1), never from a random source, so
the same run gives the same ids and the same trace.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from ..ids import u32
from ._chat import ChatMessage
from ._errors import InvalidMessagesUpdateError

__all__ = [
    "Compaction",
    "approximate_tokens",
    "compact_messages",
    "message_id",
    "messages_reducer",
    "tool_message_id",
]


def messages_reducer(
    current: list[ChatMessage], update: list[ChatMessage], /
) -> list[ChatMessage]:
    """Fold ``update`` into ``current`` and return a new list.

    * If ``update`` holds a remove-all marker (``op="remove_all"``), everything up to
      and including the *last* marker is dropped, ``current`` included.
    * A normal message replaces the message with the same id in place, or is
      appended.
    * ``op="remove"`` deletes the message with that id; an unknown id raises
      ``InvalidMessagesUpdateError``.
    * The result holds only normal messages.
    """
    start = 0
    base: list[ChatMessage] = [m for m in current if m.op is None]
    for i in range(len(update) - 1, -1, -1):
        if update[i].op == "remove_all":
            start = i + 1
            base = []
            break
    out = base
    index = {m.id: i for i, m in enumerate(out)}
    for msg in update[start:]:
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

    ``index`` tells apart several messages of one role from one task (the original
    always uses 0; the tool loop numbers its assistant messages 0, 1, ...).
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
