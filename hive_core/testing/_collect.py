"""Running one traced run, shared by ``Tracer`` and ``check_determinism``.

Collecting a run's events without losing them to the run's error, preparing the
environment (a fake clock unless the caller chose a clock), and forcing task-ordered
stream events, so a trace depends on the graph and input alone (see
``docs/testing.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ..environment import Clock, Environment, SystemClock
from ..events import Event
from ..run_types import CheckpointPolicy, Outcome, RunOptions
from ..runtime import RunHandle, Runtime
from ._trace import Trace

__all__ = ["collect", "finish", "prepare_environment", "trace_options"]


def prepare_environment(environment: Environment | None, clock: Clock) -> Environment:
    """``environment`` with ``clock`` in place of the real clock."""
    if environment is None:
        return Environment(clock=clock)
    if isinstance(environment.clock, SystemClock):
        return attrs.evolve(environment, clock=clock)
    return environment


_AT_INTERRUPTS = CheckpointPolicy.on_interrupt()


def trace_options(options: RunOptions | None) -> RunOptions:
    """Stream events buffered per task and flushed in task order: without it their
    interleaving across concurrent tasks depends on timing. A trace saves
    checkpoints only at interrupts unless the options ask for more, so it records
    the graph's behaviour, not the store's default policy (``docs/testing.md``)."""
    base = options if options is not None else RunOptions()
    if base.checkpoint_policy is None:
        base = attrs.evolve(base, checkpoint_policy=_AT_INTERRUPTS)
    if base.deterministic_token_streaming:
        return base
    return attrs.evolve(base, deterministic_token_streaming=True)


async def collect(
    handle: RunHandle,
) -> tuple[list[Event], Outcome | None, Exception | None]:
    """Every event the run emitted, and its outcome or its error."""
    events: list[Event] = []
    error: Exception | None = None
    try:
        async for ev in handle.events:
            events.append(ev)
    except Exception as exc:
        error = exc
    outcome: Outcome | None = None
    try:
        outcome = await handle
    except Exception as exc:
        error = error if error is not None else exc
    return events, outcome, error


async def finish(
    runtime: Runtime, thread_id: str, handle: RunHandle, *, capture_errors: bool
) -> Trace:
    """Run ``handle`` to the end and build its ``Trace``.

    A run error is raised (with the trace so far as a note) unless captured.
    """
    events, outcome, error = await collect(handle)
    store = runtime.get_latest_store(thread_id)
    values: Mapping[str, object] = store.to_dict() if store is not None else {}
    trace = Trace(events=events, store=values, outcome=outcome, error=error)
    if error is not None and not capture_errors:
        error.add_note("hive trace up to the error:\n" + trace.to_text())
        raise error
    return trace
