"""The acceptance targets of the benchmark, checked on each row it prints.

Targets are upper bounds on a row's fields (ratios are Hive / peer, so lower is
better). They live here, in the benchmark's output, and never in timed unit tests:
on a shared, noisy machine a figure is evidence, not a pass/fail gate.
``annotate`` adds ``target`` (field -> bound, or ``None`` when the row has no
target), ``meets`` (every bound held, or ``None``) and, when one did not hold,
``missed`` (the fields). See ``docs/performance.md``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["TARGETS", "annotate"]

_CPU_FANOUT = {"ratio": 0.05}
_AHEAD = {"ratio": 1.0}  # Hive / peer below 1: Hive is ahead

TARGETS: dict[str, dict[str, float]] = {
    "invoke": {"ratio": 0.035},
    "chain": {"ratio": 0.025},
    "loop": {"ratio": 0.025},
    "fanout_10": _CPU_FANOUT,
    "fanout_100": _CPU_FANOUT,
    "fanout_1000": _CPU_FANOUT,
    "fanout_io_100": {"ratio": 0.5},
    "chain_async": {"ratio": 0.05, "vs_sync": 2.0},
    "loop_async": {"ratio": 0.05, "vs_sync": 2.0},
    "import": {"ratio": 0.1},
    "peak_memory_fanout_1000": {"ratio": 0.1},
    "checkpoint_equal_normal": {"ratio": 0.1},
    "checkpoint_equal_full": {"ratio": 0.2},
    "checkpoint_growth_100": {"bytes_per_payload": 1.5},
    "checkpoint_growth_1000": {"bytes_per_payload": 1.5},
    "checkpoint_growth_5000": {"last_over_first": 1.5, "bytes_per_payload": 1.5},
    "peer_pydantic_graph_chain": _AHEAD,
    "peer_pydantic_graph_loop": _AHEAD,
    "peer_burr_chain": _AHEAD,
    "peer_burr_loop": _AHEAD,
    "stream_values": {"ratio": 1.5},
    "stream_updates": {"ratio": 1.5},
}
"""Bounds per workload name, from the performance issue's acceptance list."""


def annotate(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with ``target``, ``meets`` (and ``missed``) set; returns ``row``."""
    bounds = TARGETS.get(str(row.get("workload")))
    if bounds is None:
        row["target"] = None
        row["meets"] = None
        return row
    missed = []
    for field, bound in bounds.items():
        value = row.get(field)
        if not isinstance(value, int | float) or not math.isfinite(value):
            missed.append(field)  # absent or not a number: not met
        elif value > bound:
            missed.append(field)
    row["target"] = dict(bounds)
    row["meets"] = not missed
    if missed:
        row["missed"] = missed
    return row
