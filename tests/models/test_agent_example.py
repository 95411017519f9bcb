"""``examples/agent.py``: its trace is pinned, its cassette is reproducible, and a
changed prompt fails replay naming the field.

Run this file as a script to regenerate ``examples/cassettes/agent.json`` from the
scripted stand-in model below: ``python tests/models/test_agent_example.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core import NodeError
from hive_core.events import trace_to_builtins
from hive_core.models import (
    Cassette,
    CassetteMismatchError,
    ChatMessage,
    ScriptedModelClient,
    ScriptedReply,
    ToolCall,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "agent.py"

SCRIPT: list[ScriptedReply] = [
    ChatMessage.assistant(
        "chatcmpl-1",
        "",
        (
            ToolCall(
                id="call_lookup",
                name="lookup_order",
                arguments_json='{"order_id":"1042"}',
            ),
        ),
    ),
    ChatMessage.assistant(
        "chatcmpl-2",
        "",
        (
            ToolCall(
                id="call_refund",
                name="refund_order",
                arguments_json='{"order_id":"1042","amount_eur":35.0}',
            ),
        ),
    ),
    ChatMessage.assistant(
        "chatcmpl-3",
        "Sorry about the teapot! I have refunded the full 35.00 EUR for order 1042.",
    ),
]
"""What the stand-in model answers: look the order up, refund it, confirm."""


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hive_example_agent", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return load_example()


def record_cassette(example: ModuleType, path: Path) -> None:
    with Cassette(path, mode="record") as tape:
        asyncio.run(example.run_agent(tape.client(ScriptedModelClient(SCRIPT))))


def replay(example: ModuleType) -> Any:
    tape = Cassette(example.CASSETTE)
    run = asyncio.run(example.run_agent(tape.client()))
    assert tape.all_played
    return run


def test_trace_and_answer_are_pinned(
    example: ModuleType, snapshot: SnapshotAssertion
) -> None:
    run = replay(example)
    assert run.outcome.status == "finished"
    assert [c.name for c in run.pending.calls] == ["refund_order"]
    doc = {
        "events": trace_to_builtins(run.events),
        "pending": [c.name + c.arguments_json for c in run.pending.calls],
        "answer": run.answer,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "calls": [c.name for c in m.tool_calls],
            }
            for m in run.outcome.get(example.AgentState.messages)
        ],
    }
    assert doc == snapshot


def test_replay_is_byte_identical_across_runs(example: ModuleType) -> None:
    first, second = replay(example), replay(example)
    assert trace_to_builtins(first.events, ids=True) == trace_to_builtins(
        second.events, ids=True
    )


def test_committed_cassette_is_a_fresh_recording(
    example: ModuleType, tmp_path: Path
) -> None:
    """The committed file is exactly what recording the stand-in model gives."""
    path = tmp_path / "agent.json"
    record_cassette(example, path)
    assert path.read_bytes() == example.CASSETTE.read_bytes(), (
        "examples/cassettes/agent.json is stale: python tests/models/test_agent_example.py"
    )


def test_changed_prompt_fails_naming_the_field(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(example, "QUESTION", "My teapot arrived broken.")
    with pytest.raises(NodeError) as info:
        replay(example)
    cause = info.value.__cause__
    assert isinstance(cause, CassetteMismatchError)
    assert (cause.path, cause.got) == (
        "messages[1].content",
        "'My teapot arrived broken.'",
    )
    assert "messages[1].content: expected 'My teapot from order 1042" in str(info.value)


def test_main_prints_trace_and_answer(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    example.main([])
    out = capsys.readouterr().out
    assert "run_interrupted" in out
    assert "approval asked for: refund_order" in out
    assert out.rstrip().endswith(
        "answer: Sorry about the teapot! I have refunded the full 35.00 EUR for order 1042."
    )


if __name__ == "__main__":
    module = load_example()
    record_cassette(module, module.CASSETTE)
    print(f"wrote {module.CASSETTE}")
