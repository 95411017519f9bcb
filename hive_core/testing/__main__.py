"""Entry point of ``python -m hive_core.testing`` (see ``docs/testing.md``)."""

from __future__ import annotations

import sys

from ._cli import run

if __name__ == "__main__":
    sys.exit(run())
