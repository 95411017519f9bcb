"""What a node receives and what it returns.

A node is a plain function ``fn(node_input) -> NodeOutput | None`` (sync or async).
It reads through a view that never shows the current step's writes, and returns
writes, spawned tasks, a routing decision and an optional interrupt request; the
runtime applies all of that at the step's commit, in task order.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, final

import msgspec

from .environment import Environment
from .errors import NodeOutputError
from .events import CustomDebug, StreamEvent
from .state._channels import Channel, Write
from .state._store import StoreView

if TYPE_CHECKING:
    from .persistence._format import CheckpointStore

__all__ = [
    "END",
    "GRAPH_EDGES",
    "Next",
    "NextT",
    "NodeFn",
    "NodeInput",
    "NodeOutput",
    "Resume",
    "InlineInterrupt",
    "RouterFn",
    "Spawn",
    "is_async_callable",
]


class Next(enum.Enum):
    """Routing decisions that are not an explicit list of nodes."""

    USE_GRAPH_EDGES = "use_graph_edges"
    """Follow the router if the node has one, else the static edges."""
    END = "end"
    """Schedule nothing from this task (spawns still happen)."""


GRAPH_EDGES = Next.USE_GRAPH_EDGES
END = Next.END

NextT: TypeAlias = "Next | Sequence[str]"
"""A routing decision: ``GRAPH_EDGES``, ``END`` or node ids in order."""


class Spawn(msgspec.Struct, frozen=True, array_like=True):
    """A task for ``node`` in the next step, with its own task-local values."""

    node: str
    local: Mapping[Channel[Any] | str, object] = {}
    """Task-local overlay: channel (or id) to value."""


class Resume(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an interrupt, seen by every task of the first resumed step."""

    interrupt_id: str
    payload: object
    node: str = ""
    """The node whose task asked for the interrupt, so a node can tell whether the
    answer is meant for it."""


class NodeOutput(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a node asks of the commit."""

    writes: Sequence[Write[Any]] = ()
    """Writes in emission order."""
    spawn: Sequence[Spawn] = ()
    """Tasks for the next step; never deduplicated."""
    next: Next | Sequence[str] = Next.USE_GRAPH_EDGES
    """Where this task's path goes; ``[]`` means end."""
    interrupt: object | None = None
    """A payload asks the run to pause after this step commits."""

    def __post_init__(
        self,
        _write: type = Write,
        _spawn: type = Spawn,
        _next: type = Next,
        _list: type = list,
        _tuple: type = tuple,
    ) -> None:
        # the shapes the commit reads; a wrong one fails here, naming the field,
        # rather than as an untyped TypeError deep in the commit (docs/errors.md).
        # Defaults bind the classes locally: this runs once per node call.
        writes = self.writes
        if writes:
            kind = type(writes)
            if kind is not _list and kind is not _tuple:
                _bad_sequence("writes", writes, Write, "Write")
            for w in writes:
                if type(w) is not _write:
                    _bad_sequence("writes", writes, Write, "Write")
        spawn = self.spawn
        if spawn:
            skind = type(spawn)
            if skind is not _list and skind is not _tuple:
                _bad_sequence("spawn", spawn, Spawn, "Spawn")
            for sp in spawn:
                if type(sp) is not _spawn:
                    _bad_sequence("spawn", spawn, Spawn, "Spawn")
        if type(self.next) is not _next:
            _check_next(self.next)


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:200]


def _bad_sequence(field: str, value: object, cls: type, name: str) -> None:
    """Raise ``NodeOutputError`` for ``writes`` or ``spawn``."""
    if isinstance(value, cls):
        raise NodeOutputError(
            field,
            expected=f"a list of {name}",
            actual=f"a single {name}",
            fix=f"wrap it in a list: NodeOutput({field}=[{name}(...)])",
        )
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if not isinstance(item, cls):
                raise NodeOutputError(
                    f"{field}[{i}]",
                    expected=name,
                    actual=_describe(item),
                    fix=f"build each item with {name}(...)",
                )
    raise NodeOutputError(
        field,
        expected=f"a list of {name}",
        actual=_describe(value),
        fix=f"pass a list: NodeOutput({field}=[{name}(...), ...])",
    )


def _check_next(nxt: object) -> None:
    if isinstance(nxt, str):
        raise NodeOutputError(
            "next",
            expected="END, GRAPH_EDGES or a list of node ids",
            actual=f"the str {nxt!r}",
            fix=f"wrap the node id in a list: NodeOutput(next=[{nxt!r}])",
        )
    if type(nxt) is list or type(nxt) is tuple:
        for i, item in enumerate(nxt):
            if type(item) is not str:
                raise NodeOutputError(
                    f"next[{i}]",
                    expected="a node id (str)",
                    actual=_describe(item),
                    fix="name nodes by their id strings",
                )
        return
    if not isinstance(nxt, Sequence):
        raise NodeOutputError(
            "next",
            expected="END, GRAPH_EDGES or a list of node ids",
            actual=_describe(nxt),
            fix="return next=END, next=GRAPH_EDGES or next=['node', ...]",
        )


_EMPTY_OUTPUT = NodeOutput()


class InlineInterrupt(BaseException):
    """Raised by ``NodeInput.interrupt`` to pause; the executor turns it into
    ``NodeOutput(interrupt=payload)`` that re-runs the task on resume.

    A ``BaseException`` so that a node's ``except Exception`` cannot swallow the
    pause by accident; a node that catches ``BaseException`` must re-raise it
    (``docs/concepts/interrupts.md``).
    """

    def __init__(self, payload: object) -> None:
        super().__init__(payload)
        self.payload = payload


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


class _RunFacts(Protocol):
    """What every task of one attempt shares (the runtime's ``StepRunner``)."""

    @property
    def run_id(self) -> str: ...
    @property
    def thread_id(self) -> str: ...
    @property
    def attempt_id(self) -> str: ...
    @property
    def environment(self) -> Environment: ...
    @property
    def checkpoint_store(self) -> CheckpointStore | None: ...


@final
class _Facts:
    """``_RunFacts`` of a ``NodeInput`` built with its public constructor."""

    __slots__ = ("attempt_id", "checkpoint_store", "environment", "run_id", "thread_id")

    def __init__(
        self,
        run_id: str,
        thread_id: str,
        attempt_id: str,
        environment: Environment,
        checkpoint_store: CheckpointStore | None,
    ) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.attempt_id = attempt_id
        self.environment = environment
        self.checkpoint_store = checkpoint_store


@final
class NodeInput:
    """A node's view of the world for one task.

    One object per task, built by the runtime (or by ``hive_core.testing`` for unit
    tests of a single node). What every task of the attempt shares (run, thread
    and attempt ids, environment, checkpoint store) is read through one shared
    object, so the runtime builds a task's input from seven fields
    (``_task_input``, ``docs/performance.md``).
    """

    __slots__ = (
        "_asked",
        "_emit",
        "_run",
        "_task",
        "node_id",
        "resume",
        "step",
        "store",
    )

    def __init__(
        self,
        *,
        store: StoreView,
        node_id: str,
        task_id: str | _HasId,
        step: int,
        run_id: str,
        thread_id: str,
        attempt_id: str,
        resume: Resume | None,
        environment: Environment,
        emit: Callable[[StreamEvent], None] | None = None,
        checkpoint_store: CheckpointStore | None = None,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self._task = task_id
        self.step = step
        self.resume = resume
        self._emit = emit
        self._asked = False
        self._run: _RunFacts = _Facts(
            run_id, thread_id, attempt_id, environment, checkpoint_store
        )

    @property
    def run_id(self) -> str:
        """The run id of the thread (kept across its attempts)."""
        return self._run.run_id

    @property
    def thread_id(self) -> str:
        """The thread this task runs on."""
        return self._run.thread_id

    @property
    def attempt_id(self) -> str:
        """This call's (run, resume, ...) attempt id."""
        return self._run.attempt_id

    @property
    def environment(self) -> Environment:
        """The services nodes see (clock, models, tools, memory, ...)."""
        return self._run.environment

    @property
    def checkpoint_store(self) -> CheckpointStore | None:
        """The runtime's checkpoint store, if it has one: a ``Subgraph`` keeps a
        paused child there (``docs/dsl.md#subgraphs``)."""
        return self._run.checkpoint_store

    @property
    def task_id(self) -> str:
        """This task's deterministic id (derived on first use)."""
        task = self._task
        return task if type(task) is str else task.id  # type: ignore[union-attr]

    def interrupt(self, payload: object) -> Any:
        """Ask the outside and return its answer: LangGraph's ``interrupt()``.

        The first run pauses here (the task's writes are dropped, as it never
        returned) with ``payload`` as the interrupt; the resumed run executes the
        node again from the top, and this call then returns the resume payload
        (already converted to the schema's ``resume_payload`` type). Sugar over
        ``NodeOutput(interrupt=payload, next=[node])``: same ids, same checkpoint,
        one pending interrupt per thread. Code before the call runs twice, so keep
        side effects after it (``docs/concepts/interrupts.md#inline-interrupts``).

        Raises:
            InterruptRepeatedError: a second call in the same node run.
        """
        from .errors import DefinitionError, InterruptRepeatedError

        if self._asked:
            raise InterruptRepeatedError(self.node_id, step=self.step)
        self._asked = True
        if payload is None:
            raise DefinitionError(
                "ctx.interrupt(None) cannot be told apart from no interrupt; pass a "
                "payload",
                subject=self.node_id,
            )
        resume = self.resume
        if resume is not None and resume.node == self.node_id:
            return resume.payload
        raise InlineInterrupt(payload)

    @property
    def streaming(self) -> bool:
        """Whether emitted events go anywhere: someone listens to the run and
        reads events nodes emit (a stream in ``messages``, ``custom`` or
        ``events`` mode, or ``RunHandle.events``). A node can skip building
        events nobody reads; a ``values`` or ``updates`` stream reads none."""
        return self._emit is not None

    def emit(self, event: StreamEvent) -> None:
        """Emit a stream event: ``ModelInvocationStarted``, ``ModelToken``,
        ``ModelInvocationFinished``, ``ToolInvocationStarted``,
        ``ToolInvocationFinished``, ``CustomDebug`` or ``SubgraphEvent`` (from
        ``hive_core.events``),
        built with its own fields only, e.g. ``emit(ModelToken("Hel"))``.

        Events go live to the run's listeners, or are buffered per task and flushed
        in task order when deterministic token streaming is on
        (``docs/concepts/supersteps.md``).
        """
        if self._emit is not None:
            self._emit(event)

    def emit_debug(self, name: str, metadata: Mapping[str, str] | None = None) -> None:
        """Emit a droppable ``CustomDebug`` event named ``name``."""
        if self._emit is not None:
            self._emit(CustomDebug(name, metadata=dict(metadata or {})))


_new = object.__new__


def _task_input(
    store: StoreView,
    node_id: str,
    task: str | _HasId,
    step: int,
    resume: Resume | None,
    emit: Callable[[StreamEvent], None] | None,
    run: _RunFacts,
) -> NodeInput:
    """The runtime's ``NodeInput`` of one task: the public constructor's object,
    with the attempt's shared facts passed as the one object ``run``, built
    without keyword matching (once per task, ``docs/performance.md``)."""
    ni: NodeInput = _new(NodeInput)
    ni.store = store
    ni.node_id = node_id
    ni._task = task
    ni.step = step
    ni.resume = resume
    ni._emit = emit
    ni._asked = False
    ni._run = run
    return ni


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` starts a coroutine: ``async def`` functions, partials
    of them, and objects whose ``__call__`` is ``async def``.

    The one place Hive decides how a node is called: the compiler records it on the
    node's spec and the executor trusts that record (``docs/concepts/supersteps.md``).
    """
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - we want the method itself
    )


NodeFn: TypeAlias = Callable[
    [NodeInput], "NodeOutput | Awaitable[NodeOutput | None] | None"
]
RouterFn: TypeAlias = Callable[[StoreView], "Next | Sequence[str]"]
