"""Point re-exported names at the public path users import them from.

Each package's ``__init__`` re-exports names from private modules; calling
``public(__name__, __all__, globals())`` there sets ``__module__`` on those classes and
functions, so reprs, docs and error messages name ``hive_core.graph.GraphBuilder``
rather than a private module (the pattern trio uses; see ``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import FunctionType

__all__ = ["public"]


def public(package: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Set ``__module__`` to ``package`` on every exported class and function that
    was defined inside this distribution's private modules."""
    root = package.split(".", 1)[0]
    for name in names:
        obj = namespace[name]
        module = getattr(obj, "__module__", None)
        if not isinstance(module, str) or not module.startswith(root + "."):
            continue
        if not isinstance(obj, type | FunctionType):
            continue
        if "._" not in module and module != package:
            continue  # already public in another package: keep its own home
        obj.__module__ = package
