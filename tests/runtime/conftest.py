"""Fixtures for the interpreter tests: runtimes with injected ids and clock, and a
collector that runs a graph while listening to its events.

Helpers are handed out as fixtures (not imported from a sibling module) so the
suite works under every pytest import mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
import msgspec
import pytest

from hive_core import CompiledGraph, Outcome, RunHandle, RunOptions, Runtime
from hive_core.environment import Environment
from hive_core.events import Event, trace_to_builtins
from hive_core.testing import FakeClock, SequentialIds


@attrs.define
class Collected:
    """What one listened-to run produced."""

    handle: RunHandle
    events: list[Event]
    outcome: Outcome | None = None
    error: BaseException | None = None
    """Raised by awaiting the outcome."""
    stream_error: BaseException | None = None
    """Raised at the end of the event stream."""

    @property
    def kinds(self) -> list[str]:
        return [kind_of(e) for e in self.events]

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if kind_of(e) == kind]


def kind_of(ev: Event) -> str:
    return msgspec.to_builtins(ev)["kind"]  # type: ignore[no-any-return]


MakeRuntime = Callable[..., Runtime]
Collect = Callable[..., Coroutine[Any, Any, Collected]]
TraceDoc = Callable[..., dict[str, Any]]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_runtime(fake_clock: FakeClock) -> MakeRuntime:
    """``make_runtime(graph)``: a runtime with sequential ids and the fake clock."""

    def make(graph: CompiledGraph, *, clock: Any = None) -> Runtime:
        return Runtime(
            graph,
            environment=Environment(clock=clock if clock is not None else fake_clock),
            ids=SequentialIds(),
        )

    return make


async def _collect(
    rt: Runtime,
    thread_id: str,
    input: object = None,
    options: RunOptions | None = None,
    *,
    on_event: Callable[[Event, RunHandle], Any] | None = None,
) -> Collected:
    """Run with events; never raises the run's error (it is recorded instead)."""
    handle = rt.run(thread_id, input, options)
    got = Collected(handle=handle, events=[])
    try:
        async for ev in handle.events:
            got.events.append(ev)
            if on_event is not None:
                res = on_event(ev, handle)
                if asyncio.iscoroutine(res):
                    await res
    except Exception as exc:
        got.stream_error = exc
    try:
        got.outcome = await handle
    except Exception as exc:
        got.error = exc
    return got


@pytest.fixture
def collect() -> Collect:
    """``await collect(rt, thread, input, options, on_event=...)`` → ``Collected``."""
    return _collect


def _doc(got: Collected, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"events": trace_to_builtins(got.events)}
    if got.outcome is not None:
        o = got.outcome
        summary: dict[str, Any] = {
            "status": o.status,
            "output": msgspec.to_builtins(dict(o.output), order="deterministic"),
        }
        if o.max_steps is not None:
            summary["max_steps"] = o.max_steps
        out["outcome"] = summary
    if got.error is not None:
        err = got.error
        out["error"] = {"type": type(err).__name__, "message": str(err)}
        if err.__cause__ is not None:
            out["error"]["cause"] = type(err.__cause__).__name__
    out.update(extra)
    return out


@pytest.fixture
def trace_doc() -> TraceDoc:
    """``trace_doc(collected, **extra)``: normalized builtins for a snapshot."""
    return _doc
