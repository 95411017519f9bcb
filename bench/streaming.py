"""What streaming costs: ``stream_values`` and ``stream_updates`` (``--only streaming``).

A chain of ``STEPS`` sync nodes, each adding 1 to ``n`` and appending to ``log``, run
on a fresh thread per call, three ways in one event loop, interleaved:

* ``bare``: ``await runtime.invoke(...)``, a run without a listener (no events);
* ``values`` / ``updates``: ``async for part in runtime.stream(..., modes=...)``,
  consuming every part (the trace then carries the mode's values).

``ratio`` is stream / bare, both measured in this run (target ≤ 1.5). The sync
entry points are timed too (``stream_sync`` vs ``run_sync``): ``ratio_sync``; a bare
``run_sync`` of this graph starts no event loop at all, while ``stream_sync`` runs
one for the whole stream, so that ratio also prices the loop. See
``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from bench.timing import Settings, contest
from hive_core import (
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)

__all__ = ["group", "rows"]

STEPS = 10


class Chain(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")
    log = channel(list[str], reducer=reducers.append, update="multi")


def _step(name: str) -> Callable[[NodeInput], NodeOutput]:
    def fn(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Chain.n, 1), Write(Chain.log, [name])])

    return fn


def _graph() -> Any:
    names = [f"s{i}" for i in range(STEPS)]
    b = GraphBuilder(Chain, start=[names[0]])
    for name in names:
        b = b.add_node(name, _step(name))
    for a, c in itertools.pairwise(names):
        b = b.add_edge(a, c)
    return b.compile()


class _Runner:
    """One way to run the chain; each call runs a fresh thread to its end."""

    def __init__(self, engine: str, mode: str | None, sync: bool) -> None:
        self.engine = engine
        self.mode = mode
        self.sync = sync
        self.rt = Runtime(_graph())
        self.loop = asyncio.new_event_loop()
        self.count = 0

    def reset(self) -> None:
        self.rt = Runtime(_graph())

    async def _async(self, thread: str) -> object:
        if self.mode is None:
            return (await self.rt.invoke(thread)).output["n"]
        parts = [p async for p in self.rt.stream(thread, modes=self.mode)]
        return len(parts)

    def call(self) -> object:
        self.count += 1
        thread = f"t{self.count}"
        if self.sync:
            if self.mode is None:
                return self.rt.run_sync(thread).output["n"]
            return len(list(self.rt.stream_sync(thread, modes=self.mode)))
        return self.loop.run_until_complete(self._async(thread))


def _check(runner: Any, result: object) -> None:
    want = STEPS  # `n` after the chain, or one part per step
    if result != want:
        raise AssertionError(f"{runner.engine}: got {result!r}, want {want}")


def rows(settings: Settings) -> list[dict[str, Any]]:
    runners = {
        label: _Runner(label, mode, sync)
        for label, mode, sync in (
            ("bare", None, False),
            ("values", "values", False),
            ("updates", "updates", False),
            ("bare_sync", None, True),
            ("values_sync", "values", True),
            ("updates_sync", "updates", True),
        )
    }
    try:
        t = contest(runners, _check, settings)
    finally:
        for r in runners.values():
            r.loop.close()
    out = []
    bare, bare_sync = t.median("bare"), t.median("bare_sync")
    for mode in ("values", "updates"):
        s, ss = t.median(mode), t.median(f"{mode}_sync")
        out.append(
            {
                "workload": f"stream_{mode}",
                "hive_s": s,
                "bare_s": bare,
                "ratio": round(s / bare, 4),
                "steps": STEPS,
                "hive_us_per_step": round(s / STEPS * 1e6, 1),
                "bare_us_per_step": round(bare / STEPS * 1e6, 1),
                "ratio_sync": round(ss / bare_sync, 4),
                "stream_sync_s": ss,
                "run_sync_s": bare_sync,
                "hive_spread": round(t.spread(mode), 3),
                "bare_spread": round(t.spread("bare"), 3),
                "compared": "await invoke vs async for stream(modes=...)",
            }
        )
    return out


def group(settings: Settings) -> list[dict[str, Any]]:
    return rows(settings)
