"""``python -m hive_core.service health ...``: the worker health probe."""

import sys

from ._health import main

if __name__ == "__main__":
    sys.exit(main())
