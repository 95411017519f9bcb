"""Reading user functions: can this callable take a node input, and is it async?

The only module that inspects user signatures. A node function takes exactly one
positional argument (the ``NodeInput``, conventionally ``ctx``); any further
parameter must have a default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from hive_core import DefinitionError
from hive_core.nodes import is_async_callable

__all__ = ["check_node_signature", "function_name", "is_async_callable"]

_POSITIONAL = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)


def function_name(fn: object) -> str | None:
    """``fn.__name__`` if it has a usable one."""
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name else None


def _plain(sig: inspect.Signature) -> str:
    """The signature without annotations, e.g. ``(ctx, extra)``."""
    empty = inspect.Parameter.empty
    bare = [p.replace(annotation=empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=bare, return_annotation=empty))


def _problem(sig: inspect.Signature) -> str | None:
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    if not positional and not has_varargs:
        if not params:
            return "it has no parameters"
        return "it has no positional parameter"
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if len(required) > 1:
        names = ", ".join(f"`{p.name}`" for p in required)
        return f"it has {len(required)} required parameters ({names})"
    kw_required = [
        p
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and p.default is inspect.Parameter.empty
    ]
    if kw_required:
        return f"its keyword-only parameter `{kw_required[0].name}` has no default"
    return None


def check_node_signature(fn: Callable[..., object], node_id: str) -> None:
    """Raise ``DefinitionError`` unless ``fn(node_input)`` is a valid call."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without metadata: trust the caller
        return
    why = _problem(sig)
    if why is None:
        return
    name = function_name(fn) or node_id
    raise DefinitionError(
        f"Node function `{name}` cannot take a node input: {why}\n\n"
        f"Incorrect: def {name}{_plain(sig)}: ...\n"
        f"Correct:   def {name}(ctx: NodeInput) -> Effects: ...",
        subject=node_id,
    )
