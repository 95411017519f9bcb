"""Smoke test of the benchmark workloads: each runs once, small, and ends correctly.

No timing here (figures come from ``bench/run.py``); this only guards against a
benchmark that times a broken run, or a harness that no longer starts.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hive_core import Runtime

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench` is not installed; it lives in the checkout
    sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402
from bench import workloads_hive  # noqa: E402
from bench.workloads_spec import (  # noqa: E402
    WORKLOADS,
    BenchmarkError,
    Workload,
    check,
)

SMALL = [
    Workload("invoke", "invoke"),
    Workload("chain_5", "chain", 5),
    Workload("chain_1", "chain", 1),
    Workload("loop_7", "loop", 7),
    Workload("fanout_0", "fanout", 0),
    Workload("fanout_1", "fanout", 1),
    Workload("fanout_13", "fanout", 13),
]


@pytest.mark.parametrize("workload", SMALL, ids=lambda w: w.name)
def test_hive_workload_ends_correctly(workload: Workload) -> None:
    runner = workloads_hive.prepare(workload)
    for _ in range(2):  # a second call runs on a new thread id, from scratch
        result = runner.call()
        check(workload, runner, result)
        state = runner.final_state(result)
        assert state["n"] == workload.expected_n
        assert state["items"] == workload.expected_items  # ordinal order, exactly
    runner.reset()
    check(workload, runner, runner.call())


def test_hive_fanout_runs_join_once_after_the_workers() -> None:
    workload = Workload("fanout_3", "fanout", 3)
    graph, input = workloads_hive.build_graph(workload)
    steps: list[tuple[str, ...]] = []

    async def collect() -> None:
        async for report in Runtime(graph).steps("t", input):
            steps.append(report.nodes)

    asyncio.run(collect())
    assert steps == [("dispatch",), ("worker",) * 3, ("join",)]
    assert len(steps) == workload.supersteps


@pytest.mark.parametrize("workload", SMALL, ids=lambda w: w.name)
def test_langgraph_workload_ends_correctly(workload: Workload) -> None:
    pytest.importorskip("langgraph")
    from bench import workloads_langgraph

    runner = workloads_langgraph.prepare(workload)
    check(workload, runner, runner.call())
    check(workload, runner, runner.call())


class _FakeRunner:
    engine = "fake"

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.state = state

    def reset(self) -> None:
        pass

    def call(self) -> object:
        return self.state

    def final_state(self, result: object) -> Mapping[str, Any]:
        return self.state


@pytest.mark.parametrize(
    "state",
    [{"n": 2, "items": []}, {"n": 3, "items": [0, 1]}, {"n": 3}, {"items": []}],
)
def test_check_rejects_wrong_results(state: Mapping[str, Any]) -> None:
    workload = Workload("fanout_3", "fanout", 3)
    with pytest.raises(BenchmarkError, match="fake fanout_3: wrong result"):
        check(workload, _FakeRunner(state), None)
    check(workload, _FakeRunner({"n": 3, "items": [2, 0, 1]}), None)


def test_registry_and_selection() -> None:
    assert list(WORKLOADS) == [
        "invoke",
        "chain",
        "loop",
        "fanout_10",
        "fanout_100",
        "fanout_1000",
    ]
    default = bench_run.select(None)
    assert default[:8] == [*WORKLOADS, "import", "peak_memory"]
    assert "memory" not in default  # opt-in: it builds a large corpus
    assert bench_run.select("fanout,loop") == [
        "loop",
        "fanout_10",
        "fanout_100",
        "fanout_1000",
    ]
    assert bench_run.select("memory") == ["memory"]
    with pytest.raises(SystemExit, match="unknown workload or group 'nope'"):
        bench_run.select("nope")


def test_missing_module_group_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    group = bench_run._module_group("later", "bench.no_such_module_here")
    assert group(bench_run.Settings.make(quick=True)) == []
    assert "bench/no_such_module_here.py does not exist" in capsys.readouterr().err


def test_importtime_parsing() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:        10 |         10 |   _io",
            "import time:       100 |        110 | site",
            "import time:        50 |         50 |     small",
            "import time:       200 |        250 |   child",
            "import time:        40 |        290 | pkg",
        ]
    )
    total, names = bench_run._importtime_us(stderr, {"site"})
    assert total == 290
    assert {"site", "pkg", "child", "small", "_io"} == names


def test_summary_table_formats_every_kind_of_row() -> None:
    rows: list[dict[str, Any]] = [
        {
            "workload": "loop",
            "hive_s": 0.02,
            "langgraph_s": 0.2,
            "ratio": 0.1,
            "hive_us_per_step": 20.0,
        },
        {
            "workload": "import",
            "import_hive_core_s": 0.05,
            "import_langgraph_s": 0.8,
            "ratio": 0.0625,
            "meets_target": True,
        },
        {
            "workload": "peak_memory_fanout_1000",
            "hive_tracemalloc_peak_mib": 1.0,
            "langgraph_tracemalloc_peak_mib": 7.0,
            "ratio": 0.14,
            "hive_peak_rss_mib": 30.0,
            "langgraph_peak_rss_mib": 80.0,
            "ratio_peak_rss": 0.375,
        },
        {"workload": "memory_10k", "recall": 1.0, "note": "text"},
    ]
    table = bench_run.summary_table(rows)
    assert "loop" in table
    assert "MISS" not in table.splitlines()[1]
    assert "memory_10k" in table
    assert "recall=1.0" in table
