"""``hive_dsl`` builds on ``hive_core``'s public API only.

An AST scan of every ``hive_dsl`` module: imports are the standard library, the
core's runtime dependencies, ``hive_dsl`` itself (relative) or public ``hive_core``
modules; no module path segment and no imported name may start with an underscore,
and every name imported from a ``hive_core`` module must be in its ``__all__``. The
one exception is ``hive_core._exports.public``, the packaging helper every package's
``__init__`` calls.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DSL = ROOT / "hive_dsl"
ALLOWED_TOP = {"hive_core", "attrs", "msgspec", "typing_extensions"}
# The one private core module the DSL may use: the packaging helper that points
# re-exported names at their public path (docs/architecture.md), not core API.
SHARED = {("hive_core._exports", ("public",))}


def dsl_files() -> list[Path]:
    return sorted(DSL.rglob("*.py"))


def imports(path: Path) -> list[tuple[int, str, tuple[str, ...], int]]:
    """(line, module, names, level) for every import statement, nested ones too."""
    found: list[tuple[int, str, tuple[str, ...], int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name, (), 0))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            found.append((node.lineno, node.module or "", names, node.level))
    return found


def violations(path: Path, root: Path = ROOT) -> list[str]:
    out: list[str] = []
    where = path.relative_to(root).as_posix()
    for line, module, names, level in imports(path):
        if level > 0:
            continue  # hive_dsl's own modules
        top = module.split(".")[0]
        if top not in ALLOWED_TOP and top not in sys.stdlib_module_names:
            out.append(f"{where}:{line}: imports `{module}`")
            continue
        if top != "hive_core" or (module, names) in SHARED:
            continue
        if any(part.startswith("_") for part in module.split(".")):
            out.append(f"{where}:{line}: imports private module `{module}`")
            continue
        target = importlib.import_module(module)
        public = set(getattr(target, "__all__", ()))
        for name in names:
            if name.startswith("_"):
                out.append(f"{where}:{line}: imports private `{module}.{name}`")
            elif name not in public and not isinstance(
                getattr(target, name, None), type(sys)
            ):
                out.append(f"{where}:{line}: `{module}.{name}` is not in its __all__")
    return out


@pytest.mark.parametrize("path", dsl_files(), ids=lambda p: p.name)
def test_imports_only_public_hive_core(path: Path) -> None:
    assert violations(path) == []


class TestTheCheckItself:
    def test_it_scans_the_package(self) -> None:
        names = {p.name for p in dsl_files()}
        assert {"__init__.py", "_workflow.py", "_effects.py", "_patch.py"} <= names

    @pytest.mark.parametrize(
        ("source", "problem"),
        [
            ("from hive_core.runtime._loop import Attempt", "private module"),
            ("import hive_core.testing._tracer", "private module"),
            (
                "from hive_core.state import _resolve",
                "private `hive_core.state._resolve`",
            ),
            ("from hive_core.state import resolve_schema", "not in its __all__"),
            ("import numpy", "imports `numpy`"),
        ],
    )
    def test_it_catches(self, source: str, problem: str, tmp_path: Path) -> None:
        fake = tmp_path / "hive_dsl" / "bad.py"
        fake.parent.mkdir()
        fake.write_text(source + "\n", encoding="utf-8")
        (found,) = violations(fake, tmp_path)
        assert problem in found

    def test_nested_imports_are_seen(self, tmp_path: Path) -> None:
        src = tmp_path / "m.py"
        src.write_text("def f():\n    from hive_core._x import y\n", encoding="utf-8")
        assert imports(src) == [(2, "hive_core._x", ("y",), 0)]
