"""Import a module on first attribute access, then rebind the real module.

``import hive_core`` stays cheap (asyncio alone is a third of it), and a run of
plain synchronous nodes driven by ``run_sync`` never imports asyncio at all.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["LazyModule"]


class LazyModule:
    """Stands in for ``module`` in ``owner``'s globals until first used."""

    __slots__ = ("_bind", "_name", "_owner")

    def __init__(self, name: str, owner: str, bind: str | None = None) -> None:
        self._name = name
        self._owner = owner
        self._bind = bind or name

    def _load(self) -> ModuleType:
        module = importlib.import_module(self._name)
        setattr(sys.modules[self._owner], self._bind, module)  # later reads are free
        return module

    def __getattr__(self, attr: str) -> object:
        return getattr(self._load(), attr)
