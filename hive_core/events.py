"""Run events: frozen, tagged msgspec structs in a canonical order.

Deterministic events (run, step, task, write, checkpoint) are emitted at step
boundaries in a canonical order (docs/concepts/determinism.md), never as tasks complete, so a trace is a pure
function of graph and input. Stream events (model tokens, tool calls, debug) are
emitted live, or buffered per task and flushed in task order when
``deterministic_token_streaming`` is on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Union

import msgspec

from .errors import EventDecodeError

__all__ = [
    "CheckpointLoaded",
    "CheckpointSaved",
    "CustomDebug",
    "CustomEvent",
    "Event",
    "ModelInvocationFinished",
    "ModelBreakerChanged",
    "ModelInvocationStarted",
    "ModelToken",
    "RunCancelled",
    "RunFinished",
    "RunInterrupted",
    "RunResumed",
    "RunStarted",
    "STREAM_KINDS",
    "StepFinished",
    "StepStarted",
    "StepValues",
    "StreamBackpressure",
    "StreamEvent",
    "SubgraphEvent",
    "TaskFailed",
    "TaskFinished",
    "TaskStarted",
    "TaskWrites",
    "ToolInvocationFinished",
    "ToolInvocationStarted",
    "WriteApplied",
    "decode_event",
    "trace_to_builtins",
]


class Event(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=True
):
    """Fields every event carries; ``kind`` is the tag in encoded form."""

    run_id: str
    attempt_id: str
    index: int
    """0-based position within the attempt; dropped events consume no index."""
    step: int | None = None
    """Step index; ``None`` for run-level events."""
    ordinal: int | None = None
    """Task ordinal; ``None`` unless the event belongs to a task."""
    metadata: dict[str, str] = {}

    stream: ClassVar[bool] = False
    """Whether this kind is a node-emitted stream event."""


class RunStarted(Event, frozen=True, tag="run_started"):
    thread_id: str


class RunFinished(Event, frozen=True, tag="run_finished"):
    pass


class RunInterrupted(Event, frozen=True, tag="run_interrupted"):
    interrupt_id: str


class RunResumed(Event, frozen=True, tag="run_resumed"):
    interrupt_id: str


class RunCancelled(Event, frozen=True, tag="run_cancelled"):
    pass


class CheckpointLoaded(Event, frozen=True, tag="checkpoint_loaded"):
    checkpoint_id: str


class StepStarted(Event, frozen=True, tag="step_started"):
    frontier_count: int


class StepFinished(Event, frozen=True, tag="step_finished"):
    next_frontier_count: int


class WriteApplied(Event, frozen=True, tag="write_applied"):
    channel: str
    payload_hash: str


class TaskWrites(Event, frozen=True, tag="task_writes"):
    """One task's writes to global channels with their values (JSON-able).

    Only in the trace of a run asked for the ``updates`` stream mode
    (``RunOptions(stream_modes=...)``, ``docs/guides/streaming.md``); emitted after
    the step committed, one per task in ordinal order. A channel the task wrote
    more than once maps to the list of its writes.
    """

    node: str
    task_id: str
    writes: dict[str, Any]


class StepValues(Event, frozen=True, tag="step_values"):
    """The output channels' committed values after a step (JSON-able).

    Only in the trace of a run asked for the ``values`` stream mode. ``interrupt``
    is ``{"id", "value"}`` when the step raised an interrupt.
    """

    values: dict[str, Any]
    interrupt: dict[str, Any] | None = None


class CheckpointSaved(Event, frozen=True, tag="checkpoint_saved"):
    checkpoint_id: str


class StreamBackpressure(Event, frozen=True, tag="stream_backpressure"):
    dropped_model_tokens: int
    dropped_debug: int


class TaskStarted(Event, frozen=True, tag="task_started"):
    node: str
    task_id: str


class TaskFinished(Event, frozen=True, tag="task_finished"):
    node: str
    task_id: str


class TaskFailed(Event, frozen=True, tag="task_failed"):
    node: str
    task_id: str
    error: str
    """The error's type name, or its full repr with ``debug_payloads``."""


class StreamEvent(Event, frozen=True, kw_only=True):
    """A node-emitted event: a node builds it with its own fields only, e.g.
    ``node_input.emit(ModelToken("Hel"))``; the runtime fills in the run, attempt,
    index, step and ordinal when it emits or buffers it (``docs/agents.md``).

    The defaults below are placeholders a node never has to pass; an emitted event
    always carries the real values.
    """

    run_id: str = ""
    attempt_id: str = ""
    index: int = -1

    stream = True


class ModelInvocationStarted(StreamEvent, frozen=True, tag="model_invocation_started"):
    model: str


class ModelToken(StreamEvent, frozen=True, tag="model_token"):
    text: str


class ModelInvocationFinished(
    StreamEvent, frozen=True, tag="model_invocation_finished"
):
    pass


class ToolInvocationStarted(StreamEvent, frozen=True, tag="tool_invocation_started"):
    name: str


class ToolInvocationFinished(StreamEvent, frozen=True, tag="tool_invocation_finished"):
    name: str
    success: bool


class CustomDebug(StreamEvent, frozen=True, tag="custom_debug"):
    """Droppable: under backpressure it is counted, not delivered."""

    name: str


class SubgraphEvent(StreamEvent, frozen=True, tag="subgraph_event"):
    """An event of a child run, streamed through the parent (LangGraph's
    ``subgraphs=True``): ``namespace`` is the path of subgraph node ids from the
    parent down (nested subgraphs add one each), ``event`` the child's event as
    plain data without run and attempt ids (``docs/dsl.md#subgraphs``)."""

    namespace: tuple[str, ...]
    event: dict[str, Any]


class ModelBreakerChanged(StreamEvent, frozen=True, tag="model_breaker_changed"):
    """A model provider's ``CircuitBreaker`` changed state during this task's model
    call (``docs/observability.md#circuit-breakers-for-model-providers``).

    Deterministic: no clock reading, only the transition and the failure count.
    """

    provider: str
    state: str
    """``closed``, ``open`` or ``half_open``."""
    previous: str
    consecutive_failures: int


class CustomEvent(StreamEvent, frozen=True, tag="custom"):
    """A node's own data for the ``custom`` stream mode:
    ``ctx.emit(CustomEvent({"progress": 0.5}))``. ``data`` must be JSON-able
    (what ``msgspec.to_builtins`` accepts); never dropped."""

    data: Any


STREAM_KINDS: frozenset[str] = frozenset(
    str(cls.__struct_config__.tag)
    for cls in (
        ModelInvocationStarted,
        ModelToken,
        ModelInvocationFinished,
        ToolInvocationStarted,
        ToolInvocationFinished,
        CustomDebug,
        SubgraphEvent,
        CustomEvent,
        ModelBreakerChanged,
    )
)
"""The ``kind`` of every stream event, the events a node emits."""


def trace_to_builtins(
    events: Iterable[Event], *, ids: bool = False
) -> list[dict[str, Any]]:
    """Plain dicts for snapshots: ``kind`` first, defaults omitted.

    Run and attempt ids are dropped unless ``ids=True``: they are injected per
    attempt, and the trace's meaning does not depend on them.
    """
    out: list[dict[str, Any]] = []
    for ev in events:
        raw: dict[str, Any] = msgspec.to_builtins(ev)
        if not ids:
            raw.pop("run_id", None)
            raw.pop("attempt_id", None)
        head = {"kind": raw.pop("kind"), "index": raw.pop("index")}
        for key in ("step", "ordinal"):
            if key in raw:
                head[key] = raw.pop(key)
        out.append({**head, **raw})
    return out


_EVENT_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    RunFinished,
    RunInterrupted,
    RunResumed,
    RunCancelled,
    CheckpointLoaded,
    StepStarted,
    StepFinished,
    WriteApplied,
    TaskWrites,
    StepValues,
    CheckpointSaved,
    StreamBackpressure,
    TaskStarted,
    TaskFinished,
    TaskFailed,
    ModelInvocationStarted,
    ModelToken,
    ModelInvocationFinished,
    ToolInvocationStarted,
    ToolInvocationFinished,
    CustomDebug,
    CustomEvent,
    SubgraphEvent,
    ModelBreakerChanged,
)
_DECODER = msgspec.json.Decoder(Union[_EVENT_TYPES])  # noqa: UP007


def decode_event(data: bytes | str) -> Event:
    """One event back from ``msgspec.json.encode(event)`` (a run service's events
    table), e.g. to ``project_stream`` persisted events; raises
    ``EventDecodeError`` for anything else."""
    try:
        return _DECODER.decode(data)  # type: ignore[no-any-return]
    except msgspec.DecodeError as exc:
        raise EventDecodeError(str(exc)) from None
