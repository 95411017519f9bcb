"""The injectable clock and id source of tests: ``FakeClock`` and ``SequentialIds``.

With both, a run's ids and timing are a function of the test alone, so traces can be
pinned with snapshots without patching ``uuid`` or ``time`` (see
``docs/testing.md``).
"""

from __future__ import annotations

import uuid

import attrs

__all__ = ["FakeClock", "SequentialIds"]


@attrs.define
class FakeClock:
    """A clock that only moves when slept on (or advanced by hand).

    ``sleep`` returns at once after advancing ``now`` and recording the duration, so
    retry backoff is observable and instant in tests.
    """

    time: float = 0.0
    sleeps: list[float] = attrs.field(factory=list)

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds

    def advance(self, seconds: float) -> None:
        self.time += seconds


@attrs.define
class SequentialIds:
    """Run and attempt ids from counters: ``00000000-…-0001`` style UUIDs.

    Run ids and attempt ids come from separate counters so adding an attempt never
    shifts a run id (and with it every task and checkpoint id).
    """

    runs: int = 0
    attempts: int = 0

    def new_run_id(self) -> uuid.UUID:
        self.runs += 1
        return uuid.UUID(int=(0x1 << 64) | self.runs)

    def new_attempt_id(self) -> uuid.UUID:
        self.attempts += 1
        return uuid.UUID(int=(0x2 << 64) | self.attempts)
