"""The engine workloads, independent of any engine: what runs, and what it must end in.

Each engine module (``workloads_hive``, ``workloads_langgraph``) builds the same
workload from a ``Workload`` and returns a ``Runner``; ``check`` verifies the final
state so that no benchmark ever times a broken run.

Every workload starts from the same input (``n = 0``) and has two state channels:

* ``n``: an ``int`` with a sum reducer;
* ``items``: a ``list[int]`` with an append (concatenate) reducer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol

__all__ = [
    "IO_BLOCK_S",
    "WORKLOADS",
    "BenchmarkError",
    "Concurrency",
    "Kind",
    "Mode",
    "Runner",
    "Workload",
    "check",
]

Kind = Literal["invoke", "chain", "loop", "fanout"]
Mode = Literal["sync", "async", "io"]
"""How the workload's nodes are written: ``sync`` (plain functions, CPU only),
``async`` (``async def``, same work, awaited by ``ainvoke`` / ``Runtime.invoke``),
``io`` (plain functions whose workers also block ``IO_BLOCK_S`` in ``time.sleep``,
like a sync HTTP call)."""

IO_BLOCK_S = 0.001
"""How long each worker of an ``io`` fan-out blocks."""


class BenchmarkError(RuntimeError):
    """A workload ended in the wrong state: the run is broken, not slow."""


@dataclass(frozen=True)
class Workload:
    """One workload at one size.

    * ``invoke``: one node that adds 1 to ``n`` (``size`` is ignored);
    * ``chain``: ``size`` nodes in a chain, each adds 1 to ``n``;
    * ``loop``: one node that adds 1 to ``n`` and routes back to itself while
      ``n < size``, so it runs ``size`` supersteps;
    * ``fanout``: a dispatcher starts ``size`` workers (each with its own index),
      each worker appends ``[index]`` to ``items``, then one join node writes
      ``len(items)`` to ``n``.

    ``mode`` says how the nodes are written (see ``Mode``).
    """

    name: str
    kind: Kind
    size: int = 1
    mode: Mode = "sync"

    @property
    def supersteps(self) -> int:
        """Supersteps the workload runs (on both engines)."""
        if self.kind == "invoke":
            return 1
        if self.kind == "fanout":
            return 3  # dispatcher, workers, join
        return self.size

    @property
    def tasks(self) -> int:
        """Node executions the workload runs (on both engines)."""
        if self.kind == "fanout":
            return self.size + 2
        return self.supersteps

    @property
    def expected_n(self) -> int:
        return 1 if self.kind == "invoke" else self.size

    @property
    def expected_items(self) -> list[int]:
        return list(range(self.size)) if self.kind == "fanout" else []


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("invoke", "invoke"),
        Workload("chain", "chain", 100),
        Workload("loop", "loop", 1000),
        Workload("fanout_10", "fanout", 10),
        Workload("fanout_100", "fanout", 100),
        Workload("fanout_1000", "fanout", 1000),
        Workload("fanout_io_100", "fanout", 100, "io"),
        Workload("fanout_async_10", "fanout", 10, "async"),
        Workload("fanout_async_100", "fanout", 100, "async"),
        Workload("fanout_async_1000", "fanout", 1000, "async"),
        Workload("chain_async", "chain", 100, "async"),
        Workload("loop_async", "loop", 1000, "async"),
    )
}
"""The workloads ``bench/run.py`` times, by name, in run order."""


class Concurrency:
    """Counts how many ``io`` workers are inside their blocking call at once.

    The row reports the maximum, which shows whether an engine overlapped the
    workers (a thread pool) or ran them one after another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = 0
        self.max = 0

    def __enter__(self) -> None:
        with self._lock:
            self.inside += 1
            self.max = max(self.max, self.inside)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self.inside -= 1


class Runner(Protocol):
    """One engine's compiled workload, ready to be called many times."""

    engine: str

    def reset(self) -> None:
        """Drop whatever earlier calls left behind (called outside timing)."""

    def call(self) -> object:
        """Run the whole workload once; the engine's raw result."""

    def final_state(self, result: object) -> Mapping[str, Any]:
        """The final ``{"n": ..., "items": ...}`` of a ``call`` result."""


def check(workload: Workload, runner: Runner, result: object) -> None:
    """Raise ``BenchmarkError`` unless ``result`` is the workload's correct end.

    ``items`` is compared as a multiset: LangGraph does not promise the order in
    which parallel ``Send`` tasks' writes are applied. Hive's order (task ordinal
    order) is checked exactly by the smoke test.
    """
    state = runner.final_state(result)
    n = state.get("n")
    items = state.get("items")
    problems: list[str] = []
    if n != workload.expected_n:
        problems.append(f"n = {n!r}, expected {workload.expected_n}")
    if not isinstance(items, list) or sorted(items) != workload.expected_items:
        shown = items if not isinstance(items, list) or len(items) <= 12 else "..."
        problems.append(
            f"items = {shown!r} (len {len(items) if isinstance(items, list) else '?'})"
            f", expected {workload.size if workload.kind == 'fanout' else 0} items"
        )
    if problems:
        raise BenchmarkError(
            f"{runner.engine} {workload.name}: wrong result: " + "; ".join(problems)
        )
