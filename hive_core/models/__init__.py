"""Models and tools for agent nodes: chat types, clients, the tool loop, cassettes.

Nodes reach a model through ``node_input.environment.model`` (or ``.model_router``)
and tools through ``.tools``; :func:`run_tool_loop` drives the model/tool exchange
with the rules in docs/agents.md; :func:`messages_reducer` folds message updates;
:class:`Cassette` records and replays calls so agent traces are golden-testable
offline; :class:`OpenAICompatClient` speaks the chat-completions protocol over
``httpx`` (the optional ``openai`` extra), which it imports only when it sends a
request, so importing this package never needs it.
"""

from __future__ import annotations

from .._exports import public
from ._breaker import (
    BreakerState,
    BreakerStateChanged,
    CircuitBreaker,
    CircuitOpenError,
)
from ._cassette import Cassette, CassetteData, ReplayedToolError, first_difference
from ._chat import (
    REMOVE_ALL_ID,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Final,
    Role,
    StreamChunk,
    Token,
    ToolCall,
    ToolDefinition,
    ToolResult,
    Usage,
)
from ._client import HintRouter, ModelClient, ModelRouter, RoutingHints, resolve_client
from ._errors import (
    CassetteError,
    CassetteExhaustedError,
    CassetteFormatError,
    CassetteMismatchError,
    CommandError,
    CommandInvalidError,
    CommandNotFoundError,
    CommandStartError,
    InvalidMessagesUpdateError,
    LangChainError,
    MessageFormatError,
    MissingTaskLocalValueError,
    ModelClientMissingError,
    ModelConnectionError,
    ModelDeadlineExceededError,
    ModelError,
    ModelHTTPError,
    ModelLimitError,
    ModelResponseInvalidError,
    ModelResponseTooLargeError,
    ModelRetryBudgetExceededError,
    ModelStreamInvalidError,
    ModelTimeoutError,
    ModelToolLoopLimitError,
    ToolArgumentsInvalidError,
    ToolContextMissingError,
    ToolRegistryMissingError,
    UnknownToolError,
)
from ._fallback import FallbackClient, ModelProvidersExhaustedError
from ._langchain import LangChainModelClient, LangChainTools
from ._loop import (
    Emit,
    ToolLoopConfig,
    ToolLoopResult,
    call_model,
    invoke_tool,
    order_tool_calls,
    run_tool_loop,
)
from ._messages import (
    Compaction,
    MessageLike,
    MessagesUpdate,
    approximate_tokens,
    compact_messages,
    derived_message_id,
    message_id,
    messages_channel,
    messages_reducer,
    tool_message_id,
)
from ._openai_compat import Limits, OpenAICompatClient, Retries, Timeouts
from ._process import CommandResult, command_tool, run_command, run_command_sync
from ._scripted import ScriptedModelClient, ScriptedReply
from ._tool_errors import (
    ToolErrorHandler,
    ToolErrors,
    check_tool_errors,
    tool_error_message,
)
from ._tools import Tool, ToolContext, ToolProvider, ToolRegistry, bind_environment

__all__ = [
    # chat data
    "REMOVE_ALL_ID",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "Final",
    "Role",
    "StreamChunk",
    "Token",
    "ToolCall",
    "ToolDefinition",
    "ToolResult",
    "Usage",
    # clients and routing
    "HintRouter",
    "ModelClient",
    "ModelRouter",
    "RoutingHints",
    "ScriptedModelClient",
    "ScriptedReply",
    "resolve_client",
    # provider health: breakers and fallback
    "BreakerState",
    "BreakerStateChanged",
    "CircuitBreaker",
    "FallbackClient",
    # the OpenAI-compatible HTTP adapter
    "Limits",
    "OpenAICompatClient",
    "Retries",
    "Timeouts",
    # tools
    "Tool",
    "ToolContext",
    "ToolProvider",
    "ToolRegistry",
    "bind_environment",
    "ToolErrorHandler",
    "ToolErrors",
    "check_tool_errors",
    "tool_error_message",
    # the loop
    "Emit",
    "ToolLoopConfig",
    "ToolLoopResult",
    "call_model",
    "invoke_tool",
    "order_tool_calls",
    "run_tool_loop",
    # messages
    "Compaction",
    "approximate_tokens",
    "compact_messages",
    "message_id",
    "messages_reducer",
    "tool_message_id",
    "MessageLike",
    "MessagesUpdate",
    "derived_message_id",
    "messages_channel",
    # LangChain interop (the optional `langchain` extra, imported when used)
    "LangChainModelClient",
    "LangChainTools",
    # cassettes
    "Cassette",
    "CassetteData",
    "ReplayedToolError",
    "first_difference",
    # external commands
    "CommandResult",
    "command_tool",
    "run_command",
    "run_command_sync",
    # errors
    "CassetteError",
    "CassetteExhaustedError",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CircuitOpenError",
    "CommandError",
    "CommandInvalidError",
    "CommandNotFoundError",
    "CommandStartError",
    "InvalidMessagesUpdateError",
    "MissingTaskLocalValueError",
    "ModelClientMissingError",
    "ModelConnectionError",
    "ModelDeadlineExceededError",
    "ModelError",
    "ModelHTTPError",
    "ModelLimitError",
    "ModelProvidersExhaustedError",
    "ModelResponseInvalidError",
    "ModelResponseTooLargeError",
    "ModelRetryBudgetExceededError",
    "ModelStreamInvalidError",
    "ModelTimeoutError",
    "ModelToolLoopLimitError",
    "ToolArgumentsInvalidError",
    "ToolContextMissingError",
    "ToolRegistryMissingError",
    "UnknownToolError",
    "LangChainError",
    "MessageFormatError",
]

public(__name__, __all__, globals())


def __dir__() -> list[str]:
    return list(__all__)
