"""Benchmark Hive against LangGraph: the same workloads, interleaved in one process.

Usage::

    python bench/run.py                 # thorough (a few minutes)
    python bench/run.py --quick         # under a minute
    python bench/run.py --only loop,fanout_1000
    python bench/run.py --only engine,import
    python bench/run.py --list

One JSON line per workload goes to stdout; progress and a summary table go to stderr.
What is measured and how is described in ``docs/performance.md``.

Groups: a group is a function ``(Settings) -> list[dict]`` registered in
``GROUPS``; every engine workload is its own group, and ``--only`` also accepts the
aliases in ``ALIASES``. Groups that live in their own module (``bench/memory.py``,
a future ``bench/checkpoint.py``) expose ``run(quick: bool) -> list[dict]`` and are
imported only when selected; a missing module is reported and skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.workloads_spec import Runner, Workload

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the root, first
    sys.path.insert(0, str(ROOT))

from bench.targets import annotate  # noqa: E402
from bench.timing import Settings, contest  # noqa: E402

__all__ = ["ALIASES", "GROUPS", "Settings", "main", "register"]

TARGET_RATIO = 0.1
GOAL_RATIO = 0.05
IMPORT_TARGET_RATIO = 0.1

Row = dict[str, Any]


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ engine workloads


def _engines() -> tuple[Any, Any]:
    from bench import workloads_hive

    try:
        from bench import workloads_langgraph
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"bench/run.py: {exc.name} is not installed; install the bench extra: "
            ".venv/bin/pip install -e '.[test,bench]'"
        ) from exc
    return workloads_hive, workloads_langgraph


def _extra_runners(workload: Workload, hive_mod: Any) -> dict[str, Runner]:
    """Hive variants timed in the same repeats: the sync twin of an async chain or
    loop (for ``vs_sync``), and ``blocking=True`` workers for an ``io`` fan-out."""
    if workload.mode == "async" and workload.kind in ("chain", "loop"):
        twin = dataclasses.replace(workload, mode="sync")
        return {"hive_sync": hive_mod.prepare(twin)}
    if workload.mode == "io":
        return {"hive_blocking": hive_mod.prepare(workload, blocking=True)}
    return {}


def _entry_node(workload: Workload) -> str:
    if workload.kind == "fanout":
        return "worker"
    return "n" + "0" * len(str(workload.size - 1)) if workload.kind == "chain" else "A"


def time_workload(workload: Workload, settings: Settings) -> Row:
    """Time one workload on both engines (and Hive variants), interleaved."""
    from bench.workloads_spec import IO_BLOCK_S, Concurrency, check

    hive_mod, lg_mod = _engines()
    tracked = {"hive": Concurrency(), "langgraph": Concurrency()}
    hive: Runner = hive_mod.prepare(workload, concurrency=tracked["hive"])
    lg: Runner = lg_mod.prepare(workload, concurrency=tracked["langgraph"])
    runners = {"hive": hive, "langgraph": lg, **_extra_runners(workload, hive_mod)}
    try:
        t = contest(runners, lambda r, res: check(workload, r, res), settings)
    finally:
        for runner in runners.values():
            getattr(runner, "close", lambda: None)()
    h = t.median("hive")
    g = t.median("langgraph")
    ratio = h / g
    is_async = workload.mode == "async"
    row: Row = {
        "workload": workload.name,
        "mode": workload.mode,
        "hive_mode": hive_mod.hive_mode(hive.graph, _entry_node(workload)),  # type: ignore[attr-defined]
        "hive_api": "await Runtime.invoke" if is_async else "Runtime.run_sync",
        "langgraph_api": "await ainvoke" if is_async else "invoke",
        "hive_s": h,
        "langgraph_s": g,
        "ratio": round(ratio, 4),
        "repeats": settings.repeats,
        "supersteps": workload.supersteps,
        "tasks": workload.tasks,
        "hive_us_per_step": round(h / workload.supersteps * 1e6, 2),
        "langgraph_us_per_step": round(g / workload.supersteps * 1e6, 2),
        "hive_us_per_task": round(h / workload.tasks * 1e6, 2),
        "langgraph_us_per_task": round(g / workload.tasks * 1e6, 2),
        "hive_calls_per_repeat": t.calls["hive"],
        "langgraph_calls_per_repeat": t.calls["langgraph"],
        "hive_spread": round(t.spread("hive"), 3),
        "langgraph_spread": round(t.spread("langgraph"), 3),
        "meets_target": ratio <= TARGET_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
    }
    if "hive_sync" in runners:
        sync = t.median("hive_sync")
        row["hive_sync_s"] = sync
        row["hive_sync_us_per_step"] = round(sync / workload.supersteps * 1e6, 2)
        row["vs_sync"] = round(h / sync, 4)  # same supersteps: per step = per call
    if "hive_blocking" in runners:
        blocking = t.median("hive_blocking")
        row["hive_blocking_s"] = blocking
        row["ratio_blocking"] = round(blocking / g, 4)
    if workload.mode == "io":
        row["io_block_s"] = IO_BLOCK_S
        row["hive_max_concurrency"] = tracked["hive"].max
        row["langgraph_max_concurrency"] = tracked["langgraph"].max
    return row


def _workload_group(name: str) -> Callable[[Settings], list[Row]]:
    def group(settings: Settings) -> list[Row]:
        from bench.workloads_spec import WORKLOADS

        return [time_workload(WORKLOADS[name], settings)]

    group.__name__ = f"workload_{name}"
    return group


# ----------------------------------------------------------------------- import

IMPORT_STATEMENTS = {
    "hive_core": "import hive_core",
    "hive_core_asyncio": "import hive_core, asyncio",
    "langgraph": "from langgraph.graph import StateGraph",
}
"""What a user imports to build and run a graph on each engine; ``hive_core`` does
not import asyncio, which a graph with async or blocking nodes loads on its first
run, so the second statement is what such a user pays in the end."""

_ASYNCIO_PROBE = "import sys, hive_core; print('asyncio' in sys.modules)"


def _child_env() -> dict[str, str]:
    """The environment of fresh interpreters: with a bytecode cache for everything.

    Without one (``PYTHONDONTWRITEBYTECODE=1``, as on the shared machine) an
    editable ``hive_core`` is compiled from source at every import while
    LangGraph's ``.pyc`` files were written by pip at install time. A private
    ``PYTHONPYCACHEPREFIX`` makes both engines import from bytecode (as after a
    wheel install) without writing ``__pycache__`` directories into the checkout.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(
        Path(tempfile.gettempdir()) / f"hive-bench-pycache-{os.getuid()}"
    )
    return env


def _spawn(args: Sequence[str]) -> tuple[float, str, str]:
    """Run a fresh interpreter; (wall seconds, stdout, stderr)."""
    env = _child_env()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{args!r} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed, proc.stdout, proc.stderr


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: it belongs to the
    current address space, whereas ``ru_maxrss`` also counts the parent's pages a
    forked child had before ``exec`` (so every child of a big parent looks big).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_PRINT_PEAK_RSS = """
try:
    print([x.split()[1] for x in open("/proc/self/status") if x[:6] == "VmHWM:"][0])
except (OSError, IndexError):
    print(-1)
"""
"""Appended to a ``-c`` statement: print VmHWM (KiB) without importing anything."""


def _importtime_us(stderr: str, exclude: set[str]) -> tuple[int, set[str]]:
    """Sum of the cumulative µs of top-level imports in ``-X importtime`` output,
    skipping modules in ``exclude`` (those the bare interpreter imports anyway)."""
    total = 0
    names: set[str] = set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name_field = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        name = name_field.strip()
        names.add(name)
        top_level = len(name_field) - len(name_field.lstrip(" ")) <= 1
        if top_level and name not in exclude:
            total += int(cumulative)
    return total, names


def import_group(settings: Settings) -> list[Row]:
    """Import time of each engine in fresh interpreters, minus a bare start.

    Per round, in rotating order: one plain ``-c`` run per statement and a bare
    ``-c pass`` (wall time); then, in the first ``importtime_runs`` rounds, one
    ``-X importtime`` run each, which also prints the peak RSS after the import
    (run apart so neither measurement disturbs the wall time). Every child gets a
    bytecode cache (``_child_env``).
    """
    _log(f"import: {settings.import_runs} fresh interpreters per statement")
    cases = {"bare": "pass", **IMPORT_STATEMENTS}
    keys = list(cases)
    wall: dict[str, list[float]] = {k: [] for k in cases}
    rss: dict[str, list[int]] = {k: [] for k in cases}
    selftime: dict[str, list[int]] = {k: [] for k in IMPORT_STATEMENTS}
    for key in keys:  # warm the OS file cache and the .pyc files
        _spawn(["-c", cases[key]])
    for i in range(settings.import_runs):
        order = keys[i % len(keys) :] + keys[: i % len(keys)]
        for key in order:
            wall[key].append(_spawn(["-c", cases[key]])[0])
        if i >= settings.importtime_runs:
            continue
        startup: set[str] = set()
        for key in keys:  # bare first: its modules are excluded from the others
            code = f"{cases[key]}\n{_PRINT_PEAK_RSS}"
            _, out, err = _spawn(["-X", "importtime", "-c", code])
            rss[key].append(int(out.split()[-1]))
            if key == "bare":
                _, startup = _importtime_us(err, set())
            else:
                selftime[key].append(_importtime_us(err, startup)[0])
    bare = statistics.median(wall["bare"])
    bare_rss = statistics.median(rss["bare"])
    row: Row = {"workload": "import"}
    for key in IMPORT_STATEMENTS:
        row[f"import_{key}_s"] = round(statistics.median(wall[key]) - bare, 4)
    for key in IMPORT_STATEMENTS:  # noise only adds: the minimum is a floor
        row[f"import_{key}_min_s"] = round(min(wall[key]) - min(wall["bare"]), 4)
    for key in IMPORT_STATEMENTS:
        row[f"importtime_{key}_s"] = round(statistics.median(selftime[key]) / 1e6, 4)
    for key in IMPORT_STATEMENTS:
        row[f"import_{key}_rss_mib"] = (
            round((statistics.median(rss[key]) - bare_rss) / 1024, 1)
            if bare_rss >= 0
            else None  # no /proc/self/status here
        )
    ratio = row["import_hive_core_s"] / row["import_langgraph_s"]
    probe = _spawn(["-c", _ASYNCIO_PROBE])[1].strip()
    row.update(
        {
            "ratio": round(ratio, 4),
            "ratio_with_asyncio": round(
                row["import_hive_core_asyncio_s"] / row["import_langgraph_s"], 4
            ),
            "hive_core_imports_asyncio": probe == "True",
            "ratio_importtime": round(
                row["importtime_hive_core_s"] / row["importtime_langgraph_s"], 4
            ),
            "bare_interpreter_s": round(bare, 4),
            "bare_interpreter_rss_mib": round(bare_rss / 1024, 1),
            "runs": settings.import_runs,
            "statements": IMPORT_STATEMENTS,
            "meets_target": ratio <= IMPORT_TARGET_RATIO,
        }
    )
    return [row]


# ----------------------------------------------------------------- peak memory

MEMORY_WORKLOAD = "fanout_1000"


def _memory_child(engine: str, name: str) -> None:
    """In a fresh interpreter: build ``name`` on ``engine``, print memory as JSON.

    First the peak RSS (``peak_rss_kib``) after import + compile, and after one
    call; then, after a reset, the peak of Python allocations that ``tracemalloc``
    traces during a second call, above what was live before it. ``tracemalloc``
    starts only after the RSS readings, so its own overhead is not in them.
    """
    import tracemalloc

    from bench.workloads_spec import WORKLOADS, check

    workload = WORKLOADS[name]
    module = importlib.import_module(f"bench.workloads_{engine}")
    runner: Runner = module.prepare(workload)
    gc.collect()
    before = peak_rss_kib()
    check(workload, runner, runner.call())
    after = peak_rss_kib()
    runner.reset()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = runner.call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    check(workload, runner, result)
    print(
        json.dumps(
            {
                "rss_kib": after,
                "call_rss_kib": after - before,
                "peak_kib": (peak - base) / 1024,
            }
        )
    )


def _run_memory_child(engine: str) -> Row:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "from bench.run import _memory_child; "
        f"_memory_child({engine!r}, {MEMORY_WORKLOAD!r})"
    )
    _, out, _ = _spawn(["-c", code])
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def peak_memory_group(settings: Settings) -> list[Row]:
    """Peak memory of fanout_1000 per engine, each in fresh interpreters."""
    _log(f"peak_memory: {MEMORY_WORKLOAD}, {settings.memory_runs} runs per engine")
    engines = ("hive", "langgraph")
    got: dict[str, list[Row]] = {e: [] for e in engines}
    for i in range(settings.memory_runs):
        for engine in engines if i % 2 == 0 else engines[::-1]:
            got[engine].append(_run_memory_child(engine))

    def med(engine: str, key: str) -> float:
        return float(statistics.median(float(r[key]) for r in got[engine]))

    row: Row = {"workload": f"peak_memory_{MEMORY_WORKLOAD}"}
    for engine in engines:
        row[f"{engine}_tracemalloc_peak_mib"] = round(med(engine, "peak_kib") / 1024, 2)
    for engine in engines:
        row[f"{engine}_peak_rss_mib"] = round(med(engine, "rss_kib") / 1024, 1)
        row[f"{engine}_call_rss_growth_mib"] = round(
            med(engine, "call_rss_kib") / 1024, 1
        )
    row["ratio"] = round(
        row["hive_tracemalloc_peak_mib"] / row["langgraph_tracemalloc_peak_mib"], 4
    )
    row["ratio_peak_rss"] = round(
        row["hive_peak_rss_mib"] / row["langgraph_peak_rss_mib"], 4
    )
    row["runs"] = settings.memory_runs
    row["method"] = (
        "tracemalloc_peak: peak of traced Python allocations during one call (after "
        "a warm-up call), above what was live before it; peak_rss: VmHWM of a "
        "fresh interpreter after import + compile + one call; call_rss_growth: how "
        "much that call raised VmHWM"
    )
    return [row]


# ------------------------------------------------------------- module groups

MODULE_GROUPS = {
    "memory": "bench.memory",
    "checkpoint": "bench.checkpoint",
    "value_checks": "bench.value_checks",
    "postgres": "bench.postgres",
    "sqlite_async": "bench.sqlite_async",
    "service": "bench.service",
    "observability": "bench.observability",
}
"""Groups that live in their own module exposing ``run(quick: bool) -> list[dict]``."""

SETTINGS_GROUPS = {
    "checkpoint_equal": "bench.checkpoint_equal",
    "checkpoint_growth": "bench.checkpoint_growth",
    "peers": "bench.peers",
    "streaming": "bench.streaming",
}
"""Default groups in their own module exposing ``group(settings) -> list[dict]``."""


def _settings_group(module_name: str) -> Callable[[Settings], list[Row]]:
    def group(settings: Settings) -> list[Row]:
        module = importlib.import_module(module_name)
        return list(module.group(settings))

    group.__name__ = f"module_{module_name.rsplit('.', 1)[-1]}"
    return group


def _module_group(name: str, module_name: str) -> Callable[[Settings], list[Row]]:
    def group(settings: Settings) -> list[Row]:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name not in (module_name, "bench"):
                raise  # the module exists but one of its own imports is missing
            path = module_name.replace(".", "/") + ".py"
            _log(f"{name}: skipped: {path} does not exist (not written yet?)")
            return []
        run = getattr(module, "run", None)
        if not callable(run):
            _log(f"{name}: skipped: {module_name} has no run(quick) function")
            return []
        return list(run(settings.quick))

    group.__name__ = f"module_{name}"
    return group


# -------------------------------------------------------------------- registry

GROUPS: dict[str, Callable[[Settings], list[Row]]] = {}
"""Every selectable group by name, in run order."""

DEFAULT: list[str] = []
"""Groups a run without ``--only`` runs."""

ALIASES: dict[str, tuple[str, ...]] = {}
"""Names that stand for several groups."""


def register(
    name: str, group: Callable[[Settings], list[Row]], *, default: bool = True
) -> None:
    """Make ``group`` selectable with ``--only name`` (and run by default)."""
    GROUPS[name] = group
    if default:
        DEFAULT.append(name)


def _register_all() -> None:
    from bench.workloads_spec import WORKLOADS

    for name in WORKLOADS:
        register(name, _workload_group(name))
    register("import", import_group)
    register("peak_memory", peak_memory_group)
    for name, module_name in SETTINGS_GROUPS.items():
        register(name, _settings_group(module_name))
    for name, module_name in MODULE_GROUPS.items():
        register(name, _module_group(name, module_name), default=False)
    ALIASES["engine"] = tuple(WORKLOADS)
    ALIASES["fanout"] = tuple(n for n in WORKLOADS if n.startswith("fanout_"))
    ALIASES["default"] = tuple(DEFAULT)
    ALIASES["all"] = tuple(GROUPS)


_register_all()


def select(only: str | None) -> list[str]:
    """The groups named by ``--only`` (aliases expanded, in registry order)."""
    if not only:
        return list(DEFAULT)
    wanted: set[str] = set()
    for raw in only.split(","):
        name = raw.strip()
        if not name:
            continue
        if name in ALIASES:
            wanted.update(ALIASES[name])
        elif name in GROUPS:
            wanted.add(name)
        else:
            known = ", ".join([*GROUPS, *ALIASES])
            raise SystemExit(
                f"bench/run.py: unknown workload or group {name!r}; known: {known}"
            )
    return [n for n in GROUPS if n in wanted]


# ----------------------------------------------------------------------- output


def _fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def summary_table(rows: Sequence[Row]) -> str:
    """A short human-readable table of the rows."""
    lines = [
        f"{'workload':<24} {'hive':>10} {'langgraph':>10} {'ratio':>7} "
        f"{'hive µs/step':>12} {'target':>7}"
    ]
    for row in rows:
        name = str(row.get("workload", "?"))
        ok = {True: "ok", False: "MISS", None: ""}[row.get("meets")]
        if "first_us_per_step" in row:
            lines.append(
                f"{name:<24} first 10 % {row['first_us_per_step']:.0f} µs/step, last "
                f"10 % {row['last_us_per_step']:.0f} µs/step, "
                f"{row['bytes_per_payload']:.2f} bytes/payload {ok:>7}"
            )
        elif "peer_s" in row:
            lines.append(
                f"{name:<24} {_fmt_s(row['hive_s']):>10} "
                f"{_fmt_s(row['peer_s']):>10} {row['ratio']:>7.3f} "
                f"{row.get('hive_us_per_step', math.nan):>12.2f} {ok:>7}"
                f"  ({row.get('peer', 'same engine')})"
            )
        elif "hive_s" in row and "langgraph_s" in row:
            lines.append(
                f"{name:<24} {_fmt_s(row['hive_s']):>10} "
                f"{_fmt_s(row['langgraph_s']):>10} {row['ratio']:>7.3f} "
                f"{row.get('hive_us_per_step', math.nan):>12.2f} {ok:>7}"
            )
        elif name == "import":
            lines.append(
                f"{name:<24} {_fmt_s(row['import_hive_core_s']):>10} "
                f"{_fmt_s(row['import_langgraph_s']):>10} {row['ratio']:>7.3f} "
                f"{'':>12} {ok:>7}"
            )
        elif name.startswith("peak_memory"):
            lines.append(
                f"{name:<24} {row['hive_tracemalloc_peak_mib']:>6.2f} MiB "
                f"{row['langgraph_tracemalloc_peak_mib']:>6.2f} MiB "
                f"{row['ratio']:>7.3f}   (tracemalloc peak of one call)"
            )
            lines.append(
                f"{'  peak RSS':<24} {row['hive_peak_rss_mib']:>6.1f} MiB "
                f"{row['langgraph_peak_rss_mib']:>6.1f} MiB "
                f"{row['ratio_peak_rss']:>7.3f}   (whole process, VmHWM)"
            )
        else:
            brief = ", ".join(
                f"{k}={v}"
                for k, v in row.items()
                if k != "workload" and isinstance(v, int | float)
            )
            lines.append(f"{name:<24} {brief[:100]} {ok}".rstrip())
    return "\n".join(lines)


def environment() -> str:
    """One line about the machine and versions, for the stderr header."""
    from importlib.metadata import PackageNotFoundError, version

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for dist in ("hive-graph", "langgraph", "langgraph-checkpoint"):
        try:
            versions.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    return (
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs ({model}), "
        + ", ".join(versions)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark Hive against LangGraph; JSON lines on stdout."
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats (under a minute)"
    )
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help="workloads or groups to run (see --list); default: every default group",
    )
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--list", action="store_true", help="list groups and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in GROUPS:
            print(f"{name}{'' if name in DEFAULT else '  (not run by default)'}")
        for alias, members in ALIASES.items():
            print(f"{alias} = {','.join(members)}")
        return 0
    settings = Settings.make(args.quick, args.repeats)
    names = select(args.only)
    _log(environment())
    _log(f"{'quick' if settings.quick else 'full'} run: {', '.join(names)}")
    start = time.perf_counter()
    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        for row in GROUPS[name](settings):
            annotate(row)
            print(json.dumps(row), flush=True)
            rows.append(row)
        _log(f"{name}: done in {time.perf_counter() - t0:.1f} s")
    wall = time.perf_counter() - start
    print("\n" + summary_table(rows), file=sys.stderr)
    print(f"\nwall time {wall:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
