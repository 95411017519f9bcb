"""The 5-step graph ``bench/server.py`` serves with ``hive serve``."""

from __future__ import annotations

from hive_core import NodeInput, Schema, channel, reducers
from hive_dsl import Effects, GoTo, Workflow, Write

STEPS = 5


class Five(Schema):
    count = channel(int, initial=lambda: 0)
    log = channel(list[int], reducer=reducers.append, initial=list)


_wf = Workflow(Five)


@_wf.node(start=True)
def step(ctx: NodeInput) -> Effects:
    count = ctx.store.get(Five.count) + 1
    writes = (Write(Five.count, count), Write(Five.log, [count]))
    if count < STEPS:
        return Effects(*writes, GoTo(step))
    return Effects(*writes)


GRAPHS = {"five": _wf.compile()}
