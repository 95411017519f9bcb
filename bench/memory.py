"""Benchmark: BM25 recall of hive's memory stores against bm25s and rank-bm25.

The corpus is text nobody here wrote: every docstring of the Python standard library
(modules, classes, functions, methods, properties, C builtins included) split into
paragraphs. Modules are imported by name in sorted order; packages with import side
effects (``antigravity``, ``this``, GUI toolkits, the test suite) are skipped, and so
is any module that fails to import. Paragraphs are deduplicated by text, keep the first
occurrence, and get the id ``<qualified name>#<paragraph number>``.

The stdlib gives ~15k paragraphs, short of the ~100k a big memory reaches, so the full
run adds a ``memory_100k`` workload: the stdlib corpus topped up with docstring
paragraphs of the installed third-party packages (parsed with ``ast``, never imported,
sorted by package name) until 100k documents. Its exact content depends on what is
installed; the JSON line lists the packages used.

Each workload indexes the same documents, tokenised once by ``hive_core.memory``'s
tokenizer, in four engines: our in-memory store, our SQLite store (temporary file,
index warmed by one recall first), ``bm25s`` (method "lucene", float64) and
``rank_bm25.BM25Okapi`` (both given our tokens). 100 deterministic queries (windows of
1-5 tokens cut from sampled documents) are timed one at a time, top 10 each.

bm25s drops BM25's constant factor (k1 + 1), so our scores are compared with bm25s's
full score vector times 2.2. ``top10_match`` is the fraction of queries whose top-10
ids equal the reference ranking (bm25s score x 2.2 descending, then id), where a
swap is allowed only between scores equal within 1e-9 relative;
``top10_exact`` needs the id lists identical.

Run ``python bench/memory.py`` (full) or ``python bench/memory.py --quick`` (the 10k
workload with 50 queries, under a minute).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import gc
import importlib
import inspect
import io
import json
import os
import pkgutil
import platform
import re
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from hive_core.memory import InMemoryMemoryStore, MemoryItem, SQLiteMemoryStore
from hive_core.memory import tokenize as hive_tokenize

__all__ = ["build_corpus", "make_queries", "run"]

K1 = 1.2
ENGINES = ("hive", "sqlite", "bm25s", "rank_bm25")
NAMESPACE = ("bench",)
TOP_K = 10
# Packages never imported: side effects on import (browser, printing, GUI, terminal),
# or the regression test suite, which is large, slow and not documentation.
_SKIP = frozenset(
    {
        "__hello__",
        "__main__",
        "__phello__",
        "_testbuffer",
        "_testcapi",
        "_testclinic",
        "_testimportmultiple",
        "_testinternalcapi",
        "_testmultiphase",
        "_tkinter",
        "antigravity",
        "ensurepip",
        "idlelib",
        "lib2to3",
        "pydoc_data",
        "readline",
        "test",
        "tests",
        "this",
        "tkinter",
        "turtle",
        "turtledemo",
        "venv",
    }
)
_PARAGRAPH = re.compile(r"\n\s*\n")


# ----------------------------------------------------------------------- corpus


def _stdlib_module_names() -> list[str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    roots = [stdlib, os.path.join(stdlib, "lib-dynload")]
    names = {m.name for m in pkgutil.iter_modules(roots)} | set(
        sys.builtin_module_names
    )
    return sorted(n for n in names if n in sys.stdlib_module_names and n not in _SKIP)


def _quiet_import(name: str) -> ModuleType | None:
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except BaseException:  # a module may raise anything, even SystemExit
        return None


def _stdlib_modules() -> list[ModuleType]:
    modules: dict[str, ModuleType] = {}
    for name in _stdlib_module_names():
        module = _quiet_import(name)
        if module is None:
            continue
        modules[name] = module
        path = getattr(module, "__path__", None)
        if path is None:
            continue
        subs = sorted(
            info.name
            for info in pkgutil.walk_packages(path, name + ".", onerror=lambda _: None)
            if not any(part in _SKIP for part in info.name.split("."))
        )
        for sub in subs:
            sub_module = _quiet_import(sub)
            if sub_module is not None:
                modules[sub] = sub_module
    return [modules[name] for name in sorted(modules)]


def _doc_of(obj: object) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            doc = obj.__doc__
        except Exception:
            return None
    return doc if isinstance(doc, str) else None


def _members(module: ModuleType) -> Iterator[tuple[str, object]]:
    """(qualified name, object) for a module and what it defines, sorted by name."""
    yield module.__name__, module
    for name, value in sorted(vars(module).items()):
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue
        if getattr(value, "__module__", None) != module.__name__:
            continue  # re-exported from elsewhere: documented at its home
        qualified = f"{module.__name__}.{name}"
        yield qualified, value
        if inspect.isclass(value):
            yield from _class_members(qualified, value, depth=0)


def _class_members(prefix: str, cls: type, depth: int) -> Iterator[tuple[str, object]]:
    for name, value in sorted(vars(cls).items()):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        qualified = f"{prefix}.{name}"
        if inspect.isclass(value) and depth < 2 and value.__qualname__.endswith(name):
            yield qualified, value
            yield from _class_members(qualified, value, depth + 1)
        elif (
            inspect.isroutine(value)
            or isinstance(value, property)
            or inspect.isdatadescriptor(value)
        ):
            yield qualified, value


def _paragraphs(doc: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPH.split(inspect.cleandoc(doc)) if p.strip()]


def _storable(text: str) -> bool:
    """Whether a memory store accepts ``text``: no NUL, no lone surrogate (it
    refuses both, ``docs/memory.md``). A docstring of an installed package may hold
    either (``"\\0"`` written unescaped, say)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Collector:
    def __init__(self) -> None:
        self.docs: list[tuple[str, str]] = []
        self._texts: set[str] = set()
        self._ids: set[str] = set()
        self._objects: set[int] = set()

    def add(self, name: str, doc: str) -> None:
        for number, paragraph in enumerate(_paragraphs(doc)):
            doc_id = f"{name}#{number}"
            if paragraph in self._texts or doc_id in self._ids:
                continue
            if not hive_tokenize(paragraph) or not _storable(paragraph):
                continue
            self._texts.add(paragraph)
            self._ids.add(doc_id)
            self.docs.append((doc_id, paragraph))

    def add_object(self, name: str, obj: object) -> None:
        if id(obj) in self._objects:
            return
        self._objects.add(id(obj))
        doc = _doc_of(obj)
        if doc:
            self.add(name, doc)


def build_corpus() -> list[tuple[str, str]]:
    """The stdlib docstring paragraphs as ``(id, text)``, in a deterministic order."""
    collector = _Collector()
    modules = _stdlib_modules()
    for module in modules:
        for name, obj in _members(module):
            collector.add_object(name, obj)
    return collector.docs


def _third_party_packages() -> list[tuple[str, str]]:
    """(name, directory) of installed top-level packages, sorted by name."""
    seen: dict[str, str] = {}
    for entry in sys.path:
        if "site-packages" not in entry or not os.path.isdir(entry):
            continue
        for name in sorted(os.listdir(entry)):
            path = os.path.join(entry, name)
            if (
                name.isidentifier()
                and not name.startswith("_")
                and name not in {"hive_core", "hive_dsl"}
                and os.path.isfile(os.path.join(path, "__init__.py"))
            ):
                seen.setdefault(name, path)
    return sorted(seen.items())


def _ast_docstrings(root: str, package: str) -> Iterator[tuple[str, str]]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in {"tests", "test", "__pycache__"})
        for file in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(directory, file)
            module = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
            try:
                with open(path, "rb") as handle:
                    tree = ast.parse(handle.read())
            except (SyntaxError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, kinds):
                    doc = ast.get_docstring(node)
                    if doc:
                        name = getattr(node, "name", "")
                        line = getattr(node, "lineno", 0)
                        yield f"{package}.{module}:{name}@{line}", doc


def build_big_corpus(
    base: list[tuple[str, str]], size: int
) -> tuple[list[Any], list[str]]:
    """``base`` topped up with third-party docstring paragraphs to ``size`` docs."""
    collector = _Collector()
    for doc_id, text in base:
        collector.add(doc_id.rsplit("#", 1)[0], text)
    used: list[str] = []
    for package, path in _third_party_packages():
        if len(collector.docs) >= size:
            break
        used.append(package)
        for name, doc in _ast_docstrings(path, package):
            collector.add(name, doc)
            if len(collector.docs) >= size:
                break
    return collector.docs[:size], used


def make_queries(docs: Sequence[tuple[str, str]], count: int) -> list[list[str]]:
    """``count`` token windows (1-5 tokens) cut from documents picked by a fixed hash."""
    queries: list[list[str]] = []
    i = 0
    while len(queries) < count:
        _, text = docs[(i * 2654435761) % len(docs)]
        tokens = hive_tokenize(text)
        width = 1 + i % 5
        start = (i * 7) % max(1, len(tokens) - width + 1)
        window = tokens[start : start + width]
        if window:
            queries.append(window)
        i += 1
    return queries


# ---------------------------------------------------------------------- engines


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _timed(fn: Callable[[], object]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


async def _measure(
    items: list[MemoryItem],
    tokens: list[list[str]],
    queries: list[list[str]],
    db_path: str,
) -> dict[str, Any]:
    """Build all four engines, then time each query on each engine in turn.

    Interleaving the engines query by query keeps the comparison fair on a shared,
    noisy machine: a slow moment hits all four, not whichever ran then.
    """
    import bm25s  # type: ignore[import-untyped]
    import numpy as np
    from rank_bm25 import BM25Okapi  # type: ignore[import-untyped]

    out: dict[str, Any] = {"lat": {name: [] for name in ENGINES}}
    memory = InMemoryMemoryStore()
    start = time.perf_counter()
    await memory.remember_many(items)
    out["hive_build_s"] = time.perf_counter() - start
    gc.collect()

    sqlite = SQLiteMemoryStore(db_path)
    start = time.perf_counter()
    await sqlite.remember_many(items)
    out["sqlite_build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    await sqlite.recall(NAMESPACE, "warm", 1)  # loads the namespace's index
    out["sqlite_warm_s"] = time.perf_counter() - start
    gc.collect()

    retriever = bm25s.BM25(k1=K1, b=0.75, method="lucene", dtype="float64")
    out["bm25s_build_s"], _ = _timed(
        lambda: retriever.index(tokens, show_progress=False)
    )
    out["rank_bm25_build_s"], okapi = _timed(lambda: BM25Okapi(tokens, k1=K1, b=0.75))
    gc.collect()

    hive_hits: list[list[tuple[str, float]]] = []
    sqlite_hits: list[list[tuple[str, float]]] = []
    lat = out["lat"]
    try:
        for query in queries:
            text = " ".join(query)
            start = time.perf_counter()
            hits = await memory.recall(NAMESPACE, text, TOP_K)
            lat["hive"].append(time.perf_counter() - start)
            hive_hits.append([(hit.item.key, hit.score) for hit in hits])

            start = time.perf_counter()
            hits = await sqlite.recall(NAMESPACE, text, TOP_K)
            lat["sqlite"].append(time.perf_counter() - start)
            sqlite_hits.append([(hit.item.key, hit.score) for hit in hits])

            start = time.perf_counter()
            retriever.retrieve([query], k=TOP_K, show_progress=False)
            lat["bm25s"].append(time.perf_counter() - start)

            start = time.perf_counter()
            scores = okapi.get_scores(query)
            top = np.argpartition(-scores, TOP_K)[:TOP_K]
            top[np.argsort(-scores[top], kind="stable")]
            lat["rank_bm25"].append(time.perf_counter() - start)
    finally:
        sqlite.close()
    out.update(hive_hits=hive_hits, sqlite_hits=sqlite_hits, retriever=retriever)
    return out


def _compare(
    ours: list[list[tuple[str, float]]],
    retriever: Any,
    queries: list[list[str]],
    ids: list[str],
) -> tuple[float, float, float]:
    """(max relative score diff, top-10 match fraction, exact top-10 fraction)."""
    import numpy as np

    position = {doc_id: i for i, doc_id in enumerate(ids)}
    max_diff = 0.0
    matched = exact = 0
    for hits, query in zip(ours, queries, strict=True):
        reference = retriever.get_scores(query) * (K1 + 1.0)
        for key, score in hits:
            expected = float(reference[position[key]])
            max_diff = max(max_diff, abs(score - expected) / expected)
        positive = np.flatnonzero(reference > 0)
        ranked = sorted(positive.tolist(), key=lambda i: (-reference[i], ids[i]))
        want = [ids[i] for i in ranked[:TOP_K]]
        got = [key for key, _ in hits]
        exact += got == want
        ok = len(got) == len(want)
        for a, b in zip(got, want, strict=False):
            ra = float(reference[position[a]])
            rb = float(reference[position[b]])
            if a != b and abs(ra - rb) > 1e-9 * max(ra, rb):
                ok = False
        matched += ok
    return max_diff, matched / len(queries), exact / len(queries)


def _workload(
    name: str, docs: list[tuple[str, str]], n_queries: int, extra: dict[str, object]
) -> dict[str, object]:
    ids = [doc_id for doc_id, _ in docs]
    tokenize_s, tokens = _timed(lambda: [hive_tokenize(text) for _, text in docs])
    queries = make_queries(docs, n_queries)
    items = [
        MemoryItem(namespace=NAMESPACE, key=doc_id, text=text) for doc_id, text in docs
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "memory.db")
        m = asyncio.run(_measure(items, tokens, queries, db_path))
    max_diff, match, exact = _compare(m["hive_hits"], m["retriever"], queries, ids)
    p50 = {k: _percentile(v, 0.5) for k, v in m["lat"].items()}
    p95 = {k: _percentile(v, 0.95) for k, v in m["lat"].items()}
    row: dict[str, object] = {
        "workload": name,
        "docs": len(docs),
        "queries": len(queries),
        "tokens": sum(len(t) for t in tokens),
        "tokenize_s": round(tokenize_s, 3),
    }
    for key in ("hive_build_s", "sqlite_build_s", "sqlite_warm_s"):
        row[key] = round(m[key], 3)
    row["bm25s_build_s"] = round(m["bm25s_build_s"], 3)
    row["rank_bm25_build_s"] = round(m["rank_bm25_build_s"], 3)
    for key in ENGINES:
        row[f"{key}_p50_s"] = float(f"{p50[key]:.3g}")
        row[f"{key}_p95_s"] = float(f"{p95[key]:.3g}")
    row.update(
        {
            "rank_bm25_p50_over_hive": round(p50["rank_bm25"] / p50["hive"], 1),
            "hive_p50_over_bm25s": round(p50["hive"] / p50["bm25s"], 2),
            "sqlite_p50_over_hive": round(p50["sqlite"] / p50["hive"], 2),
            "max_rel_score_diff": float(f"{max_diff:.3g}"),
            "top10_match": match,
            "top10_exact": exact,
            "sqlite_same_as_memory": m["hive_hits"] == m["sqlite_hits"],
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    )
    row.update(extra)
    return row


def run(quick: bool) -> list[dict[str, object]]:
    """Run the workloads; ``quick`` runs only the 10k workload with 50 queries."""
    env: dict[str, object] = {
        "python": platform.python_version(),
        "corpus": "stdlib docstring paragraphs",
    }
    start = time.perf_counter()
    corpus = build_corpus()
    env["corpus_build_s"] = round(time.perf_counter() - start, 2)
    rows = [_workload("memory_10k", corpus[:10_000], 50 if quick else 100, dict(env))]
    if quick:
        return rows
    rows.append(_workload("memory_stdlib_full", corpus, 100, dict(env)))
    big, packages = build_big_corpus(corpus, 100_000)
    extra: dict[str, object] = dict(env)
    extra["corpus"] = "stdlib + third-party docstring paragraphs"
    extra["third_party_packages"] = ",".join(packages)
    rows.append(_workload("memory_100k", big, 100, extra))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k docs, 50 queries")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
