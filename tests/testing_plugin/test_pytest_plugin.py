"""The pytest plugin as a user meets it: the sample project run through ``pytester``
with the plugin loaded from the installed ``pytest11`` entry point (nothing here
passes ``-p hive_core.testing._plugin``)."""

from __future__ import annotations

import re
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent
SAMPLE = HERE / "sample_project"
SNAPSHOTS = SAMPLE / "__snapshots__" / "test_workflow"
DOCS = HERE.parent.parent / "docs" / "testing.md"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A copy of the sample project (committed snapshots included)."""
    shutil.copytree(
        SAMPLE,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
    )
    return pytester


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("hive") == "hive_core.testing._plugin"


class TestSampleProject:
    def test_passes_against_the_committed_snapshots(
        self, project: pytest.Pytester
    ) -> None:
        result = project.runpytest()
        result.assert_outcomes(passed=4)
        result.stdout.fnmatch_lines(["plugins:*hive-graph-*", "*2 snapshots passed*"])

    def test_a_changed_graph_fails_naming_the_diverging_event(
        self, project: pytest.Pytester
    ) -> None:
        """A fact-checking step slipped in before `write`: step 2 runs another
        node."""
        workflow = project.path / "workflow.py"
        source = workflow.read_text(encoding="utf-8")
        changed = source.replace(
            '    .add_edge("search", "write")\n',
            '    .add_node("fact_check", publish)\n'
            '    .add_edge("search", "fact_check")\n'
            '    .add_edge("fact_check", "write")\n',
        )
        assert changed != source
        workflow.write_text(changed, encoding="utf-8")

        result = project.runpytest("-k", "matches_snapshot")

        result.assert_outcomes(failed=1, deselected=3)
        result.stdout.fnmatch_lines(
            [
                "*assert ?+ received? == ?- test_research_run_matches_snapshot?",
                "*first divergence at event 13 (step 2, task ordinal 0, node `write`,"
                " task_started): field `node` expected write, got fact_check",
                "*  expected: write",
                "*  actual:   fact_check",
            ]
        )

    def test_snapshot_update_regenerates_the_same_files_and_prunes_stale_ones(
        self, project: pytest.Pytester
    ) -> None:
        folder = project.path / "__snapshots__" / "test_workflow"
        for committed in folder.iterdir():
            committed.unlink()
        stale = folder / "test_renamed_long_ago.trace"
        stale.write_text("outcome: finished\n", encoding="utf-8")

        result = project.runpytest("--snapshot-update")

        result.assert_outcomes(passed=4)
        result.stdout.fnmatch_lines(
            ["*2 snapshots generated. 1 unused snapshot deleted.*"]
        )
        assert not stale.exists()
        for committed in SNAPSHOTS.iterdir():
            regenerated = folder / committed.name
            assert regenerated.read_bytes() == committed.read_bytes()

    def test_determinism_failure_reports_the_seed_from_the_command_line(
        self, project: pytest.Pytester
    ) -> None:
        project.makepyfile(
            test_racy="""
            from hive_core import GraphBuilder, NodeOutput, Schema, Spawn, Write
            from hive_core import channel, reducers

            class Racy(Schema):
                item = channel(str, scope="task_local")
                seen = channel(list[str], reducer=reducers.append, update="multi")

            arrivals = []

            def fan(node):
                arrivals.clear()
                return NodeOutput(spawn=[Spawn("work", {Racy.item: i}) for i in "abcdef"])

            async def work(node):
                arrivals.append(node.store.get(Racy.item))
                return NodeOutput(writes=[Write(Racy.seen, [str(len(arrivals))])])

            graph = (
                GraphBuilder(Racy, start=["fan"])
                .add_node("fan", fan)
                .add_node("work", work)
                .compile()
            )

            def test_racy(hive_determinism):
                hive_determinism(graph)
            """
        )
        result = project.runpytest("test_racy.py", "--hive-seed=11")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [
                "*NondeterminismError: the graph is not deterministic: shuffled run "
                "* (seed=11) differs from the reference run",
                "*first divergence at event * (step 1, write_applied, channel `seen`)*",
            ]
        )


def _fenced(text: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"(?ms)^```([^\n]*)\n(.*?)^```$", text)]


class TestDocsShowTheSampleProject:
    """docs/testing.md quotes the sample project verbatim; keep them in sync."""

    @pytest.mark.parametrize(
        "path",
        [
            SAMPLE / "workflow.py",
            SAMPLE / "test_workflow.py",
            SNAPSHOTS / "test_research_run_matches_snapshot.trace",
        ],
        ids=lambda p: p.name,
    )
    def test_file_appears_verbatim(self, path: Path) -> None:
        blocks = _fenced(DOCS.read_text(encoding="utf-8"))
        assert path.read_text(encoding="utf-8") in blocks
