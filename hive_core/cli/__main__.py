"""``python -m hive_core.cli`` (the same as the ``hive`` console script)."""

from __future__ import annotations

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
