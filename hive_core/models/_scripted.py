"""A model client that replies from a script: for tests, examples and demos.

It keeps every request it was sent, so a test can assert on exactly what the model
saw, and it streams each reply as word tokens followed by one final chunk, honouring
the ``ModelClient`` contract.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeAlias

from ._chat import ChatMessage, ChatRequest, ChatResponse, Final, StreamChunk, Token

__all__ = ["ScriptedModelClient", "ScriptedReply", "split_tokens"]

ScriptedReply: TypeAlias = (
    "str | ChatMessage | ChatResponse | Callable[[ChatRequest], ChatResponse]"
)
"""Text (an assistant message), a message, a response, or a function of the
request."""

_WORDS = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into word tokens that concatenate back to it exactly."""
    return _WORDS.findall(text)


class ScriptedModelClient:
    """Answers request *n* with reply *n*; running out raises ``RuntimeError``.

    ```python
    client = ScriptedModelClient([
        ChatMessage.assistant("a1", tool_calls=(ToolCall(id="c1", name="add",
                                                         arguments_json='{"a":1}'),)),
        "The answer is 2.",
    ])
    ```
    Text replies become assistant messages with ids ``scripted:0``, ``scripted:1``...
    """

    def __init__(self, replies: Iterable[ScriptedReply]) -> None:
        self._replies = list(replies)
        self.requests: list[ChatRequest] = []

    def _next(self, request: ChatRequest) -> ChatResponse:
        n = len(self.requests)
        self.requests.append(request)
        if n >= len(self._replies):
            raise RuntimeError(
                f"ScriptedModelClient has {len(self._replies)} replies and was asked "
                f"for reply #{n + 1}"
            )
        reply = self._replies[n]
        if isinstance(reply, str):
            return ChatResponse(
                message=ChatMessage.assistant(f"scripted:{n}", reply),
                finish_reason="stop",
            )
        if isinstance(reply, ChatMessage):
            return ChatResponse(
                message=reply,
                finish_reason="tool_calls" if reply.tool_calls else "stop",
            )
        if isinstance(reply, ChatResponse):
            return reply
        return reply(request)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return self._next(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        response = self._next(request)
        for text in split_tokens(response.message.content):
            yield Token(text)
        yield Final(response)
