"""Fixtures for the DSL tests: deterministic runtimes and a traced run.

Helpers are fixtures (not imports from a sibling module) so the suite works under
every pytest import mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hive_core import CompiledGraph, Environment, Outcome, RunOptions, Runtime
from hive_core.events import trace_to_builtins
from hive_core.testing import FakeClock, SequentialIds
from hive_dsl._scope import open_scopes

MakeRuntime = Callable[..., Runtime]
Traced = tuple[Outcome, list[dict[str, Any]]]
RunTraced = Callable[..., Traced]


@pytest.fixture(autouse=True)
def _no_builder_left_open() -> Iterator[None]:
    """Every test must close the builders it opens (the stack is a ContextVar)."""
    assert open_scopes() == ()
    yield
    assert open_scopes() == (), "a test left a `with` builder open"


@pytest.fixture
def make_runtime() -> MakeRuntime:
    """``make_runtime(graph, **kwargs)``: sequential ids and a fake clock."""

    def make(graph: CompiledGraph, **kwargs: Any) -> Runtime:
        kwargs.setdefault("ids", SequentialIds())
        kwargs.setdefault("environment", Environment(clock=FakeClock()))
        return Runtime(graph, **kwargs)

    return make


def _run_traced(
    rt: Runtime,
    thread_id: str,
    input: object = None,
    options: RunOptions | None = None,
) -> Traced:
    async def go() -> Traced:
        handle = rt.run(thread_id, input, options)
        events = [ev async for ev in handle.events]
        return await handle, trace_to_builtins(events)

    return asyncio.run(go())


@pytest.fixture
def run_traced() -> RunTraced:
    """``run_traced(runtime, thread, input, options)`` -> (outcome, trace builtins)."""
    return _run_traced
