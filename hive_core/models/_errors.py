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
        ├── ModelLimitError                     a configured bound of the adapter was hit
        │   ├── ModelResponseTooLargeError      a body, SSE line or SSE event is too big
        │   ├── ModelDeadlineExceededError (TimeoutError)
        │   │                                   the whole call took longer than allowed
        │   └── ModelRetryBudgetExceededError   retrying would wait longer than allowed
        ├── UnknownToolError (LookupError)      a call names a tool the registry lacks
        ├── ToolArgumentsInvalidError (ValueError)
        │                                       a call's JSON arguments fail validation
        ├── ToolContextMissingError             a tool needs the environment, none given
        ├── InvalidMessagesUpdateError (ValueError)
        │                                       the messages reducer got a bad update
        ├── MissingTaskLocalValueError (LookupError)
        │                                       a task-local input was never set
        ├── CommandError                        run_command could not run a command
        │   ├── CommandInvalidError (ValueError)
        │   │                                   argv is not a list of str, bad option
        │   └── CommandStartError               the OS refused to start it
        │       └── CommandNotFoundError (LookupError)
        │                                       argv[0] does not exist
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
    "CommandError",
    "CommandInvalidError",
    "CommandNotFoundError",
    "CommandStartError",
    "InvalidMessagesUpdateError",
    "MissingTaskLocalValueError",
    "ModelClientMissingError",
    "ModelConnectionError",
    "ModelError",
    "ModelDeadlineExceededError",
    "ModelHTTPError",
    "ModelLimitError",
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
    """The model server answered with an HTTP error status (after any retries).

    ``body`` is what was read of the error body: at most
    ``Limits.max_error_body_bytes``; ``body_limit`` is that limit when the body was
    longer and was cut there (``None`` when it was read whole).
    """

    code = "model-http-error"

    def __init__(
        self,
        status: int,
        *,
        body: str,
        url: str,
        attempts: int = 1,
        body_limit: int | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.url = url
        self.attempts = attempts
        self.body_limit = body_limit
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        cut = (
            f" (body cut at Limits.max_error_body_bytes={body_limit})"
            if body_limit is not None
            else ""
        )
        super().__init__(
            f"Model server `{url}` answered HTTP {status}{tries}: {_excerpt(body)}{cut}"
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
            "Fix: OpenAICompatClient(timeouts=Timeouts(connect=..., read=...))"
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


class ModelLimitError(ModelError):
    """Base for the adapter's configured bounds: ``limit`` names the setting (e.g.
    ``Limits.max_response_bytes``) and ``value`` is its value. Never raised bare.

    See ``docs/agents.md`` (the OpenAI-compatible adapter) for the defaults.
    """

    code = "model-limit-exceeded"

    def __init__(self, message: str, *, limit: str, value: float, url: str) -> None:
        self.limit = limit
        self.value = value
        self.url = url
        super().__init__(message)


class ModelResponseTooLargeError(ModelLimitError):
    """A reply (``what``: the response body, one SSE line or one SSE event) is
    larger than its limit; reading stopped there, so memory stays bounded."""

    code = "model-response-too-large"

    def __init__(self, what: str, *, limit: str, value: int, url: str) -> None:
        self.what = what
        super().__init__(
            f"Model server `{url}` sent {what} larger than {limit}={value} bytes; "
            "reading stopped there\n\n"
            "Fix: if replies this large are expected, raise the limit: "
            f"OpenAICompatClient(limits=Limits({limit.split('.')[-1]}=...))",
            limit=limit,
            value=value,
            url=url,
        )


class ModelDeadlineExceededError(ModelLimitError, TimeoutError):
    """The whole call (retries, waits and every byte of a stream included) took
    longer than ``Timeouts.deadline`` seconds; ``phase`` says what it was doing."""

    code = "model-deadline-exceeded"

    def __init__(self, phase: str, *, value: float, url: str) -> None:
        self.phase = phase
        super().__init__(
            f"Model server `{url}`: the call exceeded Timeouts.deadline={value:g}s "
            f"while {phase}\n\n"
            "Fix: OpenAICompatClient(timeouts=Timeouts(deadline=...)) with a longer "
            "deadline, or ask for less (ChatRequest(max_tokens=...))",
            limit="Timeouts.deadline",
            value=value,
            url=url,
        )


class ModelRetryBudgetExceededError(ModelLimitError):
    """Another retry would wait ``wanted`` seconds (backoff or the server's
    ``Retry-After``), more than is left of ``Retries.budget``; the call fails now
    instead of sleeping only to give up. ``last`` is the failure being retried (also
    the ``__cause__``)."""

    code = "model-retry-budget-exceeded"

    def __init__(
        self,
        *,
        value: float,
        spent: float,
        wanted: float,
        attempts: int,
        last: str,
        url: str,
    ) -> None:
        self.spent = spent
        self.wanted = wanted
        self.attempts = attempts
        self.last = last
        super().__init__(
            f"Model server `{url}`: {last} after {attempts} attempt"
            f"{'s' if attempts != 1 else ''}; the next retry would wait {wanted:g}s "
            f"but only {max(value - spent, 0.0):g}s of Retries.budget={value:g}s "
            "is left\n\n"
            "Fix: OpenAICompatClient(retries=Retries(budget=...)) with a larger "
            "budget, or try again later",
            limit="Retries.budget",
            value=value,
            url=url,
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


class ToolContextMissingError(ModelError):
    """A tool declares a ``ToolContext`` (or ``Environment``) parameter but was
    invoked without an environment to fill it.

    Fix: invoke through ``bind_environment(tools, environment)``; the prebuilt agent
    and ``ModelTurn`` do this with the run's environment.
    """

    code = "tool-context-missing"

    def __init__(self, name: str, *, call_id: str) -> None:
        self.name = name
        self.call_id = call_id
        super().__init__(
            f"Tool `{name}` (call `{call_id}`) needs the run's environment, but it "
            "was invoked without one\n\n"
            "Fix: bind_environment(tools, node_input.environment).invoke(call)"
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


class CommandError(ModelError):
    """Base for the errors of :func:`hive_core.models.run_command`; ``argv`` is the
    command as given. Never raised bare. A command that runs and fails (non-zero
    exit, killed, timed out) is not an error: it is data in ``CommandResult``."""

    code = "command-error"

    def __init__(self, message: str, *, argv: tuple[str, ...]) -> None:
        self.argv = argv
        super().__init__(message)


def _shown(argv: tuple[str, ...]) -> str:
    return _excerpt(" ".join(argv) if argv else "<empty>")


class CommandInvalidError(CommandError, ValueError):
    """``run_command`` was called with something it cannot run: ``what`` names the
    argument (``argv``, ``argv[2]``, ``timeout``, ...) and ``reason`` says why."""

    code = "command-invalid"

    def __init__(self, what: str, *, reason: str, argv: tuple[str, ...] = ()) -> None:
        self.what = what
        self.reason = reason
        fix = (
            "\n\nFix: run_command(['program', 'arg', ...], timeout=...) with every "
            "argument a str (no shell)"
            if what.startswith("argv")
            else ""
        )
        super().__init__(
            f"Cannot run command `{_shown(argv)}`: {what} {reason}{fix}", argv=argv
        )


class CommandStartError(CommandError):
    """The operating system refused to start the command: ``reason`` is its answer
    (permission denied, exec format error, a missing working directory) and
    ``errno`` its number."""

    code = "command-start-failed"

    def __init__(
        self, *, argv: tuple[str, ...], reason: str, errno: int | None = None
    ) -> None:
        self.reason = reason
        self.errno = errno
        super().__init__(
            f"Could not start command `{_shown(argv)}`: {reason}", argv=argv
        )


class CommandNotFoundError(CommandStartError, LookupError):
    """The command's executable (``argv[0]``) does not exist: not on ``PATH``, or
    no file at that path.

    Fix: install it, or pass its absolute path as ``argv[0]``.
    """

    code = "command-not-found"

    def __init__(self, *, argv: tuple[str, ...], errno: int | None = None) -> None:
        CommandStartError.__init__(
            self,
            argv=argv,
            reason=f"executable `{argv[0]}` not found "
            + ("(no such file)" if "/" in argv[0] else "on PATH")
            + "\n\nFix: install it, or give its absolute path as argv[0]",
            errno=errno,
        )
