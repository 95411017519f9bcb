"""The docs are tested: every Python block runs, and every error code is documented.

* Each Markdown file under ``docs/`` is one test. Its fenced ``python`` blocks run in
  order in one shared namespace, with the repository root on ``sys.path`` and a
  temporary directory as the working directory. A block fenced as
  ```` ```python no-run ```` is shown to readers but not executed.
* Every ``code`` of every ``HiveError`` subclass (in any ``hive_core`` module) and
  every compile ``Problem`` code must have a ``## <code>`` heading in
  ``docs/errors.md``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import hive_core
from hive_core.errors import HiveError

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ERRORS_MD = DOCS / "errors.md"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    line: int
    """1-based line number of the first line of code."""
    info: tuple[str, ...]
    """The info string split into words, e.g. ``("python", "no-run")``."""
    code: str

    @property
    def runs(self) -> bool:
        return (
            bool(self.info) and self.info[0] == "python" and "no-run" not in self.info
        )


def fenced_blocks(text: str) -> list[Block]:
    """Fenced blocks per CommonMark: a closing fence uses the same character and is
    at least as long as the opening one; indentation of the opening fence is removed
    from the code lines (blocks inside list items)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        info = tuple(opening["info"].split())
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            line = lines[i]
            prefix = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, prefix) :])
            i += 1
        blocks.append(Block(line=i - len(body) + 1, info=info, code="\n".join(body)))
        i += 1
    return blocks


def markdown_files() -> list[Path]:
    """Every page under docs/, plus the README (its quick example must stay true)."""
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


class TestFencedBlocks:
    """The block extractor itself, so a doc cannot silently skip its code."""

    def test_finds_python_blocks_and_honours_no_run(self) -> None:
        text = "intro\n```python\nx = 1\n```\n```python no-run\nboom()\n```\n"
        blocks = fenced_blocks(text)
        assert [(b.info, b.code, b.runs) for b in blocks] == [
            (("python",), "x = 1", True),
            (("python", "no-run"), "boom()", False),
        ]

    def test_other_languages_do_not_run(self) -> None:
        blocks = fenced_blocks("```text\nnot python\n```\n```\nplain\n```\n")
        assert [b.runs for b in blocks] == [False, False]

    def test_longer_fence_contains_shorter_ones(self) -> None:
        text = "````markdown\n```python\nx = 1\n```\n````\n"
        (block,) = fenced_blocks(text)
        assert block.info == ("markdown",)
        assert block.code == "```python\nx = 1\n```"

    def test_indented_block_is_dedented(self) -> None:
        (block,) = fenced_blocks(
            "- item\n\n  ```python\n  if True:\n      y = 2\n  ```\n"
        )
        assert block.code == "if True:\n    y = 2"

    def test_line_numbers_point_at_the_code(self) -> None:
        (block,) = fenced_blocks("a\nb\n```python\nx = 1\ny = 2\n```\n")
        assert block.line == 4


@pytest.mark.parametrize(
    "path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_markdown_python_blocks_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the file's python blocks in order in one namespace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    name = "docs_" + re.sub(
        r"\W", "_", path.relative_to(ROOT).with_suffix("").as_posix()
    )
    module = types.ModuleType(name)
    module.__file__ = str(path)
    # Registered so classes defined in a snippet can be pickled or introspected.
    monkeypatch.setitem(sys.modules, name, module)
    for block in fenced_blocks(path.read_text(encoding="utf-8")):
        if not block.runs:
            continue
        # Pad so tracebacks show the Markdown file's own line numbers.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(path), "exec"), module.__dict__)


def hive_core_modules() -> list[types.ModuleType]:
    """``hive_core`` and every module under it, imported (an import error fails)."""
    modules = [hive_core]
    for info in pkgutil.walk_packages(hive_core.__path__, prefix="hive_core."):
        modules.append(importlib.import_module(info.name))
    return modules


def error_codes() -> set[str]:
    """The ``code`` of every HiveError subclass defined in ``hive_core`` or
    ``hive_dsl``."""
    hive_core_modules()
    importlib.import_module("hive_dsl")
    found: set[str] = set()
    pending: list[type[HiveError]] = [HiveError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("hive_core", "hive_dsl"):
            found.add(cls.code)
    return found


def problem_codes() -> set[str]:
    """Every ``Problem(code="...")`` literal in the ``hive_core`` sources."""
    found: set[str] = set()
    for path in sorted(Path(hive_core.__path__[0]).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = (
                func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            )
            if called != "Problem":
                continue
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                    found.add(str(kw.value.value))
    return found


def documented_codes() -> list[str]:
    text = ERRORS_MD.read_text(encoding="utf-8")
    return re.findall(r"^## `?([a-z0-9-]+)`?\s*$", text, flags=re.MULTILINE)


class TestErrorCatalogue:
    def test_finds_the_codes_it_checks(self) -> None:
        assert {"unknown-channel", "definition-error"} <= error_codes()
        assert {"duplicate-channel-id", "static-cycle"} <= problem_codes()

    def test_every_error_code_has_a_heading(self) -> None:
        missing = sorted(error_codes() - set(documented_codes()))
        assert missing == [], f"docs/errors.md lacks headings for {missing}"

    def test_every_problem_code_has_a_heading(self) -> None:
        missing = sorted(problem_codes() - set(documented_codes()))
        assert missing == [], f"docs/errors.md lacks headings for {missing}"

    def test_no_heading_is_repeated(self) -> None:
        headings = documented_codes()
        assert len(headings) == len(set(headings))

    def test_every_heading_names_a_real_code(self) -> None:
        stale = sorted(set(documented_codes()) - error_codes() - problem_codes())
        assert stale == [], f"docs/errors.md documents unknown codes {stale}"
