"""The ``hive_core.testing`` package itself: its errors are HiveErrors raised by
real misuse, its sync calls go through the one sync bridge, and it reaches the
runtime only through public names."""

from __future__ import annotations

import ast
import asyncio
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

import hive_core.testing
from hive_core import (
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Schema,
    Write,
    channel,
)
from hive_core.errors import HiveError
from hive_core.testing import (
    NondeterminismError,
    ScriptedService,
    TraceFileError,
    Tracer,
    UnexpectedCallError,
    check_determinism,
    load_trace,
)

pytest_plugins = ["pytester"]

PACKAGE = Path(hive_core.testing.__file__).parent


class Note(Schema):
    text = channel(str)


def noting(node: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Note.text, "hi")])


def one_node() -> CompiledGraph:
    return GraphBuilder(Note, start=["A"]).add_node("A", noting).compile()


class TestErrorsAreHiveErrors:
    def test_a_missing_trace_file(self, tmp_path: Path) -> None:
        missing = tmp_path / "gone.jsonl"
        with pytest.raises(TraceFileError) as info:
            load_trace(missing)
        err = info.value
        assert {HiveError, ValueError} <= set(type(err).__mro__)
        assert err.code == "trace-file-unreadable"
        assert (err.path, err.line) == (str(missing), None)

    def test_one_call_too_many(self) -> None:
        svc = ScriptedService(search=["r1"], is_async=False)
        svc.search("tides")
        with pytest.raises(UnexpectedCallError) as info:
            svc.search("moon", limit=2)
        err = info.value
        assert {HiveError, AssertionError} <= set(type(err).__mro__)
        assert err.code == "unexpected-scripted-call"
        assert (err.method, err.call, err.number, err.overall, err.scripted) == (
            "search",
            "search('moon', limit=2)",
            2,
            2,
            1,
        )
        assert err.earlier == ("search('tides')",)

    def test_a_nondeterministic_graph(self) -> None:
        counter = iter(range(100))

        def numbered(node: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Note.text, str(next(counter)))])

        graph = GraphBuilder(Note, start=["A"]).add_node("A", numbered).compile()
        with pytest.raises(NondeterminismError) as info:
            check_determinism(graph, runs=1, seed=0)
        err = info.value
        assert {HiveError, AssertionError} <= set(type(err).__mro__)
        assert err.code == "nondeterministic-trace"
        assert (err.seed, err.run, err.runs, err.resume, err.resumes) == (0, 1, 1, 0, 0)

    @pytest.mark.parametrize(
        "err",
        [
            TraceFileError("t.jsonl", "not an event", line=3),
            UnexpectedCallError(
                method="", call="service(1)", number=1, overall=1, scripted=0
            ),
            NondeterminismError(seed=1, run=2, runs=3, diff=None, resume=1, resumes=1),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_they_survive_a_pickle_round_trip(self, err: HiveError) -> None:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err) and vars(back) == vars(err)

    def test_pytest_reports_a_nondeterministic_graph_as_a_failed_assertion(
        self, pytester: pytest.Pytester
    ) -> None:
        pytester.makepyfile(
            """
            import itertools
            from hive_core import CompiledGraph, GraphBuilder, NodeOutput, Schema, Write, channel

            class Note(Schema):
                text = channel(str)

            counter = itertools.count()
            graph = (
                GraphBuilder(Note, start=["A"])
                .add_node("A", lambda n: NodeOutput(
                    writes=[Write(Note.text, str(next(counter)))]))
                .compile()
            )

            def test_racy(hive_determinism):
                hive_determinism(graph, runs=1)
            """
        )
        result = pytester.runpytest("--hive-seed=5")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [
                "E * hive_core.testing.NondeterminismError: the graph is not "
                "deterministic: shuffled run 1 of 1 (seed=5) differs*",
                "*reproduce with seed=5 (under pytest: --hive-seed=5)",
            ]
        )


class TestSyncCallsGoThroughTheBridge:
    """The bridge's own wording names each sync call and its async twin."""

    def test_inside_a_running_loop(self) -> None:
        graph = one_node()

        async def main() -> list[str]:
            tracer = Tracer()
            calls: list[Callable[[], object]] = [
                lambda: tracer(graph),
                lambda: tracer.resume("x", graph=graph),
                lambda: check_determinism(graph),
            ]
            found = []
            for call in calls:
                with pytest.raises(RuntimeError) as info:
                    call()
                found.append(str(info.value))
            return found

        assert asyncio.run(main()) == [
            "tracer() cannot be called from a running event loop; use "
            "`await tracer.run_async(...)` instead",
            "tracer.resume() cannot be called from a running event loop; use "
            "`await tracer.resume_async(...)` instead",
            "check_determinism() cannot be called from a running event loop; use "
            "`await check_determinism_async(...)` instead",
        ]

    def test_no_module_defines_its_own_loop_handling(self) -> None:
        for path in sorted(PACKAGE.glob("*.py")):
            source = path.read_text(encoding="utf-8")
            for banned in ("asyncio.run(", "asyncio.Runner", "get_running_loop"):
                assert banned not in source, f"{path.name} uses {banned}"


def private_runtime_imports(source: str) -> list[str]:
    """``from ..runtime._x import y`` or ``from ..runtime import _y`` in a module of
    ``hive_core.testing`` (two dots reach ``hive_core``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level != 2:
            continue
        module = node.module or ""
        if module.split(".")[0] != "runtime":
            continue
        names = [a.name for a in node.names]
        if "._" in f".{module}" or any(n.startswith("_") for n in names):
            found.append(f"line {node.lineno}: ..{module} import {', '.join(names)}")
    return found


def test_the_runtime_is_reached_through_public_names_only() -> None:
    found = {
        path.name: private_runtime_imports(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.glob("*.py"))
    }
    assert {name: lines for name, lines in found.items() if lines} == {}
    # the check itself sees what it looks for
    assert private_runtime_imports(
        "from ..runtime._execute import _STREAM_KINDS\nfrom ..runtime import _x\n"
        "from ..runtime import Runtime\nfrom ..events import STREAM_KINDS\n"
    ) == [
        "line 1: ..runtime._execute import _STREAM_KINDS",
        "line 2: ..runtime import _x",
    ]
