"""The ``hive`` command: the group, and errors without tracebacks."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import HiveError
from ._inspect import history, mermaid, state, status, trace
from ._output import fail
from ._run import delete, fork, resume, run
from ._serve import serve, worker

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def cli(debug: bool) -> None:
    """Hive: run, inspect and serve graphs (docs/cli.md)."""


for command in (
    run,
    resume,
    fork,
    delete,
    state,
    history,
    trace,
    mermaid,
    serve,
    worker,
    status,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit status (docs/cli.md)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="hive", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except HiveError as exc:
        return fail(exc, debug)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        return 1
    return 0
