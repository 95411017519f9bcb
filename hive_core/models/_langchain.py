"""LangChain interop: a LangChain chat model as a ``ModelClient``, LangChain tools as
a ``ToolProvider``.

The optional ``langchain`` extra (``langchain-core``) is imported only when an
adapter is built, so ``import hive_core.models`` never needs it. Every failure
inside LangChain reaches the caller as a Hive error (``LangChainError``, or the
specific model/tool error it means); the original is ``__cause__``. See
docs/agents.md, "Coming from LangChain".
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DefinitionError, HiveError
from ..state._codecs import canonical_json
from ._chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Final,
    StreamChunk,
    Token,
    ToolCall,
    ToolDefinition,
    ToolResult,
)
from ._errors import (
    LangChainError,
    ModelConnectionError,
    ModelError,
    ModelStreamInvalidError,
    ModelTimeoutError,
    ToolArgumentsInvalidError,
    UnknownToolError,
)
from ._tools import tool_result_text

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

__all__ = ["LangChainModelClient", "LangChainTools"]

_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CACHE_LIMIT = 4096


def _require_langchain(what: str) -> None:
    try:
        import langchain_core  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise DefinitionError(
            f"{what} needs langchain-core\n\nFix: pip install 'hive-graph[langchain]'"
        ) from exc


def _mapped(exc: Exception, component: str, phase: str) -> ModelError:
    """LangChain's (or its provider's) exception as the Hive error it means."""
    where = f"langchain:{component}"
    if isinstance(exc, TimeoutError):
        return ModelTimeoutError(phase, seconds=None, url=where)
    if isinstance(exc, ConnectionError):
        return ModelConnectionError(where, reason=repr(exc), attempts=1)
    return LangChainError(component, phase=phase, reason=repr(exc))


class LangChainModelClient:
    """A LangChain ``BaseChatModel`` as a Hive ``ModelClient``.

    ```python
    client = LangChainModelClient(ChatOpenAI(model="gpt-4o-mini"))
    runtime = Runtime(graph, environment=Environment(model=client))
    ```

    * Messages map role to role (ids kept); a request's tools are bound with
      ``model.bind_tools`` in the OpenAI function format (cached per tool list),
      and ``temperature``/``max_tokens`` are passed as call keyword arguments
      when set. ``request.model`` is not used: the LangChain model is configured.
    * The reply's ``tool_calls`` (and ``invalid_tool_calls``, with their raw
      arguments) become ``ToolCall``s, ``usage_metadata`` becomes ``Usage``, and
      the reply id is derived from the request and the reply (``lc:...``), never
      LangChain's random run id.
    * ``stream`` yields each chunk's text as a ``Token`` and the merged chunks as
      the ``Final``; a model without streaming gives one token with all the text.
    """

    def __init__(self, model: BaseChatModel, *, name: str | None = None) -> None:
        _require_langchain("LangChainModelClient")
        from langchain_core.language_models import BaseChatModel

        if not isinstance(model, BaseChatModel):
            raise DefinitionError(
                f"LangChainModelClient wraps a LangChain BaseChatModel, got "
                f"{type(model).__name__}"
            )
        self.model = model
        self.name = name or type(model).__name__
        self._bound: dict[tuple[ToolDefinition, ...], Runnable[Any, Any]] = {}
        self._converted: dict[ChatMessage, BaseMessage] = {}
        """LangChain copies of messages already sent: a conversation grows by a
        message or two per call, and building pydantic messages is most of the
        adapter's cost. LangGraph hands a model the same message objects on every
        call too, so sharing them is what LangChain models expect."""

    def __repr__(self) -> str:
        return f"LangChainModelClient({self.name})"

    def _runnable(self, request: ChatRequest) -> Runnable[Any, Any]:
        if not request.tools:
            return self.model
        bound = self._bound.get(request.tools)
        if bound is None:
            from ._langchain_messages import to_langchain_tool

            try:
                bound = self.model.bind_tools(
                    [to_langchain_tool(d) for d in request.tools]
                )
            except NotImplementedError as exc:
                raise LangChainError(
                    self.name,
                    phase="binding tools",
                    reason="the model does not implement bind_tools, so it cannot "
                    "be offered tools; call it without tools or use a model that "
                    "supports tool calling",
                ) from exc
            except Exception as exc:
                raise _mapped(exc, self.name, "binding tools") from exc
            self._bound[request.tools] = bound
        return bound

    def _inputs(self, request: ChatRequest) -> tuple[list[BaseMessage], dict[str, Any]]:
        from ._langchain_messages import to_langchain_message

        kwargs: dict[str, Any] = {}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        cache = self._converted
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        messages: list[BaseMessage] = []
        for msg in request.messages:
            lc = cache.get(msg)
            if lc is None:
                lc = cache[msg] = to_langchain_message(msg)
            messages.append(lc)
        return messages, kwargs

    def _response(self, request: ChatRequest, reply: object) -> ChatResponse:
        from ._langchain_messages import chat_response

        try:
            return chat_response(request, reply)
        except HiveError:
            raise
        except Exception as exc:
            raise _mapped(exc, self.name, "reading the reply") from exc

    async def complete(self, request: ChatRequest) -> ChatResponse:
        runnable = self._runnable(request)
        messages, kwargs = self._inputs(request)
        try:
            reply = await runnable.ainvoke(messages, **kwargs)
        except HiveError:
            raise
        except Exception as exc:
            raise _mapped(exc, self.name, "invoking the model") from exc
        return self._response(request, reply)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        from langchain_core.messages import AIMessageChunk

        from ._langchain_messages import text_of

        runnable = self._runnable(request)
        messages, kwargs = self._inputs(request)
        chunks: list[Any] = []
        try:
            async for chunk in runnable.astream(messages, **kwargs):
                chunks.append(chunk)
                text = text_of(getattr(chunk, "content", ""))
                if text:
                    yield Token(text)
        except HiveError:
            raise
        except Exception as exc:
            raise _mapped(exc, self.name, "streaming") from exc
        if not chunks:
            raise ModelStreamInvalidError(
                "the stream ended with no chunk", model=self.name
            )
        if len(chunks) == 1:
            reply = chunks[0]
        elif all(isinstance(c, AIMessageChunk) for c in chunks):
            reply = chunks[0]
            for c in chunks[1:]:
                reply = reply + c
        else:
            raise ModelStreamInvalidError(
                f"the stream mixed {sorted({type(c).__name__ for c in chunks})}; "
                "expected AIMessageChunks",
                model=self.name,
            )
        yield Final(self._response(request, reply))


def _definition(tool: BaseTool) -> ToolDefinition:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    name = tool.name
    if not _TOOL_NAME.fullmatch(name):
        raise DefinitionError(
            f"LangChain tool name {name!r} must be 1 to 64 ASCII letters, digits, "
            "`_` or `-` (what chat-completions servers accept)",
            subject=name or None,
        )
    fn = convert_to_openai_tool(tool)["function"]
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    return ToolDefinition(
        name=name,
        description=str(fn.get("description") or ""),
        parameters_json_schema=canonical_json(params).decode("utf-8"),
    )


class LangChainTools:
    """LangChain tools (``BaseTool``, e.g. ``@tool`` functions) as a Hive
    ``ToolProvider``: use it as ``Environment(tools=...)`` or ``tools=``.

    Definitions come from each tool's own schema (``convert_to_openai_tool``),
    sorted by name. ``invoke`` decodes the call's JSON arguments and awaits
    ``tool.ainvoke(args)``; the result becomes text as for Hive tools (a ``str``
    as is, anything else canonical JSON). Arguments LangChain rejects raise
    ``ToolArgumentsInvalidError``, an unknown name ``UnknownToolError``, a
    ``ToolException`` ``LangChainError``; any other exception the tool's own code
    raises propagates unchanged, as from a Hive tool.
    """

    def __init__(self, tools: Iterable[BaseTool]) -> None:
        _require_langchain("LangChainTools")
        from langchain_core.tools import BaseTool

        self._tools: dict[str, BaseTool] = {}
        self._definitions: dict[str, ToolDefinition] = {}
        for tool in tools:
            if not isinstance(tool, BaseTool):
                raise DefinitionError(
                    f"LangChainTools takes LangChain BaseTools, got "
                    f"{type(tool).__name__}; wrap functions with @tool or use "
                    "ToolRegistry"
                )
            if tool.name in self._tools:
                raise DefinitionError(
                    f"LangChain tool `{tool.name}` is given twice", subject=tool.name
                )
            self._definitions[tool.name] = _definition(tool)
            self._tools[tool.name] = tool

    def __repr__(self) -> str:
        return f"LangChainTools({sorted(self._tools)})"

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def definitions(self) -> tuple[ToolDefinition, ...]:
        return tuple(self._definitions[n] for n in sorted(self._definitions))

    async def invoke(self, call: ToolCall) -> ToolResult:
        from langchain_core.tools import ToolException
        from pydantic import ValidationError

        tool = self._tools.get(call.name)
        if tool is None:
            raise UnknownToolError(call.name, available=tuple(sorted(self._tools)))
        try:
            args = json.loads(call.arguments_json.strip() or "{}")
        except ValueError as exc:
            raise ToolArgumentsInvalidError(
                call.name, call_id=call.id, reason=f"not JSON: {exc}"
            ) from exc
        if not isinstance(args, Mapping):
            raise ToolArgumentsInvalidError(
                call.name, call_id=call.id, reason="the arguments are not an object"
            )
        try:
            value = await tool.ainvoke(dict(args))
        except ValidationError as exc:
            raise ToolArgumentsInvalidError(
                call.name, call_id=call.id, reason=str(exc)
            ) from exc
        except ToolException as exc:
            raise LangChainError(
                f"tool `{call.name}`", phase="running", reason=str(exc)
            ) from exc
        content = getattr(value, "content", value)  # a ToolMessage from the tool
        return ToolResult(tool_call_id=call.id, content=tool_result_text(content))
