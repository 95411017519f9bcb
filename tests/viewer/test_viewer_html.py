"""The static trace viewer: pages from .trace text and .jsonl files, the diff page,
and the ``python -m hive_core.testing view`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hive_core import RunOptions
from hive_core.testing import TraceFileError
from hive_core.testing._cli import main
from hive_core.viewer import (
    LoadedTrace,
    load_any_trace,
    render_diff_html,
    render_trace_html,
)

SNAPSHOTS = (
    Path(__file__).parents[1] / "runtime" / "__snapshots__" / "test_runtime_traces"
)
FAN_OUT = SNAPSHOTS / "TestFanOutJoin.test_trace[fan_out_join].trace"


def model_of(html: str) -> dict[str, Any]:
    m = re.search(
        r'<script type="application/json" id="hive-data">(.*?)</script>', html, re.S
    )
    assert m is not None
    assert "<" not in m.group(1)
    found: dict[str, Any] = json.loads(m.group(1))
    return found


def test_page_from_a_golden_trace() -> None:
    html = render_trace_html(FAN_OUT)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<link" not in html and " src=" not in html
    model = model_of(html)
    assert model["outcome"] == "finished"
    assert [[t["node"] for t in s["tasks"]] for s in model["steps"]] == [
        ["A"],
        ["B", "C"],
        ["D"],
    ]
    assert model["steps"][-1]["store"]["log"] == '["A","B","C","D"]'  # the final store
    svg = model["svg"]
    nodes = re.findall(r'<g class="node[^"]*" id="(node-\d+)" data-node="([^"]+)"', svg)
    assert nodes == [("node-0", "A"), ("node-1", "B"), ("node-2", "C"), ("node-3", "D")]
    assert model["graph_inferred"] is True


def test_store_after_each_step_from_debug_payloads(
    tmp_path: Path, agent_trace: Any
) -> None:
    path = agent_trace(tmp_path / "run.jsonl")
    model = model_of(render_trace_html(path))
    stores = [s["store"] for s in model["steps"]]
    assert stores[0]["log"] == '["a"]'
    assert stores[1]["log"] == '["a","b"]'
    assert [m["kind"] for m in model["timeline"] if m["type"] == "run"] == [
        "run_started",
        "run_interrupted",
        "run_started",
        "run_resumed",
        "run_finished",
    ]
    assert model["steps"][1]["interrupt"] is not None
    asked = model["steps"][0]["tasks"][0]
    assert asked["tokens"] == "Hello there" and asked["token_count"] == 2


VALUES = RunOptions(stream_modes=("values",), deterministic_token_streaming=True)


def test_store_after_each_step_from_step_values(
    tmp_path: Path, agent_trace: Any
) -> None:
    """Without debug payloads, a ``values`` trace still shows each step's store."""
    path = agent_trace(tmp_path / "run.jsonl", VALUES)
    html = render_trace_html(path)
    model = model_of(html)
    steps = model["steps"]
    assert [s["store"] for s in steps] == [
        {"log": '["a"]'},
        {"log": '["a","b"]'},
        {"log": '["a","b","approved=yes"]'},
    ]
    assert [s["store_source"] for s in steps] == ["values"] * 3
    assert all(s["store_note"] == "" for s in steps)
    assert all(w["value"].startswith("(hash ") for s in steps for w in s["writes"])
    assert 'id="store-note"' in html


def test_a_trace_without_values_says_how_to_record_them(
    tmp_path: Path, agent_trace: Any
) -> None:
    path = agent_trace(tmp_path / "run.jsonl", RunOptions())
    steps = model_of(render_trace_html(path))["steps"]
    assert all(s["store"]["log"].startswith("(hash ") for s in steps)
    assert [s["store_source"] for s in steps] == ["hashes"] * 3
    for s in steps:
        assert 'stream_modes=("values",)' in s["store_note"]
        assert "debug_payloads=True" in s["store_note"]
    debug = model_of(render_trace_html(agent_trace(tmp_path / "debug.jsonl")))
    assert [s["store_source"] for s in debug["steps"]] == ["payloads"] * 3


def test_breaker_changes_show_on_their_task() -> None:
    events: list[dict[str, Any]] = [
        {"kind": "step_started", "step": 0},
        {"kind": "task_started", "step": 0, "ordinal": 0, "node": "ask"},
        {"kind": "model_invocation_started", "step": 0, "ordinal": 0, "model": "m"},
        *(
            {
                "kind": "model_breaker_changed",
                "step": 0,
                "ordinal": 0,
                "provider": "primary",
                "state": state,
            }
            for state in ("half_open", "closed")
        ),
    ]
    model = model_of(render_trace_html(LoadedTrace(events, ["x"])))
    task = model["steps"][0]["tasks"][0]
    assert task["breakers"] == ["primary: half_open", "primary: closed"]


def test_diff_marks_the_first_divergence(tmp_path: Path) -> None:
    changed = tmp_path / "changed.trace"
    text = FAN_OUT.read_text().replace("node=C", "node=X")
    changed.write_text(text)
    html = render_diff_html(FAN_OUT, changed)
    first = re.findall(
        r'class="differs first-divergence" data-index="(\d+)" id="first-divergence"',
        html,
    )
    lines = FAN_OUT.read_text().split("events:\n")[1].splitlines()
    expected = next(i for i, line in enumerate(lines) if "node=C" in line)
    assert first == [str(expected)]
    assert 'id="first-divergence"' not in render_diff_html(FAN_OUT, FAN_OUT)


def test_view_command_writes_a_page(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    assert main(["view", str(FAN_OUT), "-o", str(out)]) == 0
    assert model_of(out.read_text())["nodes"] == ["A", "B", "C", "D"]
    diff = tmp_path / "diff.html"
    assert main(["view", str(FAN_OUT), "--diff", str(FAN_OUT), "-o", str(diff)]) == 0
    assert "traces are equal" in diff.read_text()


def test_view_command_into_a_missing_folder(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "no" / "such" / "run.html"
    assert main(["view", str(FAN_OUT), "-o", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_view_command_as_a_process(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hive_core.testing",
            "view",
            str(FAN_OUT),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_bad_input_is_a_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trace"
    bad.write_text("not a trace\n")
    with pytest.raises(TraceFileError):
        load_any_trace(bad)
    assert main(["view", str(bad), "-o", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()
    assert (
        main(
            [
                "view",
                str(FAN_OUT),
                "--graph",
                "no.such:graph",
                "-o",
                str(tmp_path / "y.html"),
            ]
        )
        == 2
    )


def test_the_compiled_graph_draws_real_edges(
    tmp_path: Path, agent_trace: Any, agent_graph: Any
) -> None:
    path = agent_trace(tmp_path / "run.jsonl")
    drawn = model_of(render_trace_html(path, graph=agent_graph))
    assert drawn["graph_inferred"] is False
    assert drawn["svg"].count('class="edge"') == 2  # ask → approve → done
    assert "stroke-dasharray" not in drawn["svg"]
    inferred = model_of(render_trace_html(path))
    assert inferred["graph_inferred"] is True
    # the resume starts a new attempt at step 2: still one transition per step pair
    assert inferred["svg"].count('class="edge"') == 2
    assert "stroke-dasharray" in inferred["svg"]


@pytest.mark.parametrize(
    "golden",
    sorted((Path(__file__).parents[1]).rglob("__snapshots__/**/*.trace")),
    ids=lambda p: p.stem[:60],
)
def test_every_golden_trace_renders(golden: Path) -> None:
    model = model_of(render_trace_html(golden))
    text = golden.read_text()
    assert len(model["steps"]) == text.count("| step_started")
    assert len(model["lines"]) == len(load_any_trace(golden).lines)
    ran = {t["node"] for s in model["steps"] for t in s["tasks"]}
    assert ran <= set(model["nodes"])
