"""``python -m hive_core.testing``: show and diff trace files from a shell."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..events import trace_to_builtins
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``python -m hive_core.testing`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "show":
            events = trace_to_builtins(load_trace(args.path))
            print("\n".join(event_line(ev) for ev in events))
            return 0
        expected = load_trace(args.expected)
        actual = load_trace(args.actual)
    except TraceFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
