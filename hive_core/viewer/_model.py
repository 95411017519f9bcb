"""A run as the viewer draws it: steps, tasks, writes, the store after each step,
interrupts, resumes and model tokens, built from a trace's plain events.

Both trace formats feed it: the readable ``.trace`` text (``Trace.to_text()``, the
golden snapshot format) and ``.jsonl`` trace files (``save_trace``). Values written
are shown when the trace carries them: the store after a step is exactly its
``step_values`` event's values (runs with ``RunOptions(stream_modes=("values",))``),
else it is rebuilt from the written values (runs with ``debug_payloads=True``);
otherwise the store shows the payload hash of each write, each such step carries a
note saying how to record values, and the last step shows the trace's final store
when it has one. See ``docs/observability.md``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..events import trace_to_builtins
from ..testing._trace_files import load_trace
from ..testing._trace_text import event_line, parse_text

__all__ = ["LoadedTrace", "build_view", "load_any_trace"]

_RUN_KINDS = frozenset(
    {"run_started", "run_finished", "run_interrupted", "run_resumed", "run_cancelled"}
)


@attrs.frozen
class LoadedTrace:
    """A trace file read back: its events as plain dicts, its lines, and (for the
    text format) the outcome header and final store."""

    events: list[dict[str, Any]]
    lines: list[str]
    outcome: str | None = None
    final_store: dict[str, str] | None = None


def load_any_trace(path: str | Path) -> LoadedTrace:
    """Read a ``.jsonl`` trace file, or else the readable ``.trace`` text.

    Raises:
        TraceFileError: the file is missing or not a trace.
    """
    p = Path(path)
    if p.suffix in (".jsonl", ".json"):
        events = trace_to_builtins(load_trace(p))
        return LoadedTrace(events, [event_line(ev) for ev in events])
    from ..testing._errors import TraceFileError

    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFileError(p, getattr(exc, "strerror", None) or str(exc)) from exc
    parts = parse_text(text)
    if not parts.event_lines:
        raise TraceFileError(p, "no `events:` section with event lines")
    return LoadedTrace(
        parts.events, parts.event_lines, parts.header.get("outcome"), parts.store
    )


def _metadata(ev: Mapping[str, Any]) -> dict[str, Any]:
    raw = ev.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _write_value(ev: Mapping[str, Any]) -> str:
    """The written value as text: the debug payload (codec bytes shown as UTF-8
    when they are), else the payload hash."""
    meta = _metadata(ev)
    payload = meta.get("payload")
    if not isinstance(payload, str):
        return f"(hash {str(ev.get('payload_hash', ''))[:12]})"
    if meta.get("payload_encoding") == "codec.base64":
        try:
            return base64.b64decode(payload, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return f"(base64) {payload}"
    return payload


def _task(ev: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ordinal": int(ev.get("ordinal", 0)),
        "node": str(ev.get("node", "")),
        "task_id": str(ev.get("task_id", "")),
        "status": "running",
        "error": None,
        "tokens": "",
        "token_count": 0,
        "models": [],
        "tools": [],
        "breakers": [],
    }


def _on_task(step: dict[str, Any], ev: Mapping[str, Any], kind: str) -> None:
    tasks = step["tasks"]
    if kind == "task_started":
        tasks.append(_task(ev))
        return
    ordinal = int(ev.get("ordinal", -1))
    task = next((t for t in tasks if t["ordinal"] == ordinal), None)
    if task is None:
        return
    if kind == "task_finished":
        task["status"] = "finished"
    elif kind == "task_failed":
        task["status"], task["error"] = "failed", str(ev.get("error", ""))
    elif kind == "model_token":
        task["tokens"] += str(ev.get("text", ""))
        task["token_count"] += 1
    elif kind == "model_invocation_started":
        task["models"].append(str(ev.get("model", "")))
    elif kind == "model_breaker_changed":
        task["breakers"].append(f"{ev.get('provider', '')}: {ev.get('state', '')}")
    elif kind == "tool_invocation_finished":
        ok = ev.get("success") in (True, "true")
        task["tools"].append({"name": str(ev.get("name", "")), "success": ok})


STORE_HINT = (
    "The store shows payload hashes: this trace has no values for this step. "
    'Record them with RunOptions(stream_modes=("values",)) (the store after '
    "each step) or RunOptions(debug_payloads=True) (each write's value)."
)
"""The note a step whose store is only hashes carries (shown on the page)."""


def _value_text(value: object) -> str:
    """A JSON value as the store panel shows it (compact, like codec payloads)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _on_values(step: dict[str, Any], ev: Mapping[str, Any]) -> dict[str, str]:
    """Replace the step's store with its ``step_values`` (exact, not rebuilt)."""
    raw = ev.get("values")
    values = raw if isinstance(raw, dict) else {}
    store = {str(k): _value_text(v) for k, v in values.items()}
    step["store"], step["store_source"], step["store_note"] = dict(store), "values", ""
    return store


def _on_write(
    step: dict[str, Any], ev: Mapping[str, Any], store: dict[str, str]
) -> None:
    value = _write_value(ev)
    step["writes"].append({"channel": str(ev["channel"]), "value": value})
    store[str(ev["channel"])] = value
    step["store"] = dict(store)
    if step["store_source"] == "hashes" and isinstance(
        _metadata(ev).get("payload"), str
    ):
        step["store_source"], step["store_note"] = "payloads", ""


def _new_step(n: int, store: dict[str, str]) -> dict[str, Any]:
    return {
        "step": n,
        "tasks": [],
        "writes": [],
        "store": dict(store),
        "store_source": "hashes",
        "store_note": STORE_HINT,
        "checkpoint": None,
        "interrupt": None,
        "finished": False,
    }


def _steps(
    events: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The steps in order and the timeline (run-level markers and steps)."""
    steps: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    store: dict[str, str] = {}
    current: dict[str, Any] | None = None
    for ev in events:
        kind = str(ev.get("kind"))
        if kind in _RUN_KINDS:
            detail = str(ev.get("interrupt_id", ev.get("thread_id", "")))
            timeline.append({"type": "run", "kind": kind, "detail": detail})
            if kind == "run_interrupted" and steps:
                steps[-1]["interrupt"] = detail
            continue
        if kind == "step_started":
            current = _new_step(int(ev.get("step", len(steps))), store)
            steps.append(current)
            timeline.append({"type": "step", "index": len(steps) - 1})
            continue
        if current is None:
            continue
        if kind == "write_applied":
            _on_write(current, ev, store)
        elif kind == "step_values":
            store = _on_values(current, ev)
        elif kind == "checkpoint_saved":
            current["checkpoint"] = str(ev.get("checkpoint_id", ""))
        elif kind == "step_finished":
            current["finished"] = True
        else:
            _on_task(current, ev, kind)
    return steps, timeline


def build_view(
    trace: LoadedTrace, *, title: str, nodes: Iterable[str] = ()
) -> dict[str, Any]:
    """The JSON the page script renders (also what the live view serves)."""
    steps, timeline = _steps(trace.events)
    if steps and trace.final_store is not None:
        last = steps[-1]  # exact, not reconstructed
        last["store"], last["store_source"] = dict(trace.final_store), "final"
        last["store_note"] = ""
    seen = {t["node"] for s in steps for t in s["tasks"]}
    tokens = sum(t["token_count"] for s in steps for t in s["tasks"])
    return {
        "title": title,
        "outcome": trace.outcome,
        "nodes": sorted(seen | set(nodes)),
        "steps": steps,
        "timeline": timeline,
        "lines": trace.lines,
        "final_store": trace.final_store,
        "token_count": tokens,
    }
