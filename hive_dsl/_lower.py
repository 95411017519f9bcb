"""Lowering DSL node functions into the core's ``fn(NodeInput) -> NodeOutput``.

A DSL node may return ``Effects``, a single effect primitive, a ``NodeOutput`` or
``None``; the wrapper built here turns that into what the interpreter expects. It is
built once per node (at decoration or patch time), is ``async`` exactly when the user
function is, and adds one call and one type check per task.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from hive_core import DefinitionError, NodeInput, NodeOutput, Write

from ._effects import Effects, End, GoTo, Interrupt, SpawnEach, UseGraphEdges
from ._signatures import function_name, is_async_callable

__all__ = ["lower_node_fn", "to_output"]

_PRIMITIVES = (Write, GoTo, UseGraphEdges, End, Interrupt, SpawnEach)

CoreFn = Callable[[NodeInput], "NodeOutput | Awaitable[NodeOutput | None] | None"]


def to_output(result: object, node_id: str) -> NodeOutput | None:
    """What the interpreter receives for a node's return value."""
    if result is None:
        return None
    if type(result) is Effects:
        return result._lower()
    if isinstance(result, NodeOutput):
        return result
    if isinstance(result, _PRIMITIVES):
        return Effects(result).to_output()
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited: close it to avoid a RuntimeWarning
        raise DefinitionError(
            f"Node `{node_id}` returned an awaitable from a plain function; declare "
            "it `async def` so the runtime awaits it\n\n"
            f"Incorrect: def {node_id}(ctx): return some_coroutine(ctx)\n"
            f"Correct:   async def {node_id}(ctx): return await some_coroutine(ctx)",
            subject=node_id,
        )
    raise DefinitionError(
        f"Node `{node_id}` returned {type(result).__name__}; expected Effects, an "
        "effect primitive, NodeOutput or None\n\n"
        f"Incorrect: return {result!r:.40}\n"
        "Correct:   return Effects(Write(State.answer, value))",
        subject=node_id,
    )


def lower_node_fn(fn: Callable[..., Any], node_id: str) -> CoreFn:
    """Wrap a DSL node function for ``GraphBuilder.add_node``."""
    name = function_name(fn) or node_id
    if is_async_callable(fn):

        async def run_async(ctx: NodeInput) -> NodeOutput | None:
            return to_output(await fn(ctx), node_id)

        run_async.__name__ = run_async.__qualname__ = name
        return run_async

    def run(ctx: NodeInput) -> NodeOutput | None:
        return to_output(fn(ctx), node_id)

    run.__name__ = run.__qualname__ = name
    return run
