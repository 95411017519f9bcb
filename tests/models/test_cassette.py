"""Record/replay cassettes: readable files, exact replay, precise mismatch errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from hive_core.models import (
    Cassette,
    CassetteExhaustedError,
    CassetteFormatError,
    CassetteMismatchError,
    ChatMessage,
    ChatRequest,
    ReplayedToolError,
    ScriptedModelClient,
    ToolCall,
    ToolLoopConfig,
    ToolRegistry,
    first_difference,
    run_tool_loop,
)


def add(a: int, b: int) -> int:
    """Add."""
    return a + b


def fail() -> str:
    """Fails."""
    raise ValueError("nope")


def request(text: str = "hi", model: str = "m") -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(ChatMessage.system("s", "sys"), ChatMessage.user("u", text)),
    )


def script() -> ScriptedModelClient:
    call = ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}')
    return ScriptedModelClient([ChatMessage.assistant("a1", "", (call,)), "five"])


def record(path: Path, mode: Any = "stream") -> tuple[Any, bytes]:
    with Cassette(path, mode="record") as tape:
        result = asyncio.run(
            run_tool_loop(
                request(),
                tape.client(script()),
                tape.tools(ToolRegistry([add])),
                ToolLoopConfig(mode=mode),
            )
        )
    return result, path.read_bytes()


def replay(path: Path, req: ChatRequest, mode: Any = "stream") -> Any:
    tape = Cassette(path, mode="replay")
    result = asyncio.run(
        run_tool_loop(req, tape.client(), tape.tools(), ToolLoopConfig(mode=mode))
    )
    return tape, result


class TestRecordAndReplay:
    @pytest.mark.parametrize("mode", ["stream", "complete"])
    def test_replay_gives_the_recorded_result_offline(
        self, tmp_path: Path, mode: str
    ) -> None:
        path = tmp_path / "tape.json"
        recorded, _ = record(path, mode)
        tape, replayed = replay(path, request(), mode)
        assert replayed == recorded
        assert tape.all_played

    def test_file_is_readable_indented_json_with_stable_bytes(
        self, tmp_path: Path
    ) -> None:
        _, first = record(tmp_path / "a.json")
        _, second = record(tmp_path / "b.json")
        assert first == second
        text = first.decode()
        assert text.endswith("}\n")
        assert '\n  "model_calls": [\n' in text
        data = json.loads(text)
        assert data["format"] == "hive-cassette/1"
        assert [c["mode"] for c in data["model_calls"]] == ["stream", "stream"]
        assert data["model_calls"][1]["chunks"][-1]["type"] == "final"
        assert data["tool_calls"][0]["result"] == {"tool_call_id": "c1", "content": "5"}
        assert [d["name"] for d in data["tool_definitions"]] == ["add"]

    def test_replay_needs_no_real_client_or_tools(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        record(path)
        tape = Cassette(path)
        assert [d.name for d in tape.tools().definitions()] == ["add"]

    def test_auto_records_then_replays(self, tmp_path: Path) -> None:
        path = tmp_path / "auto.json"
        assert Cassette(path, mode="auto").mode == "record"
        record(path)
        assert Cassette(path, mode="auto").mode == "replay"

    def test_tool_errors_are_recorded_and_replayed(self, tmp_path: Path) -> None:
        path = tmp_path / "err.json"
        call = ToolCall(id="x", name="fail", arguments_json="{}")
        with Cassette(path, mode="record") as tape:
            tools = tape.tools(ToolRegistry([fail]))
            with pytest.raises(ValueError, match="nope"):
                asyncio.run(tools.invoke(call))
        with pytest.raises(ReplayedToolError, match="ValueError: nope"):
            asyncio.run(Cassette(path).tools().invoke(call))


class TestMismatch:
    def test_a_changed_prompt_names_the_first_differing_field(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "tape.json"
        record(path)
        with pytest.raises(CassetteMismatchError) as info:
            replay(path, request("hello"))
        err = info.value
        assert (err.path, err.expected, err.got) == (
            "messages[1].content",
            "'hi'",
            "'hello'",
        )
        assert err.code == "cassette-mismatch"
        assert str(err).startswith(
            f"A request does not match recorded call #0 of cassette `{path}`: "
            "messages[1].content: expected 'hi', got 'hello'"
        )

    def test_a_changed_model_and_an_extra_message(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        record(path)
        with pytest.raises(CassetteMismatchError, match="model: expected 'm', got 'x'"):
            replay(path, request(model="x"))
        longer = ChatRequest(
            model="m", messages=(*request().messages, ChatMessage.user("u2", "more"))
        )
        with pytest.raises(CassetteMismatchError) as info:
            replay(path, longer)
        assert (info.value.path, info.value.expected) == ("messages[2]", "nothing")

    def test_call_mode_is_compared(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        record(path, "stream")
        with pytest.raises(
            CassetteMismatchError, match="mode: expected 'stream', got 'complete'"
        ):
            replay(path, request(), "complete")

    def test_exhausted(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        record(path)
        tape = Cassette(path)
        client = tape.client()
        recorded = [c.request for c in tape.data.model_calls]

        async def three_calls() -> None:
            for req in [*recorded, recorded[0]]:
                [c async for c in client.stream(req)]

        with pytest.raises(CassetteExhaustedError, match="model request #3"):
            asyncio.run(three_calls())
        tape2 = Cassette(path)
        tools = tape2.tools()
        call = ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}')
        asyncio.run(tools.invoke(call))
        with pytest.raises(CassetteExhaustedError, match="tool call `add`"):
            asyncio.run(tools.invoke(call))

    def test_tool_arguments_are_compared(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        record(path)
        changed = ToolCall(id="c1", name="add", arguments_json='{"a":9,"b":3}')
        with pytest.raises(CassetteMismatchError) as info:
            asyncio.run(Cassette(path).tools().invoke(changed))
        assert info.value.path == "call.arguments_json"

    def test_first_difference(self) -> None:
        assert first_difference(request(), request()) is None
        assert first_difference({"a": [1, 2]}, {"a": [1]}) == ("a[1]", "2", "nothing")
        assert first_difference({"a": 1}, {"a": 1, "b": 2}) == ("b", "nothing", "2")
        assert first_difference(1, 1.0) == ("<root>", "1", "1.0")


class TestFileErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(CassetteFormatError, match="Cannot read cassette"):
            Cassette(tmp_path / "missing.json")

    def test_wrong_content(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text('{"format": "something-else"}')
        with pytest.raises(CassetteFormatError, match="format is 'something-else'"):
            Cassette(path)
        path.write_text("[1, 2]")
        with pytest.raises(CassetteFormatError):
            Cassette(path)

    def test_record_mode_needs_the_real_client(self, tmp_path: Path) -> None:
        tape = Cassette(tmp_path / "x.json", mode="record")
        with pytest.raises(TypeError):
            tape.client()
        with pytest.raises(TypeError):
            tape.tools()

    def test_replay_never_writes(self, tmp_path: Path) -> None:
        path = tmp_path / "tape.json"
        _, raw = record(path)
        with Cassette(path):
            pass
        assert path.read_bytes() == raw
