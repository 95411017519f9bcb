"""Errors raised while a run is prepared or executed."""

from __future__ import annotations

from .base import HiveError, _where, _with_context

__all__ = [
    "RunError",
    "InvalidRunOptionsError",
    "UnknownChannelError",
    "ScopeMismatchError",
    "ChannelTypeMismatchError",
    "ChannelValueTypeError",
    "InterruptPayloadTypeError",
    "UpdatePolicyViolationError",
    "TaskLocalWriteNotAllowedError",
    "UnknownNodeError",
    "IndexOutOfRangeError",
    "CodecError",
    "NodeError",
    "ReducerError",
    "RouterError",
    "EventsNotRequestedError",
    "EventDecodeError",
    "NodeOutputError",
    "WritesArgumentError",
    "InterruptRepeatedError",
]


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


class NodeOutputError(RunError, TypeError):
    """A ``NodeOutput`` was built with a field of the wrong shape (a single
    ``Write`` where a list of them goes, a str as ``next``), so the commit could
    not read it. Raised at construction; inside a node it also is a ``NodeError``."""

    code = "node-output-invalid"

    def __init__(self, field: str, *, expected: str, actual: str, fix: str) -> None:
        self.field = field
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"NodeOutput({field}=...) expects {expected}, got {actual}\n\nFix: {fix}"
        )


class WritesArgumentError(RunError, TypeError):
    """``apply_external_writes`` or ``fork(..., writes=...)`` was given something
    other than a list of ``Write`` (a single ``Write``, a dict), or a schema's
    ``input_writes`` returned something else; nothing changed."""

    code = "writes-invalid"

    def __init__(self, operation: str, *, expected: str, actual: str) -> None:
        self.operation = operation
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{operation} expects {expected}, got {actual}\n\n"
            "Fix: pass a list of Write, e.g. [Write(Schema.channel, value)]"
        )


class InterruptRepeatedError(RunError):
    """``ctx.interrupt(...)`` was called twice in one run of a node.

    A resume carries one answer, which the first call returns; a second question
    in the same run could never get its own answer. See
    ``docs/concepts/interrupts.md#inline-interrupts``.
    """

    code = "interrupt-repeated"

    def __init__(self, node_id: str, *, step: int) -> None:
        self.node_id = node_id
        self.step = step
        super().__init__(
            _with_context(
                "ctx.interrupt() was called a second time in one run of the node; "
                "each run can ask one question",
                _where(step, node_id),
            )
            + "\n\nFix: ask once per run; to ask again, end the run routing to the "
            "node itself (GoTo(ctx.node_id) or next=[ctx.node_id]) and call "
            "ctx.interrupt() in that run, or split the questions across nodes"
        )
