"""The ``hive`` command through a subprocess: each command, ``--json`` parsed,
exit codes (0 finished, 1 failed, 2 usage, 3 interrupted, 4 stopped early), and
the live progress display under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("click", reason="the `cli` extra is not installed")
pytest.importorskip("rich", reason="the `cli` extra is not installed")

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
APP = "cli_app:GRAPHS"


def env() -> dict[str, str]:
    paths = [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def hive(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hive_core.cli", *args, "--data-dir", str(tmp / "state")]
        if args and args[0] not in ("trace", "mermaid")
        else [sys.executable, "-m", "hive_core.cli", *args],
        cwd=tmp, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def parsed(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_run_resume_state_history_fork(tmp_path: Path) -> None:
    done = hive(
        tmp_path,
        "run",
        APP,
        "t1",
        "--graph",
        "steps",
        "--input",
        '{"target": 2}',
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert parsed(done)["output"] == {"count": 2, "seen": [1, 2], "target": 2}
    asked = hive(
        tmp_path,
        "run",
        APP,
        "a1",
        "--graph",
        "approval",
        "--input",
        '{"amount": 9}',
        "--json",
    )
    assert asked.returncode == 3
    interrupt = parsed(asked)["interrupt"]
    assert interrupt["payload"] == "approve 9?" and interrupt["node"] == "review"
    fork = hive(tmp_path, "fork", APP, "a1", "a2", "--graph", "approval", "--json")
    assert fork.returncode == 0 and parsed(fork)["interrupted"] is True
    yes = hive(tmp_path, "resume", APP, "a1", "true", "--graph", "approval", "--json")
    assert yes.returncode == 0 and parsed(yes)["output"]["approved"] is True
    no = hive(tmp_path, "resume", APP, "a2", "false", "--graph", "approval",
              "--interrupt", interrupt["id"], "--json")  # fmt: skip
    assert no.returncode == 0 and parsed(no)["output"]["approved"] is False
    state = hive(tmp_path, "state", APP, "a1", "--graph", "approval", "--json")
    assert parsed(state)["values"] == {"amount": 9, "approved": True}
    assert parsed(state)["interrupt"] is None
    history = parsed(
        hive(tmp_path, "history", APP, "a1", "--graph", "approval", "--json")
    )
    assert [h["step"] for h in history] == sorted(
        (h["step"] for h in history), reverse=True
    )
    assert history[-1]["interrupted"] is True
    text = hive(tmp_path, "state", APP, "a1", "--graph", "approval")
    assert "approved = true" in text.stdout
    missing = hive(tmp_path, "state", APP, "nobody", "--graph", "approval")
    assert missing.returncode == 1


def test_delete_removes_the_thread_and_keeps_the_others(tmp_path: Path) -> None:
    for tid in ("d1", "d2"):
        ran = hive(tmp_path, "run", APP, tid, "--graph", "steps", "--input",
                   '{"target": 2}')  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    gone = hive(tmp_path, "delete", APP, "d1", "--graph", "steps", "--json")
    assert gone.returncode == 0, gone.stderr
    assert parsed(gone) == {"thread_id": "d1", "deleted": True}
    assert hive(tmp_path, "state", APP, "d1", "--graph", "steps").returncode == 1
    kept = hive(tmp_path, "state", APP, "d2", "--graph", "steps", "--json")
    assert parsed(kept)["values"]["seen"] == [1, 2]
    again = hive(tmp_path, "delete", APP, "d1", "--graph", "steps")
    assert again.returncode == 1 and "no checkpoints to delete" in again.stderr
    fresh = hive(tmp_path, "run", APP, "d1", "--graph", "steps", "--input",
                 '{"target": 1}', "--json")  # fmt: skip
    assert parsed(fresh)["output"]["seen"] == [1]  # a new thread, not the old one


def test_errors_print_message_and_fix_without_traceback(tmp_path: Path) -> None:
    hive(tmp_path, "run", APP, "a1", "--graph", "approval")
    wrong = hive(tmp_path, "resume", APP, "a1", '"yes"', "--graph", "approval")
    assert wrong.returncode == 1
    assert "error [resume-payload-invalid]" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    again = hive(tmp_path, "run", APP, "a1", "--graph", "approval")
    assert again.returncode == 1
    assert "interrupt-pending" in again.stderr and "Fix:" in again.stderr
    failed = hive(tmp_path, "run", APP, "b1", "--graph", "boom")
    assert failed.returncode == 1 and "planned failure" in failed.stderr
    assert "Traceback" not in failed.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "hive_core.cli", "--debug", "run", APP, "b2",
         "--graph", "boom", "--data-dir", str(tmp_path / "state")],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_usage_errors_and_stopped_early(tmp_path: Path) -> None:
    assert hive(tmp_path, "run", "not-an-app", "t").returncode == 2
    assert hive(tmp_path, "run", APP, "t").returncode == 2  # several graphs
    assert hive(tmp_path, "run", "cli_app:steps").returncode == 2  # no THREAD
    bad_json = hive(tmp_path, "run", "cli_app:steps", "t", "--input", "{x")
    assert bad_json.returncode == 2 and "not JSON" in bad_json.stderr
    short = hive(tmp_path, "run", "cli_app:steps", "t", "--input", '{"target": 5}',
                 "--max-steps", "1", "--json")  # fmt: skip
    assert short.returncode == 4 and parsed(short)["status"] == "out_of_steps"
    assert hive(tmp_path, "nope").returncode == 2


def test_mermaid_and_traces(tmp_path: Path) -> None:
    chart = hive(tmp_path, "mermaid", "cli_app:steps")
    assert chart.returncode == 0 and chart.stdout.startswith("flowchart LR")
    a, b, c = (str(tmp_path / n) for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    hive(tmp_path, "run", "cli_app:steps", "x", "--trace", a)
    hive(tmp_path, "run", "cli_app:steps", "y", "--trace", b)
    hive(
        tmp_path, "run", "cli_app:steps", "z", "--input", '{"target": 1}', "--trace", c
    )
    shown = hive(tmp_path, "trace", "show", a)
    assert shown.returncode == 0 and "| run_started" in shown.stdout
    same = hive(
        tmp_path, "trace", "diff", a, b, "--ignore", "thread_id,task_id,checkpoint_id"
    )
    assert same.returncode == 0 and "equal" in same.stdout
    differ = hive(
        tmp_path, "trace", "diff", a, c, "--ignore", "thread_id,task_id,checkpoint_id"
    )
    assert differ.returncode == 1


def test_plain_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    done = hive(tmp_path, "run", "cli_app:steps", "p", "--input", '{"target": 2}')
    lines = done.stdout.splitlines()
    assert lines[0].startswith("run    | run_started")
    assert "step 1 | step_finished" in done.stdout
    assert '| model_token         | ordinal=0 text="tok2 "' in done.stdout
    assert lines[-1].startswith("finished: ")
    assert "\x1b[" not in done.stdout


def test_live_progress_under_a_pseudo_terminal(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "hive_core.cli", "run", "cli_app:steps", "tty",
            "--input", '{"target": 3}', "--data-dir", str(tmp_path / "state")]  # fmt: skip
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(args, cwd=tmp_path, env={**env(), "TERM": "xterm"},
                            stdin=secondary, stdout=secondary, stderr=secondary)  # fmt: skip
    os.close(secondary)
    out = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        assert ready, "no output from the pseudo-terminal"
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(60) == 0
    os.close(primary)
    text = out.decode(errors="replace")
    assert "\x1b[" in text  # redrawn in place, not one line per event
    assert "step 2" in text and "running:" in text
    assert "tok1 tok2 tok3" in text  # the tokens, streamed into the display
    assert "finished: " in text
    assert "| task_started" not in text


def _spawn(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hive_core.cli", *args, "--data-dir", str(tmp / "state")],
        cwd=tmp, env=env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def test_serve_and_status(tmp_path: Path) -> None:
    pytest.importorskip("dbos", reason="the `service` extra is not installed")
    pytest.importorskip("langgraph_sdk")
    from langgraph_sdk import get_sync_client

    with _spawn(tmp_path, "serve", APP, "--port", "0") as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            assert "hive serve: approval, boom, steps on http://127.0.0.1:" in line, (
                line
            )
            url = line.rsplit(" on ", 1)[1].strip()
            client: Any = get_sync_client(url=url, api_key=None)
            tid = client.threads.create()["thread_id"]
            assert client.runs.wait(tid, "steps", input={"target": 2})["count"] == 2
            client.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
    status = hive(tmp_path, "status", "--json")
    assert status.returncode == 0
    body = parsed(status)
    assert [r["status"] for r in body["runs"]] == ["finished"]
    assert body["runs"][0]["thread_id"] == tid
    one = hive(tmp_path, "status", body["runs"][0]["run_id"], "--json")
    assert parsed(one)["runs"][0]["graph"] == "steps"
    assert hive(tmp_path, "status", "nope").returncode == 1
    listing = hive(tmp_path, "history", APP, tid, "--graph", "steps", "--json")
    assert len(parsed(listing)) == 2  # the served run's checkpoints, seen from here


def test_serve_refuses_a_public_address_without_a_key(tmp_path: Path) -> None:
    pytest.importorskip("starlette", reason="the `server` extra is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "hive_core.cli", "serve", APP, "--host", "0.0.0.0"],
        cwd=tmp_path, env={**env(), "HIVE_API_KEY": ""}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "server-api-key-required" in done.stderr


def test_worker_starts_and_drains_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("dbos", reason="the `service` extra is not installed")
    with _spawn(tmp_path, "worker", APP) as proc:
        assert proc.stderr is not None
        assert "ready" in proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    workers = parsed(hive(tmp_path, "status", "--json"))["workers"]
    assert [w["state"] for w in workers] == ["stopped"]


FAN_OUT = (
    ROOT / "tests" / "runtime" / "__snapshots__" / "test_runtime_traces"
    / "TestFanOutJoin.test_trace[fan_out_join].trace"
)  # fmt: skip


def page_model(html: str) -> Any:
    found = re.search(
        r'<script type="application/json" id="hive-data">(.*?)</script>', html, re.S
    )
    assert found is not None, "the page carries no model"
    return json.loads(found.group(1))


def test_trace_view_writes_one_page(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    done = hive(tmp_path, "trace", "view", str(FAN_OUT), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script src" not in html
    model = page_model(html)
    nodes = re.findall(r'<g class="node[^"]*"[^>]*data-node="([^"]+)"', model["svg"])
    assert sorted(nodes) == ["A", "B", "C", "D"]  # one element per node
    assert [[t["node"] for t in s["tasks"]] for s in model["steps"]] == [
        ["A"], ["B", "C"], ["D"],
    ]  # fmt: skip


def test_trace_view_with_a_graph_and_a_diff(tmp_path: Path) -> None:
    a, c = str(tmp_path / "a.jsonl"), str(tmp_path / "c.jsonl")
    hive(tmp_path, "run", "cli_app:steps", "x", "--trace", a)
    hive(
        tmp_path, "run", "cli_app:steps", "z", "--input", '{"target": 1}', "--trace", c
    )
    drawn = tmp_path / "drawn.html"
    done = hive(tmp_path, "trace", "view", a, "--graph", "cli_app:steps",
                "-o", str(drawn))  # fmt: skip
    assert done.returncode == 0, done.stderr
    model = page_model(drawn.read_text(encoding="utf-8"))
    assert model["graph_inferred"] is False  # the compiled graph's own edges
    assert model["svg"].count('data-node="tick"') == 1
    diff = tmp_path / "diff.html"
    done = hive(tmp_path, "trace", "view", a, "--diff", c, "-o", str(diff))
    assert done.returncode == 0, done.stderr
    assert 'id="first-divergence"' in diff.read_text(encoding="utf-8")


def test_trace_view_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trace"
    bad.write_text("not a trace\n")
    out = tmp_path / "x.html"
    unreadable = hive(tmp_path, "trace", "view", str(bad), "-o", str(out))
    assert unreadable.returncode == 1 and "error [" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr and not out.exists()
    no_graph = hive(tmp_path, "trace", "view", str(FAN_OUT), "--graph",
                    "no.such:graph", "-o", str(out))  # fmt: skip
    assert no_graph.returncode == 1 and "--graph cannot be loaded" in no_graph.stderr
    assert not out.exists()
    folder = tmp_path / "no" / "such" / "run.html"
    unwritable = hive(tmp_path, "trace", "view", str(FAN_OUT), "-o", str(folder))
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr
    assert str(folder) in unwritable.stderr
    missing_output = hive(tmp_path, "trace", "view", str(FAN_OUT))
    assert missing_output.returncode == 2 and "-o" in missing_output.stderr
