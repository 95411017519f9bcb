"""The DSL examples run, print what they promise, and keep their event traces.

Each example is imported as a module and its ``main()`` is run with the module's
``Runtime`` swapped for a recording subclass (sequential ids, fake clock): every
``run_sync`` / ``resume_sync`` then goes through ``run().events``, and the traces
plus the printed output are pinned by a snapshot. Each script also runs as
``__main__`` with the real ``Runtime`` and must print the same thing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core import Environment, Outcome, RunHandle, RunOptions, Runtime
from hive_core.events import trace_to_builtins
from hive_core.testing import FakeClock, SequentialIds

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["hello", "branching", "fanout_join", "approval", "patching", "subgraph"]


class RecordingRuntime(Runtime):
    """A ``Runtime`` whose sync calls record their event traces."""

    traces: ClassVar[list[list[dict[str, Any]]]] = []

    def __init__(self, graph: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ids", SequentialIds())
        kwargs.setdefault("environment", Environment(clock=FakeClock()))
        super().__init__(graph, **kwargs)

    def _record(self, handle: RunHandle) -> Outcome:
        async def go() -> Outcome:
            events = [ev async for ev in handle.events]
            self.traces.append(trace_to_builtins(events))
            return await handle

        return asyncio.run(go())

    def run_sync(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> Outcome:
        return self._record(self.run(thread_id, input, options))

    def resume_sync(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> Outcome:
        return self._record(self.resume(thread_id, interrupt_id, payload, options))


def load(name: str) -> ModuleType:
    module_name = f"examples_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def recorder() -> type[RecordingRuntime]:
    """A fresh subclass, so each test sees only its own traces."""

    class Recorder(RecordingRuntime):
        traces: ClassVar[list[list[dict[str, Any]]]] = []

    return Recorder


@pytest.fixture
def example(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    name: str = request.param
    module = load(name)
    yield module
    sys.modules.pop(f"examples_{name}", None)


@pytest.mark.parametrize("example", NAMES, indirect=True)
def test_example_trace_and_output(
    example: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    snapshot: SnapshotAssertion,
) -> None:
    assert example.__doc__, "each example starts with a docstring saying what it shows"
    runtime_class = recorder()
    monkeypatch.setattr(example, "Runtime", runtime_class)
    example.main()
    printed = capsys.readouterr().out
    assert {"stdout": printed.splitlines(), "traces": runtime_class.traces} == snapshot


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_as_a_script(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load(name)
    try:
        monkeypatch.setattr(module, "Runtime", recorder())
        module.main()
        expected = capsys.readouterr().out
    finally:
        sys.modules.pop(f"examples_{name}", None)
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    assert capsys.readouterr().out == expected
