"""Fixtures for the model and tool tests: an event recorder standing in for
``NodeInput.emit``, small tool registries, deterministic runtimes and traced runs.

Helpers are fixtures (not imports from a sibling module) so the suite works under
every pytest import mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from hive_core import (
    CompiledGraph,
    Environment,
    InMemoryCheckpointStore,
    Outcome,
    RunOptions,
    Runtime,
)
from hive_core.events import StreamEvent, trace_to_builtins
from hive_core.models import ModelClient, ToolProvider, ToolRegistry
from hive_core.testing import FakeClock, SequentialIds


@attrs.define
class Recorder:
    """Collects the stream events passed to ``emit(event)``."""

    events: list[StreamEvent] = attrs.field(factory=list)

    def __call__(self, event: StreamEvent, /) -> None:
        self.events.append(event)

    @property
    def kinds(self) -> list[str]:
        return [str(e.__struct_config__.tag) for e in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def lookup(key: str) -> str:
    """Look a key up (async)."""
    return f"value-of-{key}"


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([add, lookup, explode])


Traced = tuple[Outcome, list[dict[str, Any]]]


def _traced(
    rt: Runtime,
    thread_id: str,
    input: object = None,
    *,
    resume: tuple[str, object] | None = None,
) -> Traced:
    """Run (or resume) with deterministic streaming; return outcome and events."""
    options = RunOptions(deterministic_token_streaming=True)

    async def go() -> Traced:
        if resume is None:
            handle = rt.run(thread_id, input, options)
        else:
            handle = rt.resume(thread_id, resume[0], resume[1], options)
        events = [ev async for ev in handle.events]
        return await handle, trace_to_builtins(events)

    return asyncio.run(go())


@pytest.fixture
def traced() -> Callable[..., Traced]:
    """``traced(runtime, thread, input, resume=(id, payload))`` -> (outcome, events)."""
    return _traced


@pytest.fixture
def make_runtime() -> Callable[..., Runtime]:
    """``make_runtime(graph, model=..., tools=..., store=True)``: sequential ids, a
    fake clock and an in-memory checkpoint store."""

    def make(
        graph: CompiledGraph,
        *,
        model: ModelClient | None = None,
        tools: ToolProvider | None = None,
        store: bool = True,
    ) -> Runtime:
        return Runtime(
            graph,
            environment=Environment(clock=FakeClock(), model=model, tools=tools),
            checkpoint_store=InMemoryCheckpointStore() if store else None,
            ids=SequentialIds(),
        )

    return make
