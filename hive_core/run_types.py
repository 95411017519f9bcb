"""What a run is asked to do (``RunOptions``) and how it ended (``Outcome``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import attrs
import msgspec

from .errors import InvalidRunOptionsError
from .state._channels import Channel, ReadKey
from .state._schema import SchemaSpec
from .state._store import GlobalStore

__all__ = [
    "CheckpointPolicy",
    "Interruption",
    "Outcome",
    "RunOptions",
    "STREAM_MODES",
    "Status",
    "StepReport",
    "ThreadSnapshot",
]

T = TypeVar("T")

Status = Literal["finished", "interrupted", "cancelled", "out_of_steps"]

STREAM_MODES: frozenset[str] = frozenset(
    {"values", "updates", "messages", "custom", "events"}
)
"""The stream modes a run can be streamed in (``docs/guides/streaming.md``)."""


class Interruption(msgspec.Struct, frozen=True, kw_only=True):
    """A pending request for outside input, raised by one task's output."""

    id: str
    """HINT1 id derived from the asking task's id."""
    payload: Any
    node: str = ""
    """The node whose task asked."""


class CheckpointPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """When checkpoints are saved; an interrupt always forces exactly one save.

    One name per behaviour: ``on_interrupt()`` (the default) saves only when a step
    interrupts; ``every(n)`` also saves after each step whose next step index is a
    multiple of ``n`` (``every(1)``: after every step). See
    ``docs/concepts/checkpoints.md``.
    """

    kind: Literal["on_interrupt", "every"] = "on_interrupt"
    n: int = 1
    """For ``every``: save when the next step index is a multiple of ``n``."""

    @classmethod
    def every(cls, n: int) -> CheckpointPolicy:
        return cls(kind="every", n=n)

    @classmethod
    def on_interrupt(cls) -> CheckpointPolicy:
        return cls(kind="on_interrupt")

    @property
    def needs_store(self) -> bool:
        """``every(n)`` without a store fails before step 0; ``on_interrupt`` only
        needs one if a step actually interrupts."""
        return self.kind == "every"

    def saves_at(self, next_step: int) -> bool:
        return self.kind == "every" and next_step % self.n == 0


@attrs.frozen(kw_only=True)
class RunOptions:
    """Per-call knobs; the defaults follow the spec."""

    max_steps: int = 100
    """Steps this attempt may run (not the absolute step index)."""
    max_concurrent_tasks: int = 8
    """Async tasks in flight at once; started in ordinal order."""
    checkpoint_policy: CheckpointPolicy = attrs.field(factory=CheckpointPolicy)
    debug_payloads: bool = False
    """Put value payloads and full error reprs into events."""
    deterministic_token_streaming: bool = False
    """Buffer stream events per task and flush them in task order after compute."""
    event_buffer_capacity: int = 4096
    output_projection: Sequence[Channel[Any] | str] | None = None
    """Override the graph's output projection for this call."""
    stream_modes: Sequence[str] = ()
    """Stream modes whose data the trace must carry (``values`` adds
    ``step_values`` events, ``updates`` adds ``task_writes``); the default trace
    carries no values. ``Runtime.stream`` sets it; a service that persists events
    passes it through (``docs/guides/streaming.md``)."""

    def check_ranges(self) -> None:
        """Raise ``InvalidRunOptionsError`` for the first numeric option out of
        range (needs no schema, so the event sink can ask before it is built)."""
        for option, value, low in (
            ("max_steps", self.max_steps, 0),
            ("max_concurrent_tasks", self.max_concurrent_tasks, 1),
            ("event_buffer_capacity", self.event_buffer_capacity, 1),
        ):
            if value < low:
                raise InvalidRunOptionsError(
                    f"{option} must be >= {low}, got {value}", option=option
                )
        unknown = sorted(set(self.stream_modes) - STREAM_MODES)
        if unknown or isinstance(self.stream_modes, str):
            raise InvalidRunOptionsError(
                f"stream_modes takes a sequence of {', '.join(sorted(STREAM_MODES))}; "
                f"got {self.stream_modes!r}",
                option="stream_modes",
            )
        policy = self.checkpoint_policy
        if policy.kind == "every" and policy.n < 1:
            raise InvalidRunOptionsError(
                f"CheckpointPolicy.every(n) needs n >= 1, got {policy.n}",
                option="checkpoint_policy",
            )

    def validate(
        self, schema: SchemaSpec, default_projection: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        """Check every option against ``schema``; return the normalized output
        projection (``default_projection`` unless overridden)."""
        self.check_ranges()
        override = self.output_projection
        if override is None:
            return default_projection
        by_id = schema.by_id
        ids = sorted({c if isinstance(c, str) else c.id for c in override})
        for cid in ids:
            ch = by_id.get(cid)
            if ch is None or not ch.is_global:
                raise InvalidRunOptionsError(
                    f"output_projection names `{cid}`, which is not a global channel",
                    option="output_projection",
                )
        return tuple(ids)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """How an attempt ended, with the committed output.

    ``output`` maps channel ids to values: every global channel (sorted) or the
    projection's channels. Errors are not outcomes; they are raised. (A frozen
    msgspec struct: one is built per call, and it must cost next to nothing.)
    """

    status: Status
    output: Mapping[str, Any]
    checkpoint_id: str | None = None
    interrupt: Interruption | None = None
    max_steps: int | None = None
    """Set for ``out_of_steps``."""
    run_id: str | None = None
    """The thread's run id (stable across attempts on the thread)."""

    @overload
    def get(self, key: ReadKey[T]) -> T: ...
    @overload
    def get(self, key: str) -> object: ...
    def get(self, key: ReadKey[object] | str) -> object:
        """A projected channel's value, typed by the key."""
        cid = key if isinstance(key, str) else cast("Channel[Any]", key).id
        return self.output[cid]

    @property
    def is_finished(self) -> bool:
        return self.status == "finished"

    @property
    def is_interrupted(self) -> bool:
        return self.status == "interrupted"


@attrs.frozen(kw_only=True)
class StepReport:
    """What one committed step did, for steppers and debuggers."""

    step: int
    nodes: tuple[str, ...]
    """Node of each task, by ordinal."""
    task_ids: tuple[str, ...]
    written: tuple[str, ...]
    """Global channels written, sorted."""
    next_nodes: tuple[str, ...]
    """The next frontier's nodes, in order."""
    store: GlobalStore
    interrupt_id: str | None = None


@attrs.frozen(kw_only=True)
class ThreadSnapshot:
    """A thread's committed state, as ``Runtime.get_state`` reports it."""

    thread_id: str
    run_id: str
    step_index: int
    """The next step to run."""
    store: GlobalStore
    next_nodes: tuple[str, ...]
    """The frontier's distinct node ids, sorted."""
    interrupt: Interruption | None
    checkpoint_id: str | None
