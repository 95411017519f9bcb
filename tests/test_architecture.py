"""The shape of the code, checked: no import cycles, a layer table, small units.

Every import statement of every ``hive_core`` and ``hive_dsl`` module counts,
including those under ``if TYPE_CHECKING:`` and inside functions: a cycle that only
type checking or a lazy import hides is still two modules that cannot be understood
one without the other. ``docs/architecture.md`` shows the same layer table (a test
below keeps the two in step).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hive_core", "hive_dsl")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
MAX_TOP_LEVEL_MODULES = 10


# ----------------------------------------------------------------- the import graph


def module_files() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = (path, is_package)
    return found


MODULES = module_files()


def _absolute(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported(name: str, *, nested: bool = True) -> set[str]:
    """Every module ``name`` imports (a name that is a submodule counts as that
    submodule); with ``nested=False`` only the statements run at import time."""
    path, is_package = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes: Iterator[ast.AST] = ast.walk(tree) if nested else _import_time(tree.body)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(name, is_package, node)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                out.add(sub if sub in MODULES else module)
    return out


def _import_time(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Import statements at module level, skipping ``if TYPE_CHECKING:`` blocks."""
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _import_time(stmt.orelse)
        elif isinstance(stmt, ast.If | ast.Try):
            yield from _import_time(stmt.body)
            yield from _import_time(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt


def internal_graph() -> dict[str, set[str]]:
    return {name: imported(name) & MODULES.keys() for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(internal_graph()) == []


class TestTheCycleCheck:
    def test_it_finds_a_cycle_through_a_lazy_import(self) -> None:
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        assert cycles(graph) == [["a", "b", "c"]]

    def test_it_sees_type_checking_and_function_level_imports(self) -> None:
        # environment names the model protocols for type checking only, and the
        # messages reducer imports the LangChain conversions inside a function
        assert "hive_core.models._protocols" in imported("hive_core.environment")
        messages = "hive_core.models._messages"
        assert "hive_core.models._langchain_messages" in imported(messages)
        lazy = "hive_core.models._langchain_messages"
        assert lazy not in imported(messages, nested=False)


# ------------------------------------------------------------------------ layers

# (layer, module prefixes, layers it may import). A module belongs to the layer of
# its longest matching prefix; imports inside one layer are free (the cycle check
# still applies). docs/architecture.md shows this table.
LAYERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "hive_core._exports",
            "hive_core._errors",
            "hive_core.errors",
            "hive_core._bridge",
            "hive_core.ids",
            "hive_core.events",
            "hive_core.reducers",
        ),
        (),
    ),
    ("state", ("hive_core.state",), ("foundation",)),
    (
        "service protocols",
        (
            "hive_core.models._chat",
            "hive_core.models._protocols",
            "hive_core.memory._protocol",
            "hive_core._observe",
        ),
        ("foundation",),
    ),
    (
        "store protocol",
        (
            "hive_core.persistence._format",
            "hive_core.persistence._fence",
            "hive_core.persistence._errors",
            "hive_core.persistence._threads",
        ),
        ("foundation",),
    ),
    ("environment", ("hive_core.environment",), ("service protocols",)),
    (
        "nodes",
        ("hive_core.nodes",),
        ("foundation", "state", "environment", "store protocol"),
    ),
    ("graph", ("hive_core.graph",), ("foundation", "state", "nodes")),
    ("run types", ("hive_core.run_types",), ("foundation", "state")),
    (
        "persistence",
        ("hive_core.persistence",),
        ("foundation", "state", "graph", "run types", "store protocol"),
    ),
    (
        "runtime",
        ("hive_core.runtime",),
        (
            "foundation",
            "state",
            "service protocols",
            "environment",
            "nodes",
            "graph",
            "run types",
            "store protocol",
            "persistence",
        ),
    ),
    (
        "models",
        ("hive_core.models",),
        ("foundation", "state", "service protocols", "environment"),
    ),
    (
        "memory",
        ("hive_core.memory",),
        ("foundation", "service protocols", "store protocol", "persistence"),
    ),
    (
        "observability",
        ("hive_core.observability",),
        ("foundation", "service protocols", "models"),
    ),
    (
        "testing",
        ("hive_core.testing",),
        (
            "foundation",
            "state",
            "environment",
            "nodes",
            "graph",
            "run types",
            "store protocol",
            "persistence",
            "runtime",
        ),
    ),
    (
        "service",
        ("hive_core.service",),
        (
            "foundation",
            "environment",
            "graph",
            "run types",
            "store protocol",
            "persistence",
            "runtime",
            "observability",
        ),
    ),
    (
        "viewer",
        ("hive_core.viewer",),
        (
            "foundation",
            "state",
            "graph",
            "run types",
            "runtime",
            "testing",
            "service",
        ),
    ),
    (
        "server",
        ("hive_core.server",),
        (
            "foundation",
            "state",
            "graph",
            "run types",
            "store protocol",
            "persistence",
            "runtime",
            "testing",
            "observability",
            "service",
            "viewer",
        ),
    ),
    (
        "command line",
        ("hive_core.testing._cli", "hive_core.testing.__main__", "hive_core.cli"),
        (
            "foundation",
            "state",
            "graph",
            "run types",
            "store protocol",
            "persistence",
            "runtime",
            "testing",
            "viewer",
            "service",
            "server",
        ),
    ),
    (
        "hive_core",
        ("hive_core",),
        (
            "foundation",
            "state",
            "environment",
            "nodes",
            "graph",
            "run types",
            "store protocol",
            "persistence",
            "runtime",
        ),
    ),
    (
        "hive_dsl",
        ("hive_dsl",),
        (
            "hive_core",
            "foundation",
            "state",
            "nodes",
            "models",
            "store protocol",
            "persistence",
            "testing",
        ),
    ),
)
ALLOWED = {layer: set(allowed) for layer, _, allowed in LAYERS}


def layer_of(module: str) -> str:
    best = ""
    found = ""
    for layer, prefixes, _ in LAYERS:
        for prefix in prefixes:
            hit = module == prefix or module.startswith(prefix + ".")
            if hit and len(prefix) > len(best):
                best, found = prefix, layer
    assert found, f"{module} is in no layer"
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module in sorted(graph):
        here = layer_of(module)
        for target in sorted(graph[module]):
            there = layer_of(target)
            if there != here and there not in ALLOWED[here]:
                out.append(f"{module} ({here}) imports {target} ({there})")
    return out


def test_every_import_follows_the_layer_table() -> None:
    assert layer_violations(internal_graph()) == []


def test_the_layer_table_has_no_cycle_of_its_own() -> None:
    graph = {layer: ALLOWED[layer] - {layer} for layer in ALLOWED}
    assert cycles(graph) == []


def test_the_architecture_page_shows_the_layer_table() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for layer, prefixes, allowed in LAYERS:
        row = (
            f"| {layer} | {', '.join(f'`{p}`' for p in prefixes)} | "
            f"{', '.join(allowed) or '(nothing)'} |"
        )
        assert row in page, row


def test_a_layer_violation_is_reported() -> None:
    graph = {"hive_core.state._store": {"hive_core.runtime._loop"}}
    assert layer_violations(graph) == [
        "hive_core.state._store (state) imports hive_core.runtime._loop (runtime)"
    ]


# ------------------------------------------------------- the pure parts of a step

PURE = ("hive_core.runtime._plan", "hive_core.runtime._commit")
# Planning and committing a step are pure functions of a state: no event loop, no
# threads, no store, no clock. The run loop does the I/O around them.
IMPURE = (
    "asyncio",
    "threading",
    "concurrent",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "hive_core._bridge",
    "hive_core.persistence",
    "hive_core.runtime._checkpointing",
    "hive_core.runtime._execute",
    "hive_core.runtime._loop",
    "hive_core.runtime._runtime",
)


def _impure(modules: set[str]) -> set[str]:
    return {m for m in modules for bad in IMPURE if m == bad or m.startswith(bad + ".")}


@pytest.mark.parametrize("module", PURE)
def test_plan_and_commit_import_no_asyncio_and_no_store(module: str) -> None:
    assert _impure(imported(module)) == set()


@pytest.mark.parametrize("module", PURE)
def test_nor_does_anything_they_load(module: str) -> None:
    seen: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        modules = imported(current, nested=False)
        assert _impure(modules) == set(), f"{current}, loaded by {module}"
        pending.extend(sorted(modules & MODULES.keys()))


# ------------------------------------------------------------------------- sizes


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for name, (path, _) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name} ({lines} lines)")
    assert long == []


def test_no_module_is_longer_than_600_lines() -> None:
    long = []
    for name, (path, _) in MODULES.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{name} ({lines} lines)")
    assert long == []


def test_hive_core_has_at_most_10_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "hive_core").glob("*.py"))
    top.remove("__init__.py")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_the_scan_sees_both_packages() -> None:
    assert {"hive_core.runtime._commit", "hive_dsl._workflow"} <= MODULES.keys()
    assert "hive_core" in MODULES
