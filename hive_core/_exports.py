"""Point re-exported names at the public path users import them from.

Each package's ``__init__`` re-exports names from private modules; calling
``public(__name__, __all__, globals())`` there sets ``__module__`` on those classes and
functions, so reprs, docs and error messages name ``hive_core.graph.GraphBuilder``
rather than a private module (the pattern trio uses; see ``docs/architecture.md``).

Under ``from __future__ import annotations`` a class's annotations are strings that
``typing.get_type_hints`` (and msgspec, to decode a Struct) evaluate in the module
``__module__`` names. Before moving a class, ``public`` evaluates them where they were
written, so they still resolve from the public path; a name that exists only for
type checking stays a string.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
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
        if isinstance(obj, type):
            _resolve_annotations(obj, module)
        obj.__module__ = package


def _resolve_annotations(cls: type, module: str) -> None:
    """Replace ``cls``'s own string annotations by the objects they name in
    ``module``, where they were written."""
    annotations = inspect.get_annotations(cls)
    if not any(isinstance(a, str) for a in annotations.values()):
        return
    namespace = vars(sys.modules[module])
    local = dict(vars(cls))
    for name, annotation in annotations.items():
        if isinstance(annotation, str):
            # a name imported for type checking only stays a string
            with contextlib.suppress(NameError):
                annotations[name] = eval(annotation, namespace, local)
    cls.__annotations__ = annotations
