"""How every timed comparison is measured: calibrated batches, interleaved repeats.

``contest`` times any number of runners of one workload in the same repeats: each
repeat times one batch per runner, in an order that changes per repeat (rotated,
or shuffled with a fixed seed), so drift on a shared machine hits every runner
alike. Each batch repeats the call until it lasts ``min_batch_s`` and checks the
last result, so a broken run fails instead of looking fast. What is measured and
why is described in ``docs/performance.md``.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Settings",
    "TimedRunner",
    "batch",
    "calibrate",
    "contest",
    "quantile",
    "spread",
]


@dataclass(frozen=True)
class Settings:
    """How hard to measure; ``--quick`` and the default differ only here."""

    quick: bool
    repeats: int
    """Timed batches per engine and workload (interleaved)."""
    min_batch_s: float
    """Each batch repeats the call until it lasts at least this long."""
    import_runs: int
    """Fresh interpreters per import statement (and for the bare baseline)."""
    importtime_runs: int
    """Of those rounds, how many also run each statement under ``-X importtime``."""
    memory_runs: int
    """Fresh interpreters per engine for the peak-memory figures."""

    @classmethod
    def make(cls, quick: bool, repeats: int | None = None) -> Settings:
        if quick:
            return cls(True, repeats or 5, 0.02, 3, 1, 1)
        return cls(False, repeats or 21, 0.1, 9, 9, 3)


class TimedRunner(Protocol):
    """What ``contest`` needs of a runner (``workloads_spec.Runner`` is one)."""

    engine: str

    def reset(self) -> None: ...

    def call(self) -> object: ...


Check = Callable[[Any, object], None]
"""``check(runner, result)``: raise unless ``result`` is the correct end."""


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def spread(values: Sequence[float]) -> float:
    """Interquartile range over median: a noise indicator (0.05 = ±2.5%)."""
    med = statistics.median(values)
    return (quantile(values, 0.75) - quantile(values, 0.25)) / med if med else 0.0


def calibrate(runner: TimedRunner, check: Check, settings: Settings) -> int:
    """Warm up, check the result, and pick the calls per batch."""
    runner.reset()
    check(runner, runner.call())  # first call: lazy setup, caches
    best = math.inf
    for _ in range(1 if settings.quick else 3):
        start = time.perf_counter()
        result = runner.call()
        best = min(best, time.perf_counter() - start)
        check(runner, result)
    return max(1, min(100_000, math.ceil(settings.min_batch_s / best)))


def batch(runner: TimedRunner, check: Check, calls: int) -> float:
    """Seconds per call over one batch of ``calls`` calls; checks the last result."""
    runner.reset()
    gc.collect()
    call = runner.call
    result: object = None
    start = time.perf_counter()
    for _ in range(calls):
        result = call()
    elapsed = time.perf_counter() - start
    check(runner, result)
    return elapsed / calls


@dataclass(frozen=True)
class Timings:
    """Per runner label: the seconds-per-call samples and the calls per batch."""

    samples: Mapping[str, list[float]]
    calls: Mapping[str, int]

    def median(self, label: str) -> float:
        return statistics.median(self.samples[label])

    def spread(self, label: str) -> float:
        return spread(self.samples[label])


def contest(
    runners: Mapping[str, TimedRunner],
    check: Check,
    settings: Settings,
    *,
    shuffle_seed: int | None = None,
) -> Timings:
    """Time every runner in each of ``settings.repeats`` interleaved repeats.

    The order rotates by one per repeat (with two runners: alternating who goes
    first), or, with ``shuffle_seed``, is a fresh shuffle per repeat.
    """
    labels = list(runners)
    calls = {label: calibrate(runners[label], check, settings) for label in labels}
    samples: dict[str, list[float]] = {label: [] for label in labels}
    rng = random.Random(shuffle_seed)
    for r in range(settings.repeats):
        if shuffle_seed is None:
            k = r % len(labels)
            order = labels[k:] + labels[:k]
        else:
            order = labels[:]
            rng.shuffle(order)
        for label in order:
            samples[label].append(batch(runners[label], check, calls[label]))
    return Timings(samples, calls)
