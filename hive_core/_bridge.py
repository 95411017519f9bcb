"""The one sync bridge: every ``*_sync`` entry point runs its async twin through it.

Hive has one async core. A sync entry point refuses to run inside a running event
loop (it would deadlock or nest loops), then either drives the coroutine inline,
when the caller knows it never waits on a real future (a graph of plain sync nodes
over an inline store: no event loop is started at all, see ``docs/performance.md``),
or runs it on a fresh ``asyncio.Runner``. See ``docs/architecture.md``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from typing import Any, TypeVar

from .errors import HiveInternalError

__all__ = ["drive_steps", "ensure_no_running_loop", "iterate_sync", "run_sync"]

T = TypeVar("T")


def ensure_no_running_loop(name: str, instead: str) -> None:
    """Raise ``RuntimeError`` naming ``instead`` if an event loop is running here."""
    # no asyncio imported means no loop can be running (and keeps it unimported);
    # the low-level getter returns None instead of raising: no exception per call
    aio = sys.modules.get("asyncio")
    if aio is None or aio._get_running_loop() is None:
        return
    raise RuntimeError(
        f"{name}() cannot be called from a running event loop; use `{instead}` instead"
    )


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on a future, without an event loop."""
    try:
        while True:
            yielded = coro.send(None)
            if yielded is not None:
                coro.close()
                raise HiveInternalError(
                    f"an inline run suspended on {yielded!r}; please report this"
                )
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def drive_steps(coro: Coroutine[Any, Any, T]) -> Generator[None, None, T]:
    """Drive a coroutine that never waits on a future, without an event loop,
    pausing (one ``None``) at each of its bare yields; returns its result. A sync
    stream reads what the run emitted at each pause (``runtime/_driven.py``)."""
    while True:
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if yielded is not None:
            coro.close()
            raise HiveInternalError(
                f"an inline run suspended on {yielded!r}; please report this"
            )
        yield None


def run_sync(
    coro: Coroutine[Any, Any, T],
    *,
    name: str,
    instead: str,
    inline: bool = False,
    checked: bool = False,
) -> T:
    """Run ``coro`` to completion from sync code.

    ``name`` and ``instead`` name the sync entry point and its async twin for the
    running-loop error. ``inline=True`` promises the coroutine never awaits a real
    future; it is then driven without an event loop. ``checked=True`` says the
    caller already ran ``ensure_no_running_loop`` before building ``coro``.
    """
    if not checked:
        try:
            ensure_no_running_loop(name, instead)
        except RuntimeError:
            coro.close()
            raise
    if inline:
        return _drive(coro)
    import asyncio

    with asyncio.Runner() as runner:
        return runner.run(coro)


def iterate_sync(items: AsyncIterator[T], *, name: str, instead: str) -> Iterator[T]:
    """Iterate an async iterator from sync code, on one ``asyncio.Runner`` kept for
    the whole iteration (a run's futures live on its loop between items).

    The running-loop check happens here, before the first item is asked for;
    stopping early (``break``, ``close()``) closes ``items`` on that loop first.
    A stream that never awaits a future is driven with ``drive_steps`` instead.
    """
    ensure_no_running_loop(name, instead)
    return _iterate(items)


async def _next_item(items: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return True, await items.__anext__()
    except StopAsyncIteration:
        return False, None


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


def _iterate(items: AsyncIterator[T]) -> Iterator[T]:
    import asyncio

    with asyncio.Runner() as runner:
        try:
            while True:
                more, item = runner.run(_next_item(items))
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            runner.run(_close(items))
