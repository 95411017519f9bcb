"""The public API: ``__all__`` matches what each package defines, and is pinned.

Any change to the public surface shows up in review as a snapshot diff
(``tests/__snapshots__/test_public_api.ambr``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from types import ModuleType

import pytest
from syrupy.assertion import SnapshotAssertion

PACKAGES = [
    "hive_core",
    "hive_dsl",
    "hive_core.memory",
    "hive_core.models",
    "hive_core.runtime",
]


def bound_names(module: ModuleType) -> set[str]:
    """Top-level names bound in the module's source: imports, defs, assignments."""
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return names


@pytest.mark.parametrize("package", PACKAGES)
class TestPublicApi:
    def test_all_lists_exactly_the_public_names(self, package: str) -> None:
        module = importlib.import_module(package)
        public = {n for n in bound_names(module) if not n.startswith("_")}
        assert set(module.__all__) == public

    def test_all_has_no_duplicates(self, package: str) -> None:
        module = importlib.import_module(package)
        assert len(module.__all__) == len(set(module.__all__))

    def test_every_name_imports(self, package: str) -> None:
        module = importlib.import_module(package)
        namespace: dict[str, object] = {}
        exec(f"from {package} import *", namespace)
        for name in module.__all__:
            assert getattr(module, name) is namespace[name]

    def test_matches_snapshot(self, package: str, snapshot: SnapshotAssertion) -> None:
        module = importlib.import_module(package)
        assert sorted(module.__all__) == snapshot
