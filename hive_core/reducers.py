"""Standard reducers: pure ``(current, update) -> new`` functions.

A reducer folds one write into a channel's value. Reducers never mutate their
arguments: the pre-step snapshot that tasks read from must stay intact, and routers
build fresh-read views over the same values.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = [
    "Reducer",
    "append",
    "append_non_nil",
    "binary_op",
    "coercing",
    "dict_merge",
    "is_coercing",
    "last_write_wins",
    "max",
    "min",
    "set_union",
    "sum",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
N = TypeVar("N", int, float)


class Reducer(Protocol[T]):
    """Folds an update into the current value and returns the new value."""

    def __call__(self, current: T, update: T, /) -> T: ...


R = TypeVar("R", bound=Callable[..., object])

_COERCING = "__hive_coercing__"


def coercing(reducer: R) -> R:
    """Mark ``reducer`` as taking looser updates than the channel stores.

    A messages reducer takes ``"hi"`` or ``("user", "hi")`` and stores a
    ``ChatMessage``. The commit cannot check such a write against the channel's type,
    so it checks the reducer's *result* instead: that is what a checkpoint must be
    able to hold (see ``docs/concepts/schema-and-channels.md``).
    """
    setattr(reducer, _COERCING, True)
    return reducer


def is_coercing(reducer: object) -> bool:
    """Whether ``reducer`` was marked with :func:`coercing`."""
    return getattr(reducer, _COERCING, False) is True


def last_write_wins(current: T, update: T, /) -> T:
    """Keep the update: the default for single-writer channels."""
    return update


def append(current: list[T], update: list[T], /) -> list[T]:
    """Concatenate current then update into a new list."""
    return current + update


def append_non_nil(
    current: list[T] | None, update: list[T] | None, /
) -> list[T] | None:
    """Like ``append``, treating ``None`` as empty; ``None`` only if both are."""
    if update is None:
        return current
    if current is None:
        return list(update)
    return current + update


def set_union(current: frozenset[T], update: frozenset[T], /) -> frozenset[T]:
    """Union of both sets (frozen, so stored values can never be mutated in place)."""
    return current | update


def dict_merge(
    value_reducer: Callable[[V, V], V] = last_write_wins,
) -> Callable[[dict[str, V], dict[str, V]], dict[str, V]]:
    """Merge dicts; keys present on both sides are combined with ``value_reducer``.

    Update keys are visited in sorted order so a reducer with side effects on
    ordering (e.g. one that raises) behaves the same on every run.
    """

    def merge(current: dict[str, V], update: dict[str, V], /) -> dict[str, V]:
        out = dict(current)
        for key in sorted(update):
            value = update[key]
            out[key] = value_reducer(out[key], value) if key in out else value
        return out

    merge.__qualname__ = merge.__name__ = "dict_merge"
    return merge


def binary_op(op: Callable[[T, T], T]) -> Callable[[T, T], T]:
    """Wrap any binary function ``op(current, update)`` as a reducer."""

    def reduce(current: T, update: T, /) -> T:
        return op(current, update)

    reduce.__qualname__ = reduce.__name__ = f"binary_op({getattr(op, '__name__', op)})"
    return reduce


def sum(current: N, update: N, /) -> N:
    """Add the update to the current value."""
    return current + update


def min(current: N, update: N, /) -> N:
    """Keep the smaller value."""
    return builtins.min(current, update)


def max(current: N, update: N, /) -> N:
    """Keep the larger value."""
    return builtins.max(current, update)
