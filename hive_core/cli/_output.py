"""Exit codes, JSON output, and errors printed without a traceback.

Exit codes (``docs/cli.md``): 0 finished, 1 failed (a HiveError or a node's
error), 2 usage, 3 interrupted, 4 stopped early (cancelled, out of steps, timed
out).
"""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

__all__ = ["EXIT", "emit_json", "exit_code", "fail"]

EXIT = {
    "finished": 0,
    "failed": 1,
    "usage": 2,
    "interrupted": 3,
    "cancelled": 4,
    "out_of_steps": 4,
    "timed_out": 4,
}


def exit_code(status: str) -> int:
    return EXIT.get(status, 1)


def emit_json(data: Any) -> None:
    text = msgspec.json.encode(data, enc_hook=repr)
    click.echo(msgspec.json.format(text, indent=2).decode())


def fail(exc: BaseException, debug: bool) -> int:
    """Print the error's message (with its Fix line) to stderr; 1."""
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    code = getattr(exc, "code", type(exc).__name__)
    click.echo(f"error [{code}]: {exc}", err=True)
    return 1
