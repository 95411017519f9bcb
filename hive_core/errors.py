"""Every exception Hive raises on purpose, under one root.

```
HiveError                                  catch this once
├── DefinitionError (TypeError)            misuse while declaring schemas or graphs
├── CompilationError (ValueError)          a graph is invalid; .problems lists ALL of them
├── RunError                               something went wrong while running
│   ├── InvalidRunOptionsError (ValueError)
│   ├── UnknownChannelError (LookupError)
│   ├── ScopeMismatchError (TypeError)
│   ├── ChannelTypeMismatchError (TypeError)
│   │   └── ChannelValueTypeError          wrong type inside the value ($[1], $.a)
│   ├── InterruptPayloadTypeError (TypeError)
│   ├── UpdatePolicyViolationError (ValueError)
│   ├── TaskLocalWriteNotAllowedError (ValueError)
│   ├── UnknownNodeError (LookupError)
│   ├── IndexOutOfRangeError (OverflowError)
│   ├── CodecError (ValueError)
│   ├── NodeError                          a node function raised; __cause__ is the original
│   ├── ReducerError                       a reducer raised; __cause__ is the original
│   ├── RouterError                        a router raised; __cause__ is the original
│   └── EventDecodeError (ValueError)      persisted event bytes are not a Hive event
├── CheckpointError                        persistence and resume problems
│   ├── CheckpointStoreMissingError
│   ├── CheckpointVersionMismatchError
│   ├── CheckpointCorruptError
│   ├── CheckpointDecodeError
│   ├── CheckpointEncodeError
│   ├── CheckpointNotFoundError (LookupError)
│   ├── ThreadExistsError
│   └── ResumeError                        resume/interrupt bookkeeping
│       ├── InterruptPendingError
│       ├── NoCheckpointToResumeError
│       ├── NoInterruptToResumeError
│       ├── ResumeInterruptMismatchError
│       └── ResumePayloadError (TypeError)
├── HiveInternalError                      an invariant broke inside Hive: please report
├── StoreUnavailableError                  a database server cannot be reached: retry
└── ServiceError                           the run service (hive_core.service)
    ├── ServiceConfigError (ValueError)    a configuration key, named
    ├── UnknownGraphError (LookupError)
    ├── RunNotFoundError (LookupError)
    └── RunWaitTimeoutError (TimeoutError)
```

Every class has a stable ``code`` that matches a heading in ``docs/errors.md``; every
instance keeps the facts as attributes (tests and tools read those, never the text),
and survives a pickle round-trip so executors and loggers can ship it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

__all__ = [
    "ChannelTypeMismatchError",
    "ChannelValueTypeError",
    "CheckpointCorruptError",
    "CheckpointDecodeError",
    "CheckpointEncodeError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointStoreMissingError",
    "CheckpointVersionMismatchError",
    "CodecError",
    "CompilationError",
    "DefinitionError",
    "EventDecodeError",
    "EventsNotRequestedError",
    "HiveError",
    "HiveInternalError",
    "IndexOutOfRangeError",
    "InterruptPayloadTypeError",
    "InterruptPendingError",
    "InvalidRunOptionsError",
    "NoCheckpointToResumeError",
    "NoInterruptToResumeError",
    "NodeError",
    "Problem",
    "ReducerError",
    "ResumeError",
    "ResumeInterruptMismatchError",
    "ResumePayloadError",
    "RouterError",
    "RunError",
    "ScopeMismatchError",
    "StoreUnavailableError",
    "TaskLocalWriteNotAllowedError",
    "ThreadExistsError",
    "UnknownChannelError",
    "UnknownNodeError",
    "UpdatePolicyViolationError",
]
# The run service's errors (below) are exported from ``hive_core.service``, which
# is an optional extra, not from ``hive_core``.


def _restore(cls: type[HiveError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


class HiveError(Exception):
    """Root of every error Hive raises deliberately.

    Subclasses set attributes first and then pass a finished message up; pickling
    goes through ``__reduce__`` so keyword-only constructors round-trip too.
    """

    code: ClassVar[str] = "hive-error"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _where(step: int | None = None, node: str | None = None) -> list[str]:
    parts = []
    if node is not None:
        parts.append(f"node `{node}`")
    if step is not None:
        parts.append(f"step {step}")
    return parts


def _with_context(message: str, parts: Sequence[str]) -> str:
    """``message`` with its ``- at node ..., step ...`` context.

    A one-line message ends with the context; a longer one (a ``Fix:`` line, a cause
    that has lines of its own) gets it on a line of its own right after the first
    line, so it is never glued to the end of a ``Fix:`` line (``docs/errors.md``).
    """
    if not parts:
        return message
    context = "- at " + ", ".join(parts)
    head, newline, rest = message.partition("\n")
    if not newline:
        return f"{message} {context}"
    return f"{head}\n{context}\n{rest}"


# --------------------------------------------------------------------------- define


class DefinitionError(HiveError, TypeError):
    """Raised while declaring a schema, channel or workflow that cannot work.

    The message shows the incorrect and the correct form where there is a usual fix.
    """

    code = "definition-error"

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        self.subject = subject
        super().__init__(message)


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a graph; compile collects all of them before raising."""

    code: str
    """Stable identifier, also a heading in ``docs/errors.md``."""
    message: str
    """One sentence naming the culprit."""
    subject: str = ""
    """The id (node, channel or join) the problem is about."""
    details: dict[str, str] = {}
    """Further facts, e.g. ``{"from": "A", "to": "B"}``."""


class CompilationError(HiveError, ValueError):
    """Raised by ``GraphBuilder.compile`` with every problem found, in spec order.

    Fix all listed problems; each has a ``code`` documented in ``docs/errors.md``.
    """

    code = "compilation-error"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        lines = [f"Graph failed to compile with {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  [{p.code}] {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> tuple[str, ...]:
        """The problem codes in order, handy in tests and logs."""
        return tuple(p.code for p in self.problems)


# ------------------------------------------------------------------------------ run


class RunError(HiveError):
    """Base for errors raised while a run is being prepared or executed."""

    code = "run-error"


class InvalidRunOptionsError(RunError, ValueError):
    """A run option, retry policy or output projection override is out of range."""

    code = "invalid-run-options"

    def __init__(self, message: str, *, option: str) -> None:
        self.option = option
        super().__init__(message)


class UnknownChannelError(RunError, LookupError):
    """A write, read or projection named a channel the schema does not declare."""

    code = "unknown-channel"

    def __init__(
        self, channel_id: str, *, node: str | None = None, step: int | None = None
    ) -> None:
        self.channel_id = channel_id
        self.node = node
        self.step = step
        super().__init__(
            _with_context(
                f"Unknown channel `{channel_id}`: the schema declares no such channel",
                _where(step, node),
            )
        )


class ScopeMismatchError(RunError, TypeError):
    """A global key was used where a task-local one belongs, or the reverse."""

    code = "scope-mismatch"

    def __init__(self, channel_id: str, *, expected: str, actual: str) -> None:
        self.channel_id = channel_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Channel `{channel_id}` is {actual}, but a {expected} channel was expected"
        )


class ChannelTypeMismatchError(RunError, TypeError):
    """A value's runtime class does not match its channel's declared type."""

    code = "channel-type-mismatch"

    def __init__(
        self,
        channel_id: str,
        *,
        expected: str,
        actual: str,
        node: str | None = None,
        step: int | None = None,
    ) -> None:
        self.channel_id = channel_id
        self.expected = expected
        self.actual = actual
        self.node = node
        self.step = step
        super().__init__(
            _with_context(
                f"Channel `{channel_id}` expects {expected}, got {actual}",
                _where(step, node),
            )
        )


class ChannelValueTypeError(ChannelTypeMismatchError):
    """A written value has the right outer class but does not match its channel's
    declared type further in (``[1, 2]`` for ``list[str]``), so no store could save
    it and load it back."""

    code = "channel-value-type"

    def __init__(
        self,
        channel_id: str,
        *,
        path: str,
        expected: str,
        actual: str,
        node: str | None = None,
        step: int | None = None,
    ) -> None:
        self.path = path
        """Where in the value, e.g. ``$[1]`` or ``$.tags[0]``."""
        self.channel_id = channel_id
        self.expected = expected
        self.actual = actual
        self.node = node
        self.step = step
        RunError.__init__(
            self,
            _with_context(
                f"Channel `{channel_id}` expects {expected} at {path}, got {actual}",
                _where(step, node),
            ),
        )


class InterruptPayloadTypeError(RunError, TypeError):
    """A node asked to interrupt with a payload that does not match the schema's
    declared ``interrupt_payload`` type, so the pause could not be saved or resumed."""

    code = "interrupt-payload-type"

    def __init__(
        self,
        node: str,
        *,
        path: str,
        expected: str,
        actual: str,
        step: int | None = None,
    ) -> None:
        self.node = node
        self.path = path
        self.expected = expected
        self.actual = actual
        self.step = step
        super().__init__(
            _with_context(
                f"Interrupt payload expects {expected} at {path}, got {actual}",
                _where(step, node),
            )
        )


class UpdatePolicyViolationError(RunError, ValueError):
    """A single-writer channel received more than one write in one commit."""

    code = "update-policy-violation"

    def __init__(
        self, channel_id: str, *, policy: str, write_count: int, step: int | None = None
    ) -> None:
        self.channel_id = channel_id
        self.policy = policy
        self.write_count = write_count
        self.step = step
        super().__init__(
            _with_context(
                f"Channel `{channel_id}` has update policy `{policy}` but received "
                f"{write_count} writes in one commit\n\n"
                "Fix: declare the channel with update='multi' and a reducer that "
                "combines writes, or make sure only one task writes it per step.",
                _where(step),
            )
        )


class TaskLocalWriteNotAllowedError(RunError, ValueError):
    """Input or external writes may only target global channels."""

    code = "task-local-write-not-allowed"

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        super().__init__(
            f"Channel `{channel_id}` is task-local; input and external writes may only "
            "target global channels"
        )


class UnknownNodeError(RunError, LookupError):
    """A node output, router or resume named a node the graph does not have."""

    code = "unknown-node"

    def __init__(self, node_id: str, *, step: int | None = None) -> None:
        self.node_id = node_id
        self.step = step
        super().__init__(
            _with_context(f"Unknown node `{node_id}` was scheduled", _where(step))
        )


class IndexOutOfRangeError(RunError, OverflowError):
    """A step index or task ordinal no longer fits the u32 the hash layouts use."""

    code = "index-out-of-range"

    def __init__(self, what: str, value: int) -> None:
        self.what = what
        self.value = value
        super().__init__(f"{what} {value} does not fit in an unsigned 32-bit integer")


class CodecError(RunError, ValueError):
    """A channel codec failed to encode or decode a value."""

    code = "codec-error"

    def __init__(self, channel_id: str, *, codec_id: str, operation: str, reason: str):
        self.channel_id = channel_id
        self.codec_id = codec_id
        self.operation = operation
        self.reason = reason
        super().__init__(
            f"Codec `{codec_id}` failed to {operation} channel `{channel_id}`: {reason}"
        )


class NodeError(RunError):
    """A node function raised; the original exception is ``__cause__``.

    When several tasks fail in one step, the one with the smallest ordinal is raised.
    """

    code = "node-error"

    def __init__(
        self, node_id: str, *, step: int, task_id: str, attempts: int, cause: str
    ) -> None:
        self.node_id = node_id
        self.step = step
        self.task_id = task_id
        self.attempts = attempts
        plural = "s" if attempts != 1 else ""
        super().__init__(
            _with_context(
                f"Node `{node_id}` raised {cause}",
                [
                    *_where(step),
                    f"task {task_id[:12]}",
                    f"after {attempts} attempt{plural}",
                ],
            )
        )


class ReducerError(RunError):
    """A reducer raised while folding writes; nothing of the step was committed."""

    code = "reducer-error"

    def __init__(self, channel_id: str, *, step: int | None, cause: str) -> None:
        self.channel_id = channel_id
        self.step = step
        super().__init__(
            _with_context(
                f"Reducer of channel `{channel_id}` raised {cause}", _where(step)
            )
        )


class EventDecodeError(RunError, ValueError):
    """Bytes given to ``decode_event`` are not one encoded Hive event."""

    code = "event-decode-failed"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Could not decode an event: {reason}\n"
            "Fix: pass the bytes `msgspec.json.encode(event)` gave for one event "
            "of this Hive version (docs/guides/streaming.md)."
        )


class RouterError(RunError):
    """A router raised or returned something that is not a routing decision."""

    code = "router-error"

    def __init__(self, node_id: str, *, step: int, cause: str) -> None:
        self.node_id = node_id
        self.step = step
        super().__init__(
            _with_context(
                f"Router after node `{node_id}` failed: {cause}", _where(step)
            )
        )


# ----------------------------------------------------------------------- checkpoints


class CheckpointError(HiveError):
    """Base for checkpoint storage, decoding and resume errors."""

    code = "checkpoint-error"


class CheckpointStoreMissingError(CheckpointError):
    """The operation needs a checkpoint store but the runtime has none."""

    code = "checkpoint-store-missing"

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"{operation} needs a checkpoint store, but the runtime has none\n\n"
            "Fix: Runtime(graph, checkpoint_store=SQLiteCheckpointStore('hive.db'))"
        )


class CheckpointVersionMismatchError(CheckpointError):
    """A checkpoint was written by a different schema or graph version."""

    code = "checkpoint-version-mismatch"

    def __init__(
        self,
        *,
        expected_schema: str,
        expected_graph: str,
        found_schema: str,
        found_graph: str,
    ) -> None:
        self.expected_schema = expected_schema
        self.expected_graph = expected_graph
        self.found_schema = found_schema
        self.found_graph = found_graph
        super().__init__(
            "Checkpoint versions do not match the compiled graph: expected schema "
            f"{expected_schema[:12]}/graph {expected_graph[:12]}, found schema "
            f"{found_schema[:12]}/graph {found_graph[:12]}\n\n"
            "Fix: run the thread with the graph that wrote it, or move the thread to "
            "the new graph with `migrate_checkpoint(old_graph, new_graph, store, "
            "thread_id)` from hive_core.persistence (`WorkflowPatch.migrate` for a "
            "patched DSL graph), or start a new thread."
        )


class CheckpointCorruptError(CheckpointError):
    """A checkpoint field is structurally wrong (bad length, extra or missing keys)."""

    code = "checkpoint-corrupt"

    def __init__(
        self,
        field: str,
        *,
        checkpoint_id: str = "",
        reason: str = "",
        thread_id: str = "",
    ) -> None:
        self.field = field
        self.checkpoint_id = checkpoint_id
        self.reason = reason
        self.thread_id = thread_id
        suffix = f" in checkpoint {checkpoint_id[:12]}" if checkpoint_id else ""
        if thread_id:
            suffix += f" of thread `{thread_id}`"
        super().__init__(
            f"Checkpoint field `{field}` is corrupt{suffix}"
            + (f": {reason}" if reason else "")
        )


class CheckpointDecodeError(CheckpointError):
    """A checkpoint (or one channel in it) could not be decoded."""

    code = "checkpoint-decode-failed"

    def __init__(self, subject: str, *, checkpoint_id: str = "", reason: str) -> None:
        self.subject = subject
        self.checkpoint_id = checkpoint_id
        self.reason = reason
        suffix = f" in checkpoint {checkpoint_id[:12]}" if checkpoint_id else ""
        super().__init__(f"Could not decode `{subject}`{suffix}: {reason}")


class CheckpointEncodeError(CheckpointError):
    """A channel value could not be encoded while building a checkpoint."""

    code = "checkpoint-encode-failed"

    def __init__(self, channel_id: str, *, reason: str) -> None:
        self.channel_id = channel_id
        self.reason = reason
        super().__init__(f"Could not encode channel `{channel_id}`: {reason}")


class CheckpointNotFoundError(CheckpointError, LookupError):
    """No checkpoint with that id exists for the thread."""

    code = "checkpoint-not-found"

    def __init__(self, thread_id: str, checkpoint_id: str) -> None:
        self.thread_id = thread_id
        self.checkpoint_id = checkpoint_id
        super().__init__(f"Thread `{thread_id}` has no checkpoint `{checkpoint_id}`")


class ThreadExistsError(CheckpointError):
    """``fork`` was asked to create a thread that already has state."""

    code = "thread-exists"

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"Thread `{thread_id}` already exists; fork into a new thread id"
        )


class ResumeError(CheckpointError):
    """Base for errors about pending interrupts and resuming them."""

    code = "resume-error"


class InterruptPendingError(ResumeError):
    """``run`` or external writes were attempted on a thread waiting for a resume."""

    code = "interrupt-pending"

    def __init__(self, thread_id: str, interrupt_id: str) -> None:
        self.thread_id = thread_id
        self.interrupt_id = interrupt_id
        super().__init__(
            f"Thread `{thread_id}` is waiting on interrupt `{interrupt_id}`; nothing "
            "was changed\n\nFix: runtime.resume(thread_id, interrupt_id, payload)"
        )


class NoCheckpointToResumeError(ResumeError):
    """``resume`` found no checkpoint for the thread."""

    code = "no-checkpoint-to-resume"

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(f"Thread `{thread_id}` has no checkpoint to resume from")


class NoInterruptToResumeError(ResumeError):
    """``resume`` was called but the latest checkpoint has no pending interrupt."""

    code = "no-interrupt-to-resume"

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(f"Thread `{thread_id}` has no pending interrupt to resume")


class ResumeInterruptMismatchError(ResumeError):
    """``resume`` named an interrupt id other than the pending one."""

    code = "resume-interrupt-mismatch"

    def __init__(self, *, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            f"Resume names interrupt `{found}`, but the pending one is `{expected}`"
        )


class ResumePayloadError(ResumeError, TypeError):
    """A resume payload does not convert to the schema's declared resume type."""

    code = "resume-payload-invalid"

    def __init__(self, *, expected: str, reason: str) -> None:
        self.expected = expected
        self.reason = reason
        super().__init__(
            f"Resume payload does not match the declared type {expected}: {reason}"
        )


class HiveInternalError(HiveError):
    """An invariant inside Hive broke. This is a bug in Hive: please report it."""

    code = "internal-error"


class EventsNotRequestedError(RunError, RuntimeError):
    """``handle.events`` was asked for after the run had already started."""

    code = "events-not-requested"

    def __init__(self, attempt_id: str) -> None:
        self.attempt_id = attempt_id
        super().__init__(
            f"The events of attempt {attempt_id} were not requested before the run "
            "started, so none were built"
            + "\n\nFix: iterate handle.events before awaiting the outcome"
        )


# --------------------------------------------------------------------------- stores


class StoreUnavailableError(HiveError):
    """A store's database server could not be reached or dropped the connection.

    Nothing was changed that the caller did not see succeed: a save either committed
    before the failure (and a retry rewrites the same checkpoint) or not at all.
    ``retryable`` says so to generic retry loops. ``target`` is
    ``host:port/database``; the password of the URL is never included.
    """

    code = "store-unavailable"
    retryable: ClassVar[bool] = True

    def __init__(self, store: str, *, target: str, operation: str, reason: str) -> None:
        self.store = store
        self.target = target
        self.operation = operation
        self.reason = reason
        super().__init__(
            f"{store} cannot reach {target} during `{operation}`: {reason}\n\n"
            "Fix: check that the server is running and reachable, then retry; "
            "the operation is safe to repeat."
        )


# -------------------------------------------------------------------------- service


class ServiceError(HiveError):
    """The run service (``hive_core.service``) was misused or misconfigured."""

    code = "service-error"


class ServiceConfigError(ServiceError, ValueError):
    """A configuration key of the run service has a value it cannot use.

    ``key`` is the key as written in the file (``retry.max_attempts``) or the file
    path when the file itself cannot be read; ``expected`` says what would do.
    """

    code = "service-config-invalid"

    def __init__(self, key: str, expected: str, got: object) -> None:
        self.key = key
        self.expected = expected
        self.got = repr(got)
        super().__init__(
            f"service configuration `{key}` must be {expected}, got {got!r}\n\n"
            f"Fix: correct `{key}` in the [service] table of the configuration "
            f"file or in HIVE_SERVICE_{key.replace('.', '_').upper()}"
        )


class UnknownGraphError(ServiceError, LookupError):
    """A run names a graph no worker registered under that name."""

    code = "service-unknown-graph"

    def __init__(self, graph: str, known: Sequence[str]) -> None:
        self.graph = graph
        self.known = tuple(known)
        names = ", ".join(f"`{k}`" for k in self.known) or "none"
        super().__init__(
            f"no graph is registered as `{graph}` (registered: {names})\n\n"
            "Fix: call service.register(name, graph) with this name in every worker"
        )


class RunNotFoundError(ServiceError, LookupError):
    """The service has no run with this id (or no run on this thread)."""

    code = "service-run-not-found"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"the service has no run `{run_id}`\n\n"
            "Fix: use an id returned by submit/resume, or list the runs"
        )


class RunWaitTimeoutError(ServiceError, TimeoutError):
    """``result(run_id, timeout=...)`` gave up before the run ended."""

    code = "service-result-timeout"

    def __init__(self, run_id: str, timeout: float, status: str) -> None:
        self.run_id = run_id
        self.timeout = timeout
        self.status = status
        super().__init__(
            f"run `{run_id}` did not end within {timeout} s (status `{status}`)\n\n"
            "Fix: wait longer, or check the workers (client.workers())"
        )
