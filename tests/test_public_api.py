"""The public API: ``__all__`` matches what each public module defines, and is pinned.

Every public module of ``hive_core`` and ``hive_dsl`` (no path segment starting with
an underscore) is covered. Any change to the public surface shows up in review as a
snapshot diff (``tests/__snapshots__/test_public_api.ambr``). Exported classes and
functions name their public home in ``__module__`` (``hive_core._exports.public``),
and a msgspec Struct's annotations still resolve from there, so decoding into it
and ``typing.get_type_hints`` work (see ``docs/architecture.md``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing
from types import FunctionType, ModuleType

import msgspec
import pytest
from syrupy.assertion import SnapshotAssertion

import hive_core
import hive_dsl


def public_modules() -> list[str]:
    found = []
    for package in (hive_core, hive_dsl):
        found.append(package.__name__)
        prefix = package.__name__ + "."
        for info in pkgutil.walk_packages(package.__path__, prefix):
            if not any(part.startswith("_") for part in info.name.split(".")):
                found.append(info.name)
    return sorted(found)


MODULES = public_modules()
PACKAGES = [m for m in MODULES if hasattr(importlib.import_module(m), "__path__")]

# Bound in a public module but exported elsewhere: the service errors live in
# hive_core.errors (their pickled home) and are exported by hive_core.service.
EXPORTED_ELSEWHERE = {
    "hive_core.errors": {
        "RunNotFoundError",
        "RunWaitTimeoutError",
        "ServiceConfigError",
        "ServiceError",
        "UnknownGraphError",
    }
}


def _statements(module: ModuleType) -> list[ast.stmt]:
    return ast.parse(inspect.getsource(module)).body


def bound_names(module: ModuleType) -> set[str]:
    """Top-level names bound in the module's source: imports, defs, assignments
    (the ``public`` helper every ``__init__`` imports does not count)."""
    names: set[str] = set()
    for stmt in _statements(module):
        if isinstance(stmt, ast.ImportFrom) and (
            stmt.module == "__future__" or (stmt.module or "").endswith("_exports")
        ):
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                names.add(alias.asname or alias.name.split(".")[0])
        else:
            names.update(_defined(stmt))
    names.discard("TYPE_CHECKING")  # guards imports for type checkers only
    return names


def _defined(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        return {
            n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)
        }
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return {stmt.target.id}
    return set()


def defined_classes_and_functions(module: ModuleType) -> set[str]:
    return {
        stmt.name
        for stmt in _statements(module)
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not stmt.name.startswith("_")
    }


def exported_objects(name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(name)
    return [(n, getattr(module, n)) for n in module.__all__]


def test_the_public_modules_are_pinned(snapshot: SnapshotAssertion) -> None:
    assert snapshot == MODULES


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_exports_exactly_its_public_names(package: str) -> None:
    module = importlib.import_module(package)
    public = {n for n in bound_names(module) if not n.startswith("_")}
    public -= EXPORTED_ELSEWHERE.get(package, set())
    assert set(module.__all__) == public


@pytest.mark.parametrize("name", sorted(set(MODULES) - set(PACKAGES)))
def test_a_module_exports_every_class_and_function_it_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert defined_classes_and_functions(module) <= set(module.__all__)
    hidden = set(module.__all__) - bound_names(module)
    assert hidden == set(), f"__all__ names what {name} does not bind"


@pytest.mark.parametrize("name", MODULES)
class TestPublicApi:
    def test_all_has_no_duplicates(self, name: str) -> None:
        module = importlib.import_module(name)
        assert len(module.__all__) == len(set(module.__all__))

    def test_every_name_imports(self, name: str) -> None:
        module = importlib.import_module(name)
        namespace: dict[str, object] = {}
        exec(f"from {name} import *", namespace)
        for n in module.__all__:
            assert getattr(module, n) is namespace[n]

    def test_every_export_names_its_public_home(self, name: str) -> None:
        wrong = []
        for n, obj in exported_objects(name):
            home = getattr(obj, "__module__", None)
            if not isinstance(obj, type | FunctionType) or not isinstance(home, str):
                continue
            if not home.startswith(("hive_core", "hive_dsl")):
                continue
            public = not any(part.startswith("_") for part in home.split("."))
            found = getattr(importlib.import_module(home), obj.__name__, None)
            if not public or found is not obj:
                wrong.append(f"{n}: {home}")
        assert wrong == []

    def test_struct_annotations_resolve(self, name: str) -> None:
        for _, obj in exported_objects(name):
            if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
                typing.get_type_hints(obj)

    def test_matches_snapshot(self, name: str, snapshot: SnapshotAssertion) -> None:
        module = importlib.import_module(name)
        assert sorted(module.__all__) == snapshot
