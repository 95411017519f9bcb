"""The errors ``hive_core.models`` raises, all under :class:`hive_core.errors.RunError`.

```
HiveError
└── RunError
    └── ModelError                              catch this for any model/tool problem
        ├── ModelClientMissingError             no client given, no router, no env.model
        ├── ToolRegistryMissingError            the model asked for tools, none are set
        ├── ModelStreamInvalidError (ValueError)
        │                                       a stream broke the token* final contract
        ├── ModelResponseInvalidError (ValueError)
        │                                       a server reply is not chat-completions
        ├── ModelToolLoopLimitError             the loop hit max_model_invocations
        ├── ModelHTTPError                      the server answered with HTTP >= 400
        ├── ModelTimeoutError (TimeoutError)    connect or read timed out (stalled stream)
        ├── ModelConnectionError (ConnectionError)
        │                                       could not reach the server (after retries)
        ├── UnknownToolError (LookupError)      a call names a tool the registry lacks
        ├── ToolArgumentsInvalidError (ValueError)
        │                                       a call's JSON arguments fail validation
        ├── InvalidMessagesUpdateError (ValueError)
        │                                       the messages reducer got a bad update
        ├── MissingTaskLocalValueError (LookupError)
        │                                       a task-local input was never set
        └── CassetteError                       record/replay problems
            ├── CassetteMismatchError           a replayed request differs from the tape
            ├── CassetteExhaustedError          more requests than the tape recorded
            └── CassetteFormatError (ValueError)
                                                the cassette file cannot be read
```

Each class has a stable ``code`` (a heading in ``docs/errors.md``), keeps the facts as
attributes, and pickles through :meth:`hive_core.errors.HiveError.__reduce__`.
"""

from __future__ import annotations

from ..errors import RunError

__all__ = [
    "CassetteError",
    "CassetteExhaustedError",
    "CassetteFormatError",
    "CassetteMismatchError",
    "InvalidMessagesUpdateError",
    "MissingTaskLocalValueError",
    "ModelClientMissingError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelResponseInvalidError",
    "ModelStreamInvalidError",
    "ModelTimeoutError",
    "ModelToolLoopLimitError",
    "ToolArgumentsInvalidError",
    "ToolRegistryMissingError",
    "UnknownToolError",
    "MessageFormatError",
    "LangChainError",
]


def _excerpt(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ModelError(RunError):
    """Base for every error about models, tools, adapters and cassettes."""

    code = "model-error"


class ModelClientMissingError(ModelError):
    """A model call found no client: none was passed, and the environment has
    neither ``model_router`` nor ``model``.

    Fix: ``Environment(model=my_client)`` or pass the client explicitly.
    """

    code = "model-client-missing"

    def __init__(self, *, where: str) -> None:
        self.where = where
        super().__init__(
            f"{where} needs a model client, but none was given and the environment "
            "has neither `model_router` nor `model`\n\n"
            "Fix: Runtime(graph, environment=Environment(model=OpenAICompatClient()))"
        )


class ToolRegistryMissingError(ModelError):
    """The model replied with tool calls but no tool registry is available.

    Fix: ``Environment(tools=ToolRegistry([...]))`` or pass ``tools=`` explicitly.
    """

    code = "tool-registry-missing"

    def __init__(self, *, tool_names: tuple[str, ...]) -> None:
        self.tool_names = tool_names
        names = ", ".join(f"`{n}`" for n in tool_names)
        super().__init__(
            f"The model called {names} but no tool registry is available\n\n"
            "Fix: Runtime(graph, environment=Environment(tools=ToolRegistry([...])))"
        )


class ModelStreamInvalidError(ModelError, ValueError):
    """A model stream broke its contract: zero or more tokens, then exactly one
    final chunk, last. Also raised for a malformed server-sent-event stream."""

    code = "model-stream-invalid"

    def __init__(self, reason: str, *, model: str = "") -> None:
        self.reason = reason
        self.model = model
        who = f"Model `{model}`" if model else "A model"
        super().__init__(f"{who} produced an invalid stream: {reason}")


class ModelResponseInvalidError(ModelError, ValueError):
    """A server's non-streamed reply is not a chat-completions response."""

    code = "model-response-invalid"

    def __init__(self, reason: str, *, body: str = "") -> None:
        self.reason = reason
        self.body = _excerpt(body)
        super().__init__(
            f"The model server's reply is not a chat completion: {reason}"
            + (f"\n\nBody: {self.body}" if self.body else "")
        )


class ModelToolLoopLimitError(ModelError):
    """The tool loop reached ``max_model_invocations`` and the model still wanted
    tools. This is a hard error, not a graceful stop, so a runaway agent cannot look
    like a finished one.

    Fix: raise ``ToolLoopConfig(max_model_invocations=...)`` or make the task easier.
    """

    code = "model-tool-loop-limit"

    def __init__(self, max_model_invocations: int) -> None:
        self.max_model_invocations = max_model_invocations
        super().__init__(
            f"The model tool loop reached max_model_invocations="
            f"{max_model_invocations} and the model still asked for tools\n\n"
            "Fix: ToolLoopConfig(max_model_invocations=...) with a larger bound"
        )


class ModelHTTPError(ModelError):
    """The model server answered with an HTTP error status (after any retries)."""

    code = "model-http-error"

    def __init__(self, status: int, *, body: str, url: str, attempts: int = 1) -> None:
        self.status = status
        self.body = _excerpt(body)
        self.url = url
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"Model server `{url}` answered HTTP {status}{tries}: {self.body}"
        )


class ModelTimeoutError(ModelError, TimeoutError):
    """Connecting, or waiting for the next bytes of a reply, took longer than the
    configured timeout. A stream that stalls mid-way raises this too."""

    code = "model-timeout"

    def __init__(self, phase: str, *, seconds: float | None, url: str) -> None:
        self.phase = phase
        self.seconds = seconds
        self.url = url
        limit = f" of {seconds:g}s" if seconds is not None else ""
        super().__init__(
            f"Model server `{url}` timed out while {phase} (timeout{limit})\n\n"
            "Fix: OpenAICompatClient(timeout=Timeouts(connect=..., read=...))"
        )


class ModelConnectionError(ModelError, ConnectionError):
    """The model server could not be reached, even after the retries."""

    code = "model-connection-error"

    def __init__(self, url: str, *, reason: str, attempts: int) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(
            f"Could not connect to model server `{url}` after {attempts} attempt"
            f"{'s' if attempts != 1 else ''}: {reason}"
        )


class UnknownToolError(ModelError, LookupError):
    """A tool call names a tool the registry does not have."""

    code = "unknown-tool"

    def __init__(self, name: str, *, available: tuple[str, ...]) -> None:
        self.name = name
        self.available = available
        listed = ", ".join(f"`{n}`" for n in available) or "none"
        super().__init__(f"Unknown tool `{name}`; the registry has {listed}")


class ToolArgumentsInvalidError(ModelError, ValueError):
    """A tool call's ``arguments_json`` is not valid JSON for the tool's parameters."""

    code = "tool-arguments-invalid"

    def __init__(self, name: str, *, call_id: str, reason: str) -> None:
        self.name = name
        self.call_id = call_id
        self.reason = reason
        super().__init__(
            f"Arguments of tool `{name}` (call `{call_id}`) are invalid: {reason}"
        )


class InvalidMessagesUpdateError(ModelError, ValueError):
    """The messages reducer was asked to remove a message id that is not there."""

    code = "invalid-messages-update"

    def __init__(self, message_id: str, *, reason: str) -> None:
        self.message_id = message_id
        self.reason = reason
        super().__init__(f"Invalid messages update for id `{message_id}`: {reason}")


class MissingTaskLocalValueError(ModelError, LookupError):
    """A node needs a task-local value (e.g. the agent's ``current_tool_call``) that
    its task was not spawned with."""

    code = "missing-task-local-value"

    def __init__(self, channel_id: str, *, node: str) -> None:
        self.channel_id = channel_id
        self.node = node
        super().__init__(
            f"Node `{node}` needs task-local channel `{channel_id}`, but its task was "
            "not spawned with a value for it\n\n"
            f"Fix: Spawn({node!r}, local={{{channel_id!r}: value}})"
        )


class CassetteError(ModelError):
    """Base for record/replay cassette problems."""

    code = "cassette-error"


class CassetteMismatchError(CassetteError):
    """A replayed request differs from the recorded one; ``path`` is the first
    differing field (e.g. ``messages[1].content``).

    Fix: re-record the cassette if the change is intended.
    """

    code = "cassette-mismatch"

    def __init__(
        self,
        cassette: str,
        *,
        index: int,
        path: str,
        expected: str,
        got: str,
    ) -> None:
        self.cassette = cassette
        self.index = index
        self.path = path
        self.expected = expected
        self.got = got
        super().__init__(
            f"A request does not match recorded call #{index} of cassette "
            f"`{cassette}`: "
            f"{path}: expected {expected}, got {got}\n\n"
            "Fix: if the change is intended, re-record the cassette "
            "(Cassette(path, mode='record'))"
        )


class CassetteExhaustedError(CassetteError):
    """Replay asked for more model calls (or a tool call) than the cassette holds."""

    code = "cassette-exhausted"

    def __init__(self, cassette: str, *, what: str) -> None:
        self.cassette = cassette
        self.what = what
        super().__init__(
            f"Cassette `{cassette}` has no recording left for {what}\n\n"
            "Fix: re-record the cassette (Cassette(path, mode='record'))"
        )


class CassetteFormatError(CassetteError, ValueError):
    """A cassette file is missing or is not a cassette this version can read."""

    code = "cassette-invalid"

    def __init__(self, cassette: str, *, reason: str) -> None:
        self.cassette = cassette
        self.reason = reason
        super().__init__(f"Cannot read cassette `{cassette}`: {reason}")


# ------------------------------------------------- message forms and LangChain interop


class MessageFormatError(ModelError, TypeError):
    """An item of a messages update is in none of the accepted forms (a
    ``ChatMessage``, a ``str``, a ``(role, content)`` tuple, a message dict or a
    LangChain message), or one of its fields is wrong. Raised by
    ``messages_reducer``; the runtime reports it as a ``reducer-error`` naming the
    channel, with this error as ``__cause__``."""

    code = "message-format"

    def __init__(self, item: str, *, index: int | None, reason: str) -> None:
        self.item = _excerpt(item, 120)
        self.index = index
        self.reason = reason
        where = (
            f"Item #{index} of a messages update"
            if index is not None
            else ("A messages update")
        )
        super().__init__(
            f"{where}, {self.item}, is not a message: {reason}\n\n"
            "Accepted: 'text' (a user message), ('user' | 'assistant' | 'system', "
            "text), ('tool', text, tool_call_id), {'role': ..., 'content': ...}, a "
            "ChatMessage or a LangChain message"
        )


class LangChainError(ModelError):
    """A LangChain chat model or tool wrapped by the ``langchain`` adapter failed,
    or gave something the adapter cannot map. ``__cause__`` is LangChain's error."""

    code = "langchain-error"

    def __init__(self, component: str, *, phase: str, reason: str) -> None:
        self.component = component
        self.phase = phase
        self.reason = reason
        super().__init__(f"LangChain {component} failed while {phase}: {reason}")
