"""The node thread pool: where the sync nodes of a multi-task step run.

A step with two or more plain sync nodes (not ``cpu_only=True``) runs them on a
shared, bounded pool of worker threads, so nodes that block on I/O overlap instead
of running one after another; results are still collected, reduced and committed
in ordinal order, so nothing downstream can tell which finished first. See
``docs/concepts/execution.md``.

``concurrent.futures`` is imported on first use: ``import hive_core`` stays cheap.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["MAX_POOL_THREADS", "node_pool"]

MAX_POOL_THREADS: Final = 64
"""No pool has more threads, whatever ``max_concurrent_tasks`` says."""

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def node_pool(size: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``min(size, MAX_POOL_THREADS)`` threads."""
    size = max(1, min(size, MAX_POOL_THREADS))
    pool = _pools.get(size)
    if pool is not None:
        return pool
    from concurrent.futures import ThreadPoolExecutor

    with _lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = ThreadPoolExecutor(
                max_workers=size, thread_name_prefix="hive-node"
            )
    return pool
