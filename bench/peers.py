"""Hive against pydantic-graph and Burr on ``chain`` (100 nodes) and ``loop`` (1000
steps), with bare-Python and bare-asyncio floors, all timed in the same repeats.

Each peer's workload is written the way its documentation writes graphs, doing the
same work per step as Hive's (add 1 to ``n``; the loop routes back while
``n < 1000``):

* **pydantic-graph**: ``GraphBuilder`` with one ``@g.step`` async function per
  node (steps are always ``async``) mutating a dataclass state, edges from
  ``start_node`` through the chain to ``end_node``; the loop is one step and a
  ``g.decision()`` that branches back while ``n < 1000``, else to ``end_node``.
  Built once; every call awaits ``graph.run(state=...)`` with a new state, on an
  event loop kept for the runner's lifetime. Hive's counterpart is the same graph of
  ``async def`` nodes awaited with ``Runtime.invoke`` (``ratio``); the sync Hive
  graph is reported next to it (``ratio_hive_sync``).
* **Burr**: one ``@action(reads=["n"], writes=["n"])`` sync function returning
  ``state.update(n=...)``, bound under each node's name in a ``GraphBuilder``
  (built once); the loop's transition back carries ``expr("n < 1000")``, else to a
  ``done`` action the run halts before. Every call builds an ``Application`` from
  the graph with a fresh state (Burr's unit of one run) and calls ``run``. Hive's
  counterpart is the sync graph with ``run_sync``.
* **floors**: the same node functions (return ``{"n": 1}``) called in a plain
  ``for``/``while`` loop that applies each update with the sum reducer, and the
  ``async def`` version awaited in one coroutine: what any engine costs at least.

``ratio`` is always Hive / peer. See ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from bench import workloads_hive
from bench.timing import Settings, Timings, contest
from bench.workloads_spec import BenchmarkError, Workload, check

__all__ = ["PEERS", "group", "prepare_peer", "rows"]

PEERS = ("pydantic_graph", "burr", "python", "asyncio")


@dataclass
class _PGState:
    n: int = 0
    items: list[int] = field(default_factory=list)


class _LoopRunner:
    """A runner whose calls run a coroutine on an event loop it owns."""

    engine = "?"

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()

    def reset(self) -> None:
        pass  # every call starts from a new state

    def close(self) -> None:
        self._loop.close()


class PydanticGraphRunner(_LoopRunner):
    engine = "pydantic_graph"

    def __init__(self, workload: Workload) -> None:
        super().__init__()
        self.graph = _pydantic_graph(workload)

    def call(self) -> object:
        state = _PGState()
        self._loop.run_until_complete(self.graph.run(state=state))
        return state

    def final_state(self, result: object) -> Mapping[str, Any]:
        if not isinstance(result, _PGState):
            raise BenchmarkError(f"pydantic_graph returned {type(result).__name__}")
        return {"n": result.n, "items": result.items}


def _pydantic_graph(workload: Workload) -> Any:
    from pydantic_graph import GraphBuilder, StepContext

    g: Any = GraphBuilder(state_type=_PGState, output_type=int)
    # pydantic_graph's generics are not visible to mypy in every release
    Ctx = StepContext[_PGState, None, object]  # type: ignore[type-arg,unused-ignore]

    async def add_one(ctx: Ctx) -> int:  # type: ignore[valid-type,unused-ignore]
        state: _PGState = ctx.state  # type: ignore[attr-defined,unused-ignore]
        state.n += 1
        return state.n

    if workload.kind == "chain":
        steps = [
            g.step(add_one, node_id=name)
            for name in workloads_hive._node_names(workload.size)
        ]
        g.add(g.edge_from(g.start_node).to(steps[0]))
        for a, b in itertools.pairwise(steps):
            g.add(g.edge_from(a).to(b))
        g.add(g.edge_from(steps[-1]).to(g.end_node))
        return g.build()
    limit = workload.size
    step = g.step(add_one, node_id="A")
    again = g.match(int, matches=lambda n: n < limit).to(step)
    g.add(
        g.edge_from(g.start_node).to(step),
        g.edge_from(step).to(
            g.decision().branch(again).branch(g.match(int).to(g.end_node))
        ),
    )
    return g.build()


class BurrRunner:
    engine = "burr"

    def __init__(self, workload: Workload) -> None:
        from burr.core import State, action, expr
        from burr.core.graph import GraphBuilder

        @action(reads=["n"], writes=["n"])
        def add_one(state: State[Any]) -> State[Any]:
            return state.update(n=state["n"] + 1)

        @action(reads=["n"], writes=[])
        def done(state: State[Any]) -> State[Any]:
            return state

        builder: Any = cast("Any", GraphBuilder)()  # burr's builder is untyped
        if workload.kind == "chain":
            names = workloads_hive._node_names(workload.size)
            builder = builder.with_actions(**dict.fromkeys(names, add_one))
            builder = builder.with_transitions(*itertools.pairwise(names))
            self.entry, self.halt_after, self.halt_before = names[0], [names[-1]], []
        else:
            builder = builder.with_actions(A=add_one, done=done).with_transitions(
                ("A", "A", expr(f"n < {workload.size}")), ("A", "done")
            )
            self.entry, self.halt_after, self.halt_before = "A", [], ["done"]
        self.graph = builder.build()

    def reset(self) -> None:
        pass

    def call(self) -> object:
        from burr.core import ApplicationBuilder

        app: Any = (
            cast("Any", ApplicationBuilder)()
            .with_graph(self.graph)
            .with_entrypoint(self.entry)
            .with_state(n=0, items=[])
            .build()
        )
        _, _, state = app.run(halt_after=self.halt_after, halt_before=self.halt_before)
        return state

    def final_state(self, result: object) -> Mapping[str, Any]:
        getter = getattr(result, "get_all", None)
        if getter is None:
            raise BenchmarkError(f"burr returned {type(result).__name__}")
        return dict(getter())


def _add_one(state: Mapping[str, Any]) -> dict[str, Any]:
    return {"n": 1}


async def _add_one_async(state: Mapping[str, Any]) -> dict[str, Any]:
    return {"n": 1}


class PythonFloor:
    """The nodes as plain calls in a loop, each update applied by the reducer."""

    engine = "python"

    def __init__(self, workload: Workload) -> None:
        self.workload = workload

    def reset(self) -> None:
        pass

    def call(self) -> object:
        state: dict[str, Any] = {"n": 0, "items": []}
        if self.workload.kind == "chain":
            for node in [_add_one] * self.workload.size:
                state["n"] += node(state)["n"]
        else:
            limit = self.workload.size
            while True:
                state["n"] += _add_one(state)["n"]
                if not state["n"] < limit:
                    break
        return state

    def final_state(self, result: object) -> Mapping[str, Any]:
        assert isinstance(result, dict)
        return result


class AsyncioFloor(_LoopRunner, PythonFloor):
    """``PythonFloor`` with ``async def`` nodes awaited in one coroutine."""

    engine = "asyncio"

    def __init__(self, workload: Workload) -> None:
        _LoopRunner.__init__(self)
        PythonFloor.__init__(self, workload)

    async def _run(self) -> dict[str, Any]:
        state: dict[str, Any] = {"n": 0, "items": []}
        if self.workload.kind == "chain":
            for node in [_add_one_async] * self.workload.size:
                state["n"] += (await node(state))["n"]
        else:
            limit = self.workload.size
            while True:
                state["n"] += (await _add_one_async(state))["n"]
                if not state["n"] < limit:
                    break
        return state

    def call(self) -> object:
        return self._loop.run_until_complete(self._run())


def prepare_peer(name: str, workload: Workload) -> Any:
    """The runner of peer ``name`` (one of ``PEERS``) for ``workload``."""
    cls = {
        "pydantic_graph": PydanticGraphRunner,
        "burr": BurrRunner,
        "python": PythonFloor,
        "asyncio": AsyncioFloor,
    }[name]
    return cls(workload)


def _peer_row(
    name: str, peer: str, hive: str, workload: Workload, t: Timings
) -> dict[str, Any]:
    h, p = t.median(hive), t.median(peer)
    steps = workload.supersteps
    return {
        "workload": name,
        "peer": peer,
        "hive_variant": "async nodes, await Runtime.invoke"
        if hive == "hive_async"
        else "sync nodes, Runtime.run_sync",
        "hive_s": h,
        "peer_s": p,
        "ratio": round(h / p, 4),
        "supersteps": steps,
        "hive_us_per_step": round(h / steps * 1e6, 2),
        "peer_us_per_step": round(p / steps * 1e6, 2),
        "hive_spread": round(t.spread(hive), 3),
        "peer_spread": round(t.spread(peer), 3),
    }


def rows(workload: Workload, settings: Settings) -> list[dict[str, Any]]:
    """The peer and floor rows of one shared workload (``chain`` or ``loop``)."""
    runners: dict[str, Any] = {
        "hive": workloads_hive.prepare(workload),
        "hive_async": workloads_hive.prepare(
            Workload(workload.name, workload.kind, workload.size, "async")
        ),
    }
    runners.update((peer, prepare_peer(peer, workload)) for peer in PEERS)
    try:
        t = contest(runners, lambda r, res: check(workload, r, res), settings)
    finally:
        for runner in runners.values():
            getattr(runner, "close", lambda: None)()
    kind = workload.kind
    pg = _peer_row(
        f"peer_pydantic_graph_{kind}", "pydantic_graph", "hive_async", workload, t
    )
    pg["hive_sync_s"] = t.median("hive")
    pg["ratio_hive_sync"] = round(t.median("hive") / t.median("pydantic_graph"), 4)
    burr = _peer_row(f"peer_burr_{kind}", "burr", "hive", workload, t)
    floor = _peer_row(f"floor_{kind}", "python", "hive", workload, t)
    floor["asyncio_s"] = t.median("asyncio")
    floor["hive_async_s"] = t.median("hive_async")
    floor["ratio_async"] = round(t.median("hive_async") / t.median("asyncio"), 4)
    floor["asyncio_us_per_step"] = round(
        t.median("asyncio") / workload.supersteps * 1e6, 2
    )
    for row in (pg, burr, floor):
        row["repeats"] = settings.repeats
    return [pg, burr, floor]


def group(
    settings: Settings, sizes: tuple[int, int] = (100, 1000)
) -> list[dict[str, Any]]:
    """``chain`` (100 nodes) and ``loop`` (1000 steps) against every peer."""
    chain, loop = sizes
    out = rows(Workload("chain", "chain", chain), settings)
    out += rows(Workload("loop", "loop", loop), settings)
    return out
