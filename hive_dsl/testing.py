"""Unit-testing DSL nodes without a runtime: build the node input by hand.

```python
ctx = node_input(Chat, {Chat.topic: "bees"})
fx = plan(ctx)                      # the @wf.node object is still callable
assert fx.writes_to(Chat.outline) == [["bees: why", "bees: how"]]
```

``node_input`` is ``hive_core.testing.node_input`` (same ids as the first run of a
``SequentialIds`` runtime, a ``FakeClock`` environment, checked values), except that
``resume`` may also be a bare payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hive_core import (
    Channel,
    CompiledGraph,
    Environment,
    NodeInput,
    Resume,
    Schema,
    SchemaSpec,
)
from hive_core.events import StreamEvent
from hive_core.testing import node_input as _core_node_input

__all__ = ["node_input"]


def node_input(
    schema: type[Schema] | SchemaSpec | CompiledGraph,
    values: Mapping[Channel[Any] | str, object] | None = None,
    *,
    local: Mapping[Channel[Any] | str, object] | None = None,
    resume: object = None,
    node_id: str = "n",
    step: int = 0,
    thread_id: str = "test",
    environment: Environment | None = None,
    emitted: list[StreamEvent] | None = None,
) -> NodeInput:
    """The ``NodeInput`` one task of ``node_id`` would get, for calling a node
    function (or ``NodeDef``) directly.

    ``values`` sets global channels (the rest keep their initial values), ``local``
    the task-local ones; keys are channels or ids, values are type-checked.
    ``resume`` is a ``hive_core.Resume``, or a bare payload wrapped in one
    (interrupt id ``"test-interrupt"``, asked by ``node_id``). Stream events the
    node emits are appended to ``emitted`` when a list is given.

    Raises:
        UnknownChannelError: a key names no channel of the schema.
        ScopeMismatchError: a task-local channel in ``values`` or a global one in
            ``local``.
        ChannelTypeMismatchError: a value does not match its channel's type.
    """
    if resume is not None and not isinstance(resume, Resume):
        resume = Resume(interrupt_id="test-interrupt", payload=resume, node=node_id)
    return _core_node_input(
        schema,
        values,
        local=local,
        node_id=node_id,
        step=step,
        resume=resume,
        environment=environment,
        thread_id=thread_id,
        emitted=emitted,
    )
