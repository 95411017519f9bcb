"""Smoke test of the benchmark workloads: each runs once, small, and ends correctly.

No timing here (figures come from ``bench/run.py``); this only guards against a
benchmark that times a broken run, or a harness that no longer starts.
"""

from __future__ import annotations

import asyncio
import math
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
from bench import table, targets, workloads_hive  # noqa: E402
from bench.timing import Settings  # noqa: E402
from bench.workloads_spec import (  # noqa: E402
    WORKLOADS,
    BenchmarkError,
    Concurrency,
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
    Workload("fanout_io_3", "fanout", 3, "io"),
    Workload("fanout_async_0", "fanout", 0, "async"),
    Workload("fanout_async_13", "fanout", 13, "async"),
    Workload("chain_async_5", "chain", 5, "async"),
    Workload("loop_async_7", "loop", 7, "async"),
]
TINY = Settings(
    quick=True,
    repeats=2,
    min_batch_s=0.0,
    import_runs=1,
    importtime_runs=1,
    memory_runs=1,
)
"""One timed call per runner and repeat: the rows' shape, not their figures."""


def _positive(row: Mapping[str, Any], *fields: str) -> None:
    for field in fields:
        value = row[field]
        assert isinstance(value, int | float) and not isinstance(value, bool), field
        assert math.isfinite(value) and value > 0, (field, value)


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
    getattr(runner, "close", lambda: None)()


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
    getattr(runner, "close", lambda: None)()


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
        "fanout_io_100",
        "fanout_async_10",
        "fanout_async_100",
        "fanout_async_1000",
        "chain_async",
        "loop_async",
    ]
    default = bench_run.select(None)
    assert default == [
        *WORKLOADS,
        "import",
        "peak_memory",
        "checkpoint_equal",
        "checkpoint_growth",
        "peers",
        "streaming",
    ]
    assert "memory" not in default  # opt-in: it builds a large corpus
    assert bench_run.select("fanout,loop") == [
        "loop",
        "fanout_10",
        "fanout_100",
        "fanout_1000",
        "fanout_io_100",
        "fanout_async_10",
        "fanout_async_100",
        "fanout_async_1000",
    ]
    assert bench_run.select("default,memory") == [*default, "memory"]
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
        # A row against a peer that is Hive itself (no per-step cost, no name).
        {
            "workload": "checkpoint_default_policy",
            "hive_s": 0.007,
            "peer_s": 0.001,
            "ratio": 7.0,
        },
    ]
    table = bench_run.summary_table(rows)
    assert "checkpoint_default_policy" in table
    assert "loop" in table
    assert "MISS" not in table.splitlines()[1]
    assert "memory_10k" in table
    assert "recall=1.0" in table


# ------------------------------------------------ the contract rows, tiny sizes


def test_io_workers_block_and_are_counted() -> None:
    workload = Workload("fanout_io_4", "fanout", 4, "io")
    tracked = Concurrency()
    runner = workloads_hive.prepare(workload, concurrency=tracked)
    check(workload, runner, runner.call())
    assert tracked.max >= 1 and tracked.inside == 0
    assert workloads_hive.hive_mode(runner.graph, "worker") == "inline"
    cpu = workloads_hive.prepare(Workload("fanout_4", "fanout", 4))
    assert workloads_hive.hive_mode(cpu.graph, "worker") == "cpu_only"
    blocking = workloads_hive.prepare(workload, blocking=True)
    check(workload, blocking, blocking.call())
    assert workloads_hive.hive_mode(blocking.graph, "worker") == "blocking"


@pytest.mark.parametrize(
    ("workload", "extra"),
    [
        (Workload("fanout_io_3", "fanout", 3, "io"), "ratio_blocking"),
        (Workload("fanout_async_5", "fanout", 5, "async"), None),
        (Workload("chain_async", "chain", 4, "async"), "vs_sync"),
        (Workload("loop_async", "loop", 6, "async"), "vs_sync"),
    ],
    ids=lambda x: x.name if isinstance(x, Workload) else str(x),
)
def test_engine_rows_have_the_contract_fields(
    workload: Workload, extra: str | None
) -> None:
    pytest.importorskip("langgraph")
    row = targets.annotate(bench_run.time_workload(workload, TINY))
    _positive(row, "hive_s", "langgraph_s", "ratio", "hive_us_per_step")
    assert row["hive_mode"] == ("async" if workload.mode == "async" else "inline")
    if extra is not None:
        _positive(row, extra)
    if workload.mode == "io":
        assert row["hive_max_concurrency"] >= 1
        assert row["langgraph_max_concurrency"] >= 1
    if workload.name in targets.TARGETS:
        assert isinstance(row["meets"], bool)
        assert set(row["target"]) == set(targets.TARGETS[workload.name])


def test_checkpoint_equal_rows() -> None:
    pytest.importorskip("langgraph.checkpoint.sqlite")
    from bench import checkpoint_equal

    rows = checkpoint_equal.rows(steps=3, repeats=2)
    assert [r["workload"] for r in rows] == [
        "checkpoint_equal_normal",
        "checkpoint_equal_full",
    ]
    for row, level in zip(rows, ("NORMAL", "FULL"), strict=True):
        _positive(row, "hive_s", "langgraph_s", "ratio", "floor_ratio")
        # The floor is measured in the same run: its ratio is its cost over LangGraph's.
        assert row["floor_ratio"] == pytest.approx(
            row["floor_us_per_step"] / row["langgraph_us_per_step"], rel=0.02
        )
        assert row["hive_synchronous"] == row["langgraph_synchronous"] == level
        assert row["hive_journal_mode"] == row["langgraph_journal_mode"] == "wal"
        assert row["langgraph_durability"] == "sync"


def test_checkpoint_growth_row() -> None:
    pytest.importorskip("langgraph.checkpoint.sqlite")
    from bench import checkpoint_growth

    row = targets.annotate(checkpoint_growth.growth_row(20, 2, cap_s=30.0))
    row["workload"] = "checkpoint_growth_20"
    _positive(
        row,
        "first_us_per_step",
        "last_us_per_step",
        "bytes_per_payload",
        "langgraph_first_us_per_step",
        "langgraph_last_us_per_step",
        "ratio",
    )
    assert row["langgraph_steps"] == 20 and not row["langgraph_stopped_at_cap"]
    stopped = checkpoint_growth.growth_row(30, 1, cap_s=0.0)
    assert stopped["langgraph_stopped_at_cap"] and stopped["langgraph_steps"] == 1


def test_step_costs() -> None:
    from bench.checkpoint_growth import step_costs

    assert step_costs([1.0, 1.5, 3.0], 3.25) == [0.5, 1.5, 0.25]


@pytest.mark.parametrize("peer", ["pydantic_graph", "burr", "python", "asyncio"])
@pytest.mark.parametrize(
    "workload",
    [Workload("chain", "chain", 4), Workload("loop", "loop", 6)],
    ids=lambda w: w.kind,
)
def test_peer_workloads_end_correctly(peer: str, workload: Workload) -> None:
    if peer in ("pydantic_graph", "burr"):
        pytest.importorskip(peer if peer == "burr" else "pydantic_graph")
    from bench.peers import prepare_peer

    runner = prepare_peer(peer, workload)
    check(workload, runner, runner.call())
    check(workload, runner, runner.call())  # a second call starts from scratch
    getattr(runner, "close", lambda: None)()


def test_peer_rows() -> None:
    pytest.importorskip("pydantic_graph")
    pytest.importorskip("burr")
    from bench import peers

    rows = {r["workload"]: targets.annotate(r) for r in peers.group(TINY, (3, 5))}
    assert set(rows) == {
        f"{p}_{k}"
        for p in ("peer_pydantic_graph", "peer_burr", "floor")
        for k in ("chain", "loop")
    }
    for name, row in rows.items():
        _positive(row, "hive_s", "peer_s", "ratio")
        if name.startswith("peer_"):
            assert row["target"] == {"ratio": 1.0}
    _positive(rows["peer_pydantic_graph_loop"], "ratio_hive_sync")
    _positive(rows["floor_loop"], "asyncio_s", "ratio_async")


def test_targets_and_table() -> None:
    rows = [
        {"workload": "chain", "hive_s": 0.001, "langgraph_s": 0.1, "ratio": 0.01},
        {"workload": "loop", "hive_s": 0.01, "langgraph_s": 0.1, "ratio": 0.1},
        {
            "workload": "checkpoint_growth_5000",
            "first_us_per_step": 100.0,
            "last_us_per_step": 400.0,
            "last_over_first": 4.0,
            "bytes_per_payload": 1.2,
        },
        {
            "workload": "floor_loop",
            "hive_s": 0.01,
            "peer": "python",
            "peer_s": 0.001,
            "ratio": 10.0,
            "hive_variant": "sync",
        },
    ]
    for row in rows:
        targets.annotate(row)
    assert rows[0]["meets"] is True and rows[1]["meets"] is False
    assert rows[2]["missed"] == ["last_over_first"]
    assert rows[3]["target"] is None and rows[3]["meets"] is None
    text = table.markdown(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "| `chain` |" in lines[2] and "| met |" in lines[2]
    assert "missed: ratio" in lines[3]
    assert "100 → 400 µs/step" in lines[4]
    assert table.read_rows(["", "noise", '{"workload": "x"}']) == [{"workload": "x"}]


def test_streaming_rows() -> None:
    from bench import streaming

    rows = streaming.rows(TINY)
    assert [r["workload"] for r in rows] == ["stream_values", "stream_updates"]
    for row in rows:
        _positive(row, "hive_s", "bare_s", "ratio", "ratio_sync")
        targets.annotate(row)
        assert row["target"] == {"ratio": 1.5}
        assert row["meets"] in (True, False)


def test_the_default_policy_row_saves_every_step_and_the_other_none() -> None:
    from bench.checkpoint_default import default_policy_row

    row = default_policy_row(steps=5, repeats=1)
    assert row["default_saves"] == 5
    _positive(row, "hive_s", "peer_s", "ratio", "no_store_us_per_step")


def test_the_value_check_rows_time_passing_writes() -> None:
    from bench import value_checks

    rows = value_checks.run(quick=True)
    assert [r["workload"] for r in rows] == [
        f"value_check_{name}" for name in value_checks.CASES
    ]
    for row in rows:
        _positive(row, "hive_s", "peer_s", "ratio")
