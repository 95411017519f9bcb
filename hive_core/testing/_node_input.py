"""``node_input``: the ``NodeInput`` of one task, to unit-test a node function alone
(see ``docs/testing.md``, "Unit-testing one node")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..environment import Environment
from ..errors import ChannelTypeMismatchError, ScopeMismatchError, UnknownChannelError
from ..events import STREAM_KINDS, StreamEvent
from ..graph import CompiledGraph
from ..ids import task_id
from ..nodes import NodeInput, Resume
from ..state import Channel, InitialCache, Schema, SchemaSpec, StoreView, fingerprint
from ..state._schema import resolve_schema
from ._fakes import FakeClock, SequentialIds

__all__ = ["node_input"]

_Emitted = list[StreamEvent]


def _channel(schema: SchemaSpec, key: Channel[Any] | str) -> Channel[Any]:
    cid = key if isinstance(key, str) else key.id
    found = schema.by_id.get(cid)
    if found is None:
        raise UnknownChannelError(cid)
    return found


def _checked(
    schema: SchemaSpec, given: Mapping[Channel[Any] | str, object], *, is_global: bool
) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in given.items():
        ch = _channel(schema, key)
        if ch.is_global is not is_global:
            scope = ("global", "task-local")
            raise ScopeMismatchError(
                ch.id,
                expected=scope[0] if is_global else scope[1],
                actual=scope[1] if is_global else scope[0],
            )
        if not ch.accepts(value):
            raise ChannelTypeMismatchError(
                ch.id, expected=ch.type_name, actual=type(value).__name__
            )
        out[ch.id] = value
    return out


def node_input(
    schema: type[Schema] | SchemaSpec | CompiledGraph,
    values: Mapping[Channel[Any] | str, object] | None = None,
    *,
    local: Mapping[Channel[Any] | str, object] | None = None,
    node_id: str = "n",
    step: int = 0,
    resume: Resume | None = None,
    environment: Environment | None = None,
    thread_id: str = "test",
    emitted: _Emitted | None = None,
) -> NodeInput:
    """The ``NodeInput`` one task of ``node_id`` would get, for calling a node
    function directly.

    ``values`` sets global channels (the rest keep their initial values) and
    ``local`` the task's task-local channels; keys are channels or channel ids, and
    every value is checked against its channel's type. The ids match the first run
    of a ``SequentialIds`` runtime, the environment defaults to one with a
    ``FakeClock``, and the stream events the node emits (``ModelToken`` …) are
    appended to ``emitted`` as the node built them when a list is given.

    Raises:
        UnknownChannelError: a key names no channel of the schema.
        ScopeMismatchError: a task-local channel in ``values`` or a global one in
            ``local``.
        ChannelTypeMismatchError: a value does not match its channel's type.
    """
    spec = (
        schema.schema if isinstance(schema, CompiledGraph) else resolve_schema(schema)
    )
    initial = InitialCache(spec)
    global_values = {cid: initial.values[cid] for cid in spec.global_ids}
    global_values.update(_checked(spec, values or {}, is_global=True))
    overlay = _checked(spec, local or {}, is_global=False)

    def emit(event: object) -> None:
        kind = getattr(getattr(event, "__struct_config__", None), "tag", None)
        if not isinstance(event, StreamEvent) or kind not in STREAM_KINDS:
            raise TypeError(
                f"emit() takes a stream event ({', '.join(sorted(STREAM_KINDS))}), "
                f"got {type(event).__name__}"
            )
        if emitted is not None:
            emitted.append(event)

    ids = SequentialIds()  # the first run of a SequentialIds runtime
    run_id, attempt_id = ids.new_run_id(), ids.new_attempt_id()
    return NodeInput(
        store=StoreView(spec, global_values, overlay, initial),
        node_id=node_id,
        task_id=task_id(run_id, step, node_id, 0, fingerprint(spec, overlay, initial)),
        step=step,
        run_id=str(run_id),
        thread_id=thread_id,
        attempt_id=str(attempt_id),
        resume=resume,
        environment=(
            environment if environment is not None else Environment(clock=FakeClock())
        ),
        emit=emit,
    )
