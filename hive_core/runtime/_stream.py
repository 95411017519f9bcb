"""Stream modes: a run's events projected into LangGraph-style stream parts.

The projection is a pure function of the event sequence, so the in-process stream
(``Runtime.stream``) and a server replaying persisted events yield the same parts.
Everything a mode needs is inside the events: ``values`` reads ``step_values``,
``updates`` reads ``task_writes`` (both only in the trace of a run started with
those modes), ``messages`` reads ``model_token`` (tagged with the node and task of
its step's ``task_started``), ``custom`` reads ``custom``. See
``docs/guides/streaming.md``.
"""

# no `from __future__ import annotations`: ``StreamPart`` is re-exported with
# ``__module__`` set to ``hive_core.runtime``, and msgspec resolves string
# annotations in that module, which does not import ``Any``.
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, final

import msgspec

from ..errors import InvalidRunOptionsError
from ..events import (
    CustomEvent,
    Event,
    ModelToken,
    StepValues,
    SubgraphEvent,
    TaskStarted,
    TaskWrites,
    trace_to_builtins,
)
from ..run_types import STREAM_MODES

__all__ = [
    "RUN_LEVEL_STEP",
    "StreamPart",
    "StreamProjector",
    "StreamPlan",
    "needed_events",
    "normalize_modes",
    "project_stream",
    "stream_plan",
]

RUN_LEVEL_STEP = -1
"""The ``step`` of an ``events`` part for a run-level event (it has no step)."""

INTERRUPT_KEY = "__interrupt__"
"""The key of a ``values`` part's pending interrupts, as LangGraph names it."""


class StreamPart(msgspec.Struct, frozen=True, kw_only=True):
    """One item of a streamed run.

    ``data`` is JSON-able (channel values as ``msgspec.to_builtins`` gives them):
    ``values``: the output channels after the step (with ``__interrupt__`` as
    ``[{"id", "value"}]`` when the step interrupted); ``updates``:
    ``{node: {channel: value}}`` for one task; ``messages``:
    ``{"text", "metadata"}`` for one model token; ``custom``: the node's data;
    ``events``: the event as ``trace_to_builtins(..., ids=True)`` gives it.
    """

    mode: str
    data: Any
    step: int
    """The step that produced the part; ``-1`` for run-level events."""
    node: str | None = None
    task_id: str | None = None
    namespace: tuple[str, ...] = ()
    """Empty for the root graph."""


def normalize_modes(modes: str | Sequence[str]) -> tuple[str, ...]:
    """Modes as a deduplicated tuple in the caller's order; a single string is one
    mode. Raises ``InvalidRunOptionsError`` for an unknown or empty mode list."""
    if isinstance(modes, (str, tuple)):  # a tuple of types: cheaper than a union
        try:  # every stream asks; a hit gives the canonical names it was stored with
            return _NORMALIZED[modes]
        except (KeyError, TypeError):  # not seen yet, or unhashable: checked below
            pass
    names: tuple[object, ...]  # what the caller passed may hold anything
    try:
        names = (modes,) if isinstance(modes, str) else tuple(modes)
    except TypeError:  # not a sequence at all: refused as an unknown mode
        names = (modes,)
    # each name by its string value (an enum member of str counts as its value; a
    # non-str, unhashable or not, is unknown), given back as the canonical str
    found: list[str] = []
    for m in names:
        name = _CANONICAL.get(str.__str__(m)) if isinstance(m, str) else None
        if name is None:
            break
        found.append(name)
    if not names or len(found) != len(names):
        raise InvalidRunOptionsError(
            f"stream modes are {', '.join(sorted(STREAM_MODES))}; got {modes!r}. "
            'Fix: pass e.g. modes=("values", "updates").',
            option="stream_modes",
        )
    result = tuple(dict.fromkeys(found))
    kind = type(modes)  # keys are exactly str or tuples of str: never a caller's
    # subclass (an enum member, a str with its own `==`), and never a bad value
    if len(_NORMALIZED) < 256 and (
        kind is str or (kind is tuple and all(type(m) is str for m in names))
    ):
        _NORMALIZED[modes] = result
    return result


_NORMALIZED: dict[object, tuple[str, ...]] = {}
"""``normalize_modes`` of a valid ``str`` or tuple of ``str``, once computed
(bounded). Lists, iterators and ``str`` subclasses are checked every time."""

_CANONICAL = {m: m for m in sorted(STREAM_MODES)}
"""Each mode's name, looked up by a plain ``str``: no caller's object is kept."""


_MODE_EVENTS: dict[str, frozenset[type[Event]]] = {
    "values": frozenset({StepValues}),
    "updates": frozenset({TaskWrites}),
    "messages": frozenset({TaskStarted, ModelToken}),
    "custom": frozenset({TaskStarted, CustomEvent}),
}


def needed_events(
    modes: Sequence[str], subgraphs: bool = False
) -> frozenset[type[Event]] | None:
    """The event kinds the projection of ``modes`` reads (``None``: all of them,
    for ``events``); with ``subgraphs`` also the children's forwarded events. An
    in-process stream builds only these."""
    key = (tuple(modes), subgraphs)
    if key in _NEEDED:  # every stream asks; the mode sets are few
        return _NEEDED[key]
    kinds: frozenset[type[Event]] | None = None
    if "events" not in modes:
        kinds = frozenset().union(*(_MODE_EVENTS[m] for m in modes))
        if subgraphs:
            kinds |= {SubgraphEvent}
    if len(_NEEDED) < 256:
        _NEEDED[key] = kinds
    return kinds


_NEEDED: dict[tuple[tuple[str, ...], bool], frozenset[type[Event]] | None] = {}
"""``needed_events`` by its arguments, once computed (bounded)."""


class StreamPlan(NamedTuple):
    """What an in-process stream of some modes asks of its attempt."""

    wanted: frozenset[type[Event]] | None
    """``needed_events``: the only kinds the attempt builds."""
    direct: bool
    """No ``events`` mode: parts are queued directly, no event is recorded."""
    values: bool
    """The trace carries each step's values (``StepValues``)."""
    updates: bool
    """The trace carries each task's writes (``TaskWrites``)."""


def stream_plan(names: tuple[str, ...], subgraphs: bool) -> StreamPlan:
    """The plan of a stream of ``normalize_modes``' ``names``: one lookup per
    stream once computed (bounded; the mode sets in use are few)."""
    key = (names, subgraphs)
    plan = _PLANS.get(key)
    if plan is None:
        plan = StreamPlan(
            needed_events(names, subgraphs),
            "events" not in names,
            "values" in names,
            "updates" in names,
        )
        if len(_PLANS) < 256:
            _PLANS[key] = plan
    return plan


_PLANS: dict[tuple[tuple[str, ...], bool], StreamPlan] = {}


@final
class StreamProjector:
    """Turns events into parts one at a time (the state is the step's tasks).

    With ``subgraphs``, a child's events (``SubgraphEvent``) also give parts in
    the modes, tagged with the child's node, task and step and its ``namespace``
    (LangGraph's ``subgraphs=True``, ``docs/guides/streaming.md#subgraphs``).
    """

    __slots__ = ("_children", "_modes", "_tasks")

    def __init__(self, modes: str | Sequence[str], *, subgraphs: bool = False) -> None:
        self._modes = frozenset(normalize_modes(modes))
        self._tasks: dict[tuple[int | None, int | None], tuple[str, str]] = {}
        self._children: _Children | None = _Children() if subgraphs else None

    def feed(self, ev: Event) -> list[StreamPart]:
        """The parts ``ev`` yields, in mode order: the mode's own part, then the
        ``events`` part."""
        modes = self._modes
        parts: list[StreamPart] = []
        if type(ev) is TaskStarted:
            self._tasks[(ev.step, ev.ordinal)] = (ev.node, ev.task_id)
        elif type(ev) is StepValues:
            if "values" in modes:
                parts.append(_values_part(ev))
        elif type(ev) is TaskWrites:
            if "updates" in modes:
                step = ev.step
                parts.append(
                    StreamPart(
                        mode="updates",
                        data={ev.node: ev.writes},
                        step=RUN_LEVEL_STEP if step is None else step,
                        node=ev.node,
                        task_id=ev.task_id,
                    )
                )
        elif type(ev) is ModelToken:
            if "messages" in modes:
                node, task_id = self._task_of(ev)
                data = {"text": ev.text, "metadata": dict(ev.metadata)}
                parts.append(_part("messages", ev, data, node, task_id))
        elif type(ev) is CustomEvent:
            if "custom" in modes:
                node, task_id = self._task_of(ev)
                parts.append(_part("custom", ev, ev.data, node, task_id))
        elif type(ev) is SubgraphEvent and self._children is not None:
            part = self._children.feed(ev.namespace, ev.event, modes)
            if part is not None:
                parts.append(part)
        if "events" in modes:
            node, task_id = self._task_of(ev)
            data = trace_to_builtins((ev,), ids=True)[0]
            parts.append(_part("events", ev, data, node, task_id))
        return parts

    def _task_of(self, ev: Event) -> tuple[str | None, str | None]:
        if ev.ordinal is None:
            return None, None
        found = self._tasks.get((ev.step, ev.ordinal))
        return found if found is not None else (None, None)


def _part(
    mode: str,
    ev: Event,
    data: Any,
    node: str | None,
    task_id: str | None = None,
) -> StreamPart:
    step = ev.step if ev.step is not None else RUN_LEVEL_STEP
    if task_id is None:
        task_id = getattr(ev, "task_id", None)
    return StreamPart(mode=mode, data=data, step=step, node=node, task_id=task_id)


def _values_part(ev: StepValues) -> StreamPart:
    data: dict[str, Any] = dict(ev.values)
    if ev.interrupt is not None:
        data[INTERRUPT_KEY] = [dict(ev.interrupt)]
    step = ev.step
    return StreamPart(
        mode="values", data=data, step=RUN_LEVEL_STEP if step is None else step
    )


@final
class _Children:
    """Parts from the children's events (plain data, as ``SubgraphEvent`` carries
    them), with the children's tasks by namespace, step and ordinal."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: dict[tuple[tuple[str, ...], Any, Any], tuple[Any, Any]] = {}

    def feed(
        self, namespace: tuple[str, ...], ev: dict[str, Any], modes: frozenset[str]
    ) -> StreamPart | None:
        kind = str(ev.get("kind"))
        step, ordinal = ev.get("step"), ev.get("ordinal")
        if kind == "task_started":
            self._tasks[(namespace, step, ordinal)] = (ev["node"], ev["task_id"])
            return None
        mode, node, task_id = _CHILD_MODES.get(kind, ""), None, None
        if mode not in modes:
            return None
        data: Any
        if mode == "values":
            data = dict(ev.get("values", {}))
            if ev.get("interrupt") is not None:
                data[INTERRUPT_KEY] = [dict(ev["interrupt"])]
        elif mode == "updates":
            node, task_id = ev["node"], ev["task_id"]
            data = {node: ev.get("writes", {})}
        else:
            node, task_id = self._tasks.get((namespace, step, ordinal), (None, None))
            if mode == "messages":
                data = {"text": ev["text"], "metadata": dict(ev.get("metadata", {}))}
            else:
                data = ev.get("data")
        return StreamPart(
            mode=mode,
            data=data,
            step=RUN_LEVEL_STEP if step is None else step,
            node=node,
            task_id=task_id,
            namespace=tuple(namespace),
        )


_CHILD_MODES = {
    "step_values": "values",
    "task_writes": "updates",
    "model_token": "messages",
    "custom": "custom",
}
"""The mode a child's event kind gives a part in (``events`` keeps the
``subgraph_event`` itself)."""


def project_stream(
    events: Iterable[Event], modes: str | Sequence[str], *, subgraphs: bool = False
) -> Iterator[StreamPart]:
    """The parts a run streamed in ``modes`` yields, from its events.

    Pure: the same events give the same parts, so a server replaying a run's
    persisted events produces exactly what ``Runtime.stream`` yielded in process.
    ``values`` and ``updates`` need the run to have been started with those modes
    (``RunOptions(stream_modes=...)``), or its trace has no values to project.
    ``subgraphs`` adds the children's parts, namespaced (as ``Runtime.stream``).
    """
    projector = StreamProjector(modes, subgraphs=subgraphs)
    for ev in events:
        yield from projector.feed(ev)
