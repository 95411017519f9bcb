"""Turn the JSON lines of ``bench/run.py`` into the Markdown table of ``docs/performance.md``.

Usage::

    python bench/run.py > results.jsonl
    python bench/table.py results.jsonl            # the table
    python bench/table.py --machine results.jsonl  # machine lines, then the table

Every figure comes from the rows; nothing is computed here but formatting (and a
row's ``target`` / ``meets``, which ``bench/run.py`` wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["machine", "main", "markdown", "read_rows"]

Row = dict[str, Any]

_HEADER = (
    "| workload | Hive | peer | ratio | details | target | met |\n"
    "| --- | ---: | ---: | ---: | --- | --- | --- |"
)


def _t(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _pick(row: Row, keys: Iterable[str]) -> str:
    return ", ".join(f"{k} {_num(row[k])}" for k in keys if k in row)


def _cells(row: Row) -> tuple[str, str, str]:
    """(Hive, peer, details) of one row."""
    name = str(row.get("workload", ""))
    if name.startswith("checkpoint_growth_"):
        hive = f"{_num(row['first_us_per_step'])} → {_num(row['last_us_per_step'])} µs/step"
        peer = ""
        if "langgraph_steps" in row:
            stop = " (stopped at cap)" if row["langgraph_stopped_at_cap"] else ""
            peer = (
                f"LangGraph {_num(row['langgraph_first_us_per_step'])} → "
                f"{_num(row['langgraph_last_us_per_step'])} µs/step over "
                f"{row['langgraph_steps']} steps{stop}"
            )
        keys: tuple[str, ...] = (
            "last_over_first",
            "bytes_per_payload",
            "langgraph_bytes_per_payload",
            "langgraph_cap_s",
            "hive_runs",
        )
        return hive, peer, _pick(row, keys)
    if name == "import":
        keys = (
            "import_hive_core_asyncio_s",
            "ratio_with_asyncio",
            "importtime_hive_core_s",
            "importtime_langgraph_s",
            "hive_core_imports_asyncio",
        )
        return (
            _t(row["import_hive_core_s"]),
            f"LangGraph {_t(row['import_langgraph_s'])}",
            _pick(row, keys),
        )
    if name.startswith("peak_memory"):
        keys = ("hive_peak_rss_mib", "langgraph_peak_rss_mib", "ratio_peak_rss")
        return (
            f"{row['hive_tracemalloc_peak_mib']} MiB",
            f"LangGraph {row['langgraph_tracemalloc_peak_mib']} MiB",
            "tracemalloc peak; " + _pick(row, keys),
        )
    if name.startswith("memory_"):
        keys = (
            "docs",
            "hive_p95_s",
            "bm25s_p95_s",
            "rank_bm25_p50_s",
            "rank_bm25_p95_s",
            "hive_build_s",
            "bm25s_build_s",
            "rank_bm25_build_s",
            "top10_match",
        )
        return (
            f"p50 {_t(row['hive_p50_s'])}",
            f"bm25s p50 {_t(row['bm25s_p50_s'])}",
            _pick(row, keys),
        )
    if "peer_s" in row:
        peer = f"{row['peer']} {_t(row['peer_s'])}"
        keys = (
            "hive_us_per_step",
            "peer_us_per_step",
            "ratio_hive_sync",
            "ratio_async",
            "asyncio_us_per_step",
        )
        return _t(row["hive_s"]), peer, f"{row['hive_variant']}; " + _pick(row, keys)
    keys = (
        "hive_mode",
        "hive_us_per_step",
        "langgraph_us_per_step",
        "vs_sync",
        "hive_sync_us_per_step",
        "ratio_blocking",
        "hive_max_concurrency",
        "langgraph_max_concurrency",
        "hive_synchronous",
        "langgraph_synchronous",
        "langgraph_durability",
        "steps",
    )
    peer = f"LangGraph {_t(row['langgraph_s'])}" if "langgraph_s" in row else ""
    return _t(row.get("hive_s")), peer, _pick(row, keys)


def _target(row: Row) -> tuple[str, str]:
    target = row.get("target")
    if not target:
        return "", ""
    bounds = ", ".join(f"{k} ≤ {v:g}" for k, v in target.items())
    met = "met" if row.get("meets") else "missed: " + ", ".join(row.get("missed", []))
    return bounds, met


def markdown(rows: Sequence[Row]) -> str:
    """The table, one line per row, in the order of the rows."""
    lines = [_HEADER]
    for row in rows:
        hive, peer, details = _cells(row)
        ratio = row.get("ratio")
        bounds, met = _target(row)
        lines.append(
            f"| `{row.get('workload')}` | {hive} | {peer} | "
            f"{_num(ratio) if ratio is not None else ''} | {details} | {bounds} | {met} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """Machine lines: ``nproc``, CPU model, Python, load average now."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in f
                    if ln.startswith("model name")
                ),
                model,
            )
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"- `nproc` = {os.cpu_count()}, CPU: {model}\n"
        f"- Python {platform.python_version()} ({platform.python_implementation()})\n"
        f"- load average (1/5/15 min) when the table was made: {load}"
    )


def read_rows(lines: Iterable[str]) -> list[Row]:
    """The JSON objects of ``lines`` (blank lines and non-JSON lines skipped)."""
    rows = []
    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="JSON lines -> Markdown table")
    parser.add_argument("files", nargs="*", help="JSON-lines files (default: stdin)")
    parser.add_argument("--machine", action="store_true", help="print machine lines")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    if args.files:
        for path in args.files:
            with open(path, encoding="utf-8") as f:
                rows += read_rows(f)
    else:
        rows = read_rows(sys.stdin)
    if args.machine:
        print(machine() + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
