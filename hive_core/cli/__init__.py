"""The ``hive`` command line: run, resume, fork, delete, inspect, serve (``docs/cli.md``).

Install the ``cli`` extra (``server`` for ``hive serve`` and ``hive worker``).
"""

from __future__ import annotations

from .._exports import public as _public
from ._main import cli, main

__all__ = ["cli", "main"]

_public(__name__, __all__, globals())
