"""``python -m hive_core.testing``: show and diff trace files from a shell."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..events import trace_to_builtins
from ..graph import CompiledGraph
from ._errors import TraceFileError
from ._trace import diff_traces
from ._trace_files import load_trace
from ._trace_text import event_line

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hive_core.testing",
        description="Inspect and compare Hive trace files (JSON lines).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    diff = commands.add_parser(
        "diff",
        help="print the first divergence; exit 0 if equal, 1 if not, 2 on bad input",
    )
    diff.add_argument("expected", type=Path)
    diff.add_argument("actual", type=Path)
    diff.add_argument(
        "--ignore",
        default="",
        metavar="FIELDS",
        help="comma-separated event fields not to compare (e.g. task_id)",
    )
    show = commands.add_parser("show", help="print a trace file one event per line")
    show.add_argument("path", type=Path)
    view = commands.add_parser(
        "view",
        help="write a self-contained HTML page of a .trace or .jsonl trace file",
    )
    view.add_argument("path", type=Path)
    view.add_argument("-o", "--output", type=Path, required=True, metavar="HTML")
    view.add_argument(
        "--diff", type=Path, metavar="OTHER", help="show PATH and OTHER side by side"
    )
    view.add_argument(
        "--graph",
        metavar="MODULE:NAME",
        help="draw this CompiledGraph's edges (else the trace's transitions)",
    )
    return parser


def _view(args: argparse.Namespace) -> int:
    """The ``view`` command (the same function ``hive trace view`` calls)."""
    from ..viewer import write_view

    out = write_view(args.path, args.output, diff=args.diff, graph=_graph(args.graph))
    print(f"wrote {out}")
    return 0


def _graph(spec: str | None) -> CompiledGraph | None:
    if spec is None:
        return None
    import importlib

    module, _, name = spec.partition(":")
    try:
        graph = getattr(importlib.import_module(module), name or "graph")
    except (ImportError, AttributeError) as exc:
        raise TraceFileError(spec, f"--graph cannot be loaded: {exc}") from exc
    if not isinstance(graph, CompiledGraph):
        raise TraceFileError(spec, f"is a {type(graph).__name__}, not a CompiledGraph")
    return graph


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m hive_core.testing`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "view":
            return _view(args)
        if args.command == "show":
            events = trace_to_builtins(load_trace(args.path))
            print("\n".join(event_line(ev) for ev in events))
            return 0
        expected = load_trace(args.expected)
        actual = load_trace(args.actual)
    except TraceFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the page could not be written
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    ignore = [f.strip() for f in args.ignore.split(",") if f.strip()]
    found = diff_traces(expected, actual, ignore=ignore)
    if found is None:
        print(f"traces are equal ({len(expected)} events)")
        return 0
    print(found.render())
    return 1


def run() -> int:
    try:
        return main()
    except BrokenPipeError:  # e.g. `... show trace.jsonl | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
