"""A ``HiveError`` raised inside a node: both its own class and a ``NodeError``.

So ``except UnknownChannelError`` and ``except NodeError`` both catch an unknown
channel read in a node (``docs/errors.md``).
"""

from __future__ import annotations

from typing import Any, cast

from .base import HiveError, _restore
from .run import NodeError

__all__ = ["node_error"]


_IN_NODE: dict[type[HiveError], type[NodeError]] = {}


def _restore_in_node(
    cls: type[HiveError], args: tuple[Any, ...], state: dict[str, Any]
) -> Any:
    return _restore(_in_node_class(cls), args, state)


def _in_node_class(cls: type[HiveError]) -> type[NodeError]:
    """``cls`` and ``NodeError`` in one class (built once per class), so a
    ``HiveError`` from inside a node is caught by either ``except``."""
    found = _IN_NODE.get(cls)
    if found is None:

        def __reduce__(self: HiveError) -> tuple[Any, ...]:
            return (_restore_in_node, (cls, self.args, dict(self.__dict__)))

        try:
            made = type(
                cls.__name__,
                (cls, NodeError),
                {
                    "__module__": cls.__module__,
                    "__qualname__": cls.__qualname__,
                    "__doc__": cls.__doc__,
                    "__reduce__": __reduce__,
                    "code": cls.code,
                },
            )
        except TypeError:  # pragma: no cover - a layout Python cannot combine
            made = NodeError
        found = _IN_NODE[cls] = cast("type[NodeError]", made)
    return found


def node_error(
    err: BaseException, node_id: str, *, step: int, task_id: str, attempts: int
) -> NodeError:
    """The ``NodeError`` for a node that raised ``err`` (raise it ``from err``).

    A ``HiveError`` raised by Hive's own API inside the node (reading an unknown
    channel, a malformed ``NodeOutput``) keeps its class: the result is an
    instance of both ``type(err)`` and ``NodeError``, with the original's
    attributes and the node, task and step added (``docs/errors.md``).
    """
    cause = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if not isinstance(err, HiveError) or isinstance(err, NodeError):
        return NodeError(
            node_id, step=step, task_id=task_id, attempts=attempts, cause=cause
        )
    cls = _in_node_class(type(err))
    wrapped = NodeError(
        node_id, step=step, task_id=task_id, attempts=attempts, cause=cause
    )
    if cls is NodeError:  # pragma: no cover - see _in_node_class
        return wrapped
    out = cls.__new__(cls)
    Exception.__init__(out, *wrapped.args)
    out.__dict__.update(err.__dict__)
    out.__dict__.update(wrapped.__dict__)
    if getattr(out, "node", None) is None:
        out.__dict__["node"] = node_id
    return out
