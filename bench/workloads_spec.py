"""The engine workloads, independent of any engine: what runs, and what it must end in.

Each engine module (``workloads_hive``, ``workloads_langgraph``) builds the same
workload from a ``Workload`` and returns a ``Runner``; ``check`` verifies the final
state so that no benchmark ever times a broken run.

Every workload starts from the same input (``n = 0``) and has two state channels:

* ``n``: an ``int`` with a sum reducer;
* ``items``: a ``list[int]`` with an append (concatenate) reducer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "WORKLOADS",
    "BenchmarkError",
    "Kind",
    "Runner",
    "Workload",
    "check",
]

Kind = Literal["invoke", "chain", "loop", "fanout"]


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
    """

    name: str
    kind: Kind
    size: int = 1

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
    )
}
"""The workloads ``bench/run.py`` times, by name, in run order."""


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
