"""``hive_core.testing``: the Trace object, its text form, diffs, files and the CLI."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hive_core import (
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Outcome,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import RunStarted
from hive_core.testing import (
    Trace,
    TraceFileError,
    Tracer,
    diff_texts,
    diff_traces,
    load_trace,
    save_trace,
)
from hive_core.testing._cli import main
from hive_core.testing._trace_text import event_line, format_value, parse_text


class Flow(Schema):
    topic = channel(str)
    notes = channel(list[str], reducer=reducers.append, update="multi")


def note(node: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Flow.notes, [node.node_id])])


def chain(*nodes: str) -> CompiledGraph:
    """A straight line of nodes, each appending its id to `notes`."""
    g = GraphBuilder(Flow, start=[nodes[0]])
    for node in nodes:
        g.add_node(node, note)
    for a, b in itertools.pairwise(nodes):
        g.add_edge(a, b)
    return g.compile()


@pytest.fixture
def ab(hive_trace: Tracer) -> Trace:
    return hive_trace(chain("A", "B"), {Flow.topic: "tides"})


class TestTrace:
    def test_helpers_list_kinds_nodes_and_events_of_a_kind(self, ab: Trace) -> None:
        assert ab.kinds()[:3] == ["run_started", "step_started", "task_started"]
        assert ab.kinds()[-1] == "run_finished"
        assert ab.nodes_run() == ["A", "B"]
        assert [ev["channel"] for ev in ab.of_kind("write_applied")] == [
            "notes",
            "notes",
        ]

    def test_holds_plain_events_store_and_outcome(self, ab: Trace) -> None:
        assert ab.events[0] == {"kind": "run_started", "index": 0, "thread_id": "test"}
        assert len(ab.raw_events) == len(ab.events)
        assert ab.store == {"notes": ["A", "B"], "topic": "tides"}
        assert ab.status == "finished"
        assert ab.output == ab.store
        assert ab.interrupt is None
        assert ab.error is None
        assert repr(ab) == f"<Trace finished, {len(ab.events)} events>"

    def test_same_run_twice_gives_equal_traces(self, hive_trace: Tracer) -> None:
        graph = chain("A", "B")
        first = hive_trace(graph, {Flow.topic: "x"}, thread_id="one")
        second = hive_trace(graph, {Flow.topic: "x"}, thread_id="one-again")
        assert first.events[1:] == second.events[1:]
        assert first != second  # run_started names the thread
        assert first == hive_trace(chain("A", "B"), {Flow.topic: "x"}, thread_id="one")

    def test_text_form(self, ab: Trace) -> None:
        text = ab.to_text()
        lines = text.splitlines()
        assert lines[:4] == ["outcome: finished", "", "events:", lines[3]]
        assert lines[3] == "run    | run_started         | thread_id=test"
        assert lines[5].startswith(
            "step 0 | task_started        | ordinal=0 node=A task_id="
        )
        assert lines[5].endswith("…") and len(lines[5].split("task_id=")[1]) == 13
        assert "run    | run_finished" in lines
        assert lines[-3:] == ["store:", 'notes = ["A","B"]', 'topic = "tides"']
        assert text.endswith("\n")

    def test_traces_are_not_hashable(self, ab: Trace) -> None:
        with pytest.raises(TypeError):
            hash(ab)


class TestTextFormat:
    def test_bare_words_stay_bare_and_everything_else_is_json(self) -> None:
        assert format_value("plan") == "plan"
        assert format_value("a b") == '"a b"'
        assert format_value("12") == '"12"'  # not confused with a number
        assert format_value("true") == '"true"'
        assert format_value(12) == "12"
        assert format_value(True) == "true"
        assert format_value(None) == "null"
        assert format_value({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'

    def test_hex_hashes_are_cut_to_a_fixed_prefix(self) -> None:
        digest = "0123456789abcdef" * 4
        assert format_value(digest) == "0123456789ab…"
        assert format_value(digest, short_hashes=False) == digest
        assert format_value("0123456789abcdef") == "0123456789abcdef"

    def test_values_without_a_json_form_are_named_not_repred(self) -> None:
        assert format_value(object()) == "<unencodable object>"

    def test_event_lines_parse_back_into_fields(self) -> None:
        event: dict[str, Any] = {
            "kind": "tool_invocation_finished",
            "index": 4,
            "step": 2,
            "ordinal": 1,
            "metadata": {"q": "a | b"},
            "name": "web search",
            "success": False,
        }
        line = event_line(event)
        assert line == (
            'step 2 | tool_invocation_finished | ordinal=1 metadata={"q":"a | b"} '
            'name="web search" success=false'
        )
        parsed = parse_text(f"outcome: finished\n\nevents:\n{line}\n").events[0]
        assert parsed == {
            "kind": "tool_invocation_finished",
            "step": 2,
            "ordinal": 1,
            "metadata": '{"q":"a | b"}',
            "name": '"web search"',
            "success": "false",
        }

    def test_long_store_values_are_pretty_printed_and_read_back(self) -> None:
        long = [f"entry number {i}" for i in range(8)]
        trace = Trace(
            events=[],
            store={"log": long, "z": 1},
            outcome=Outcome(status="finished", output={"log": long, "z": 1}),
        )
        text = trace.to_text()
        assert 'log = [\n    "entry number 0",\n' in text
        assert "\n  ]\nz = 1\n" in text
        parsed = parse_text(text)
        assert parsed.store["z"] == "1"
        assert parsed.store["log"].startswith('[\n  "entry number 0",')


class TestDiff:
    def test_equal_traces_have_no_divergence(self, ab: Trace) -> None:
        assert diff_traces(ab, ab) is None
        assert diff_traces(ab.raw_events, ab.events) is None
        assert diff_texts(ab.to_text(), ab.to_text()) is None

    def test_names_the_first_differing_event_and_field(
        self, hive_trace: Tracer, ab: Trace
    ) -> None:
        ac = hive_trace(chain("A", "C"), {Flow.topic: "tides"})
        found = diff_traces(ab, ac)
        assert found is not None
        assert (found.section, found.index, found.step) == ("events", 7, 1)
        assert (found.ordinal, found.node, found.kind) == (0, "B", "task_started")
        assert (found.field, found.expected, found.actual) == ("node", "B", "C")
        assert found.summary() == (
            "first divergence at event 7 (step 1, task ordinal 0, node `B`, "
            "task_started): field `node` expected B, got C"
        )
        assert found.store_note == (
            "the final store differs too, first at channel `notes`: "
            'expected ["A","B"], got ["A","C"]'
        )
        rendered = str(found).splitlines()
        assert rendered[1:3] == ["  expected: B", "  actual:   C"]
        assert rendered[5] == "        4  step 0 | write_applied       | " + (
            "channel=notes payload_hash=d2a4b37cac0a…"
        )
        assert rendered[8].startswith(
            "    -   7  step 1 | task_started        | ordinal=0 node=B task_id="
        )
        assert rendered[11].startswith(
            "    +   7  step 1 | task_started        | ordinal=0 node=C task_id="
        )

    def test_a_trace_that_ends_early_is_named(self, ab: Trace) -> None:
        found = diff_traces(ab.events, ab.events[:11])
        assert found is not None
        assert (found.index, found.kind, found.field) == (11, "run_finished", None)
        assert (found.expected, found.actual) == (
            "run    | run_finished",
            "<end of trace>",
        )
        assert found.summary() == (
            "first divergence at event 11 (run level, run_finished): expected "
            "run    | run_finished, got <end of trace>"
        )
        extra = diff_traces(ab.events[:11], ab.events)
        assert extra is not None
        assert (extra.expected, extra.actual) == (
            "<end of trace>",
            "run    | run_finished",
        )

    def test_a_longer_run_differs_where_it_goes_on(
        self, hive_trace: Tracer, ab: Trace
    ) -> None:
        abc = hive_trace(chain("A", "B", "C"), {Flow.topic: "tides"})
        found = diff_traces(ab, abc)
        assert found is not None
        assert (found.index, found.kind, found.field) == (
            10,
            "step_finished",
            "next_frontier_count",
        )
        assert (found.expected, found.actual) == ("0", "1")

    def test_ignored_fields_are_not_compared(self, hive_trace: Tracer) -> None:
        graph = chain("A")
        first = hive_trace(graph, {Flow.topic: "x"}, thread_id="t1")
        second = hive_trace(graph, {Flow.topic: "x"}, thread_id="t2")
        assert diff_traces(first, second) is not None
        assert diff_traces(first.events, second.events, ignore=["thread_id"]) is None

    def test_outcome_and_store_are_compared_after_events(self) -> None:
        def make(status: str, notes: list[str]) -> Trace:
            return Trace(
                events=[],
                store={"notes": notes},
                outcome=Outcome(status=status, output={"notes": notes}),  # type: ignore[arg-type]
            )

        outcome = diff_traces(make("finished", []), make("cancelled", []))
        assert outcome is not None
        assert (outcome.section, outcome.field) == ("outcome", "outcome")
        assert (outcome.expected, outcome.actual) == ("finished", "cancelled")
        assert outcome.summary().startswith(
            "events match; first divergence in the outcome `outcome`"
        )
        store = diff_traces(make("finished", ["a"]), make("finished", ["b"]))
        assert store is not None
        assert (store.section, store.field) == ("store", "notes")
        assert (store.expected, store.actual) == ('["a"]', '["b"]')

    def test_rejects_things_that_are_not_traces(self) -> None:
        with pytest.raises(TypeError, match="expected a Trace"):
            diff_traces([1, 2], [])  # type: ignore[arg-type]


class TestFiles:
    def test_save_and_load_round_trip(self, ab: Trace, tmp_path: Path) -> None:
        path = tmp_path / "ab.jsonl"
        save_trace(path, ab)
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(ab.events)
        assert lines[0].startswith(
            '{"kind":"run_started","thread_id":"test","run_id":"00000000-0000-0001-'
        )
        assert load_trace(path) == list(ab.raw_events)

    def test_blank_lines_are_skipped(self, ab: Trace, tmp_path: Path) -> None:
        path = tmp_path / "ab.jsonl"
        save_trace(path, ab.raw_events[:2])
        path.write_text(path.read_text() + "\n\n", encoding="utf-8")
        assert load_trace(path) == list(ab.raw_events[:2])

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(TraceFileError, match="No such file") as info:
            load_trace(tmp_path / "nope.jsonl")
        assert info.value.line is None

    def test_a_bad_line_is_named(self, ab: Trace, tmp_path: Path) -> None:
        path = tmp_path / "bad.jsonl"
        save_trace(path, ab.raw_events[:1])
        with path.open("a", encoding="utf-8") as f:
            f.write('{"kind": "step_started"}\n')
        with pytest.raises(TraceFileError, match=r"bad\.jsonl, line 2: ") as info:
            load_trace(path)
        assert info.value.line == 2

    def test_save_wants_event_structs(self, ab: Trace, tmp_path: Path) -> None:
        with pytest.raises(TypeError, match="Event structs, got dict"):
            save_trace(tmp_path / "x.jsonl", ab.events)  # type: ignore[arg-type]


class TestCommandLine:
    @pytest.fixture
    def files(self, hive_trace: Tracer, ab: Trace, tmp_path: Path) -> list[str]:
        ac = hive_trace(chain("A", "C"), {Flow.topic: "tides"}, thread_id="other")
        paths = [tmp_path / "ab.jsonl", tmp_path / "ac.jsonl"]
        save_trace(paths[0], ab)
        save_trace(paths[1], ac)
        return [str(p) for p in paths]

    def test_equal_traces_exit_0(
        self, files: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["diff", files[0], files[0]]) == 0
        assert capsys.readouterr().out == "traces are equal (12 events)\n"

    def test_different_traces_exit_1_with_the_first_divergence(
        self, files: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["diff", files[0], files[1]]) == 1
        out = capsys.readouterr().out
        assert out.startswith(
            "first divergence at event 0 (run level, run_started): field "
            "`thread_id` expected test, got other\n"
        )
        assert main(["diff", files[0], files[1], "--ignore", "thread_id"]) == 1
        out = capsys.readouterr().out
        assert out.startswith("first divergence at event 7 (step 1, task ordinal 0")

    def test_bad_input_exits_2_naming_the_file(
        self, files: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bad = tmp_path / "bad.jsonl"
        bad.write_text("not json\n", encoding="utf-8")
        assert main(["diff", files[0], str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot read trace {bad}, line 1: ")
        with pytest.raises(SystemExit) as info:
            main(["diff", files[0]])
        assert info.value.code == 2

    def test_show_prints_one_event_per_line(
        self, files: list[str], ab: Trace, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["show", files[0]]) == 0
        assert (
            capsys.readouterr().out
            == ab.to_text().split("events:\n")[1].split("\n\nstore:")[0] + "\n"
        )

    def test_runs_as_a_module(self, files: list[str]) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "hive_core.testing", "diff", *files],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr == ""  # no runpy warning: hive_core does not import it
        assert done.stdout.startswith("first divergence at event 0")


def test_event_structs_keep_their_ids_in_files(ab: Trace) -> None:
    first = ab.raw_events[0]
    assert isinstance(first, RunStarted)
    assert first.run_id == "00000000-0000-0001-0000-000000000001"
