"""Test helpers: fake clock and ids, node inputs, scripted services, golden traces.

With these, a run's ids and timing are a function of the test alone, so event traces
can be pinned with snapshots without patching ``uuid`` or ``time``:

* ``FakeClock`` and ``SequentialIds``: the injectable clock and id source;
* ``node_input``: the ``NodeInput`` of one task, to unit-test a node function alone;
* ``ScriptedService``: a stand-in for a model, search or tool service whose answers
  are given up front and whose calls are recorded;
* ``Tracer``: runs graphs and returns a ``hive_core.testing.Trace`` (the pytest
  ``hive_trace`` fixture is one);
* ``check_determinism``: reruns a graph with task completion order shuffled and
  fails on the first event that differs (the ``hive_determinism`` fixture).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar, final

import attrs

from ..environment import Environment
from ..errors import ChannelTypeMismatchError, ScopeMismatchError, UnknownChannelError
from ..events import STREAM_KINDS, StreamEvent
from ..graph._compiled import CompiledGraph
from ..ids import task_id
from ..nodes import NodeInput, Resume
from ..persistence import CheckpointStore, InMemoryCheckpointStore
from ..run_types import RunOptions
from ..runtime import Runtime
from ..state._channels import Channel
from ..state._schema import Schema, SchemaSpec, resolve_schema
from ..state._store import InitialCache, StoreView, fingerprint
from ._trace import Trace, TraceDiff, diff_traces
from ._tracer import finish, prepare_environment, shuffled_graph, trace_options

__all__ = [
    "FakeClock",
    "NondeterminismError",
    "ScriptedCall",
    "ScriptedService",
    "SequentialIds",
    "Tracer",
    "UnexpectedCallError",
    "check_determinism",
    "check_determinism_async",
    "node_input",
]

_T = TypeVar("_T")


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


# ------------------------------------------------------------- node inputs

_FIRST_RUN_ID = uuid.UUID(int=(0x1 << 64) | 1)
_FIRST_ATTEMPT_ID = uuid.UUID(int=(0x2 << 64) | 1)

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

    return NodeInput(
        store=StoreView(spec, global_values, overlay, initial),
        node_id=node_id,
        task_id=task_id(
            _FIRST_RUN_ID, step, node_id, 0, fingerprint(spec, overlay, initial)
        ),
        step=step,
        run_id=str(_FIRST_RUN_ID),
        thread_id=thread_id,
        attempt_id=str(_FIRST_ATTEMPT_ID),
        resume=resume,
        environment=(
            environment if environment is not None else Environment(clock=FakeClock())
        ),
        emit=emit,
    )


# -------------------------------------------------------- scripted services


class UnexpectedCallError(AssertionError):
    """A ``ScriptedService`` was called more often than responses were scripted."""


@final
@attrs.frozen
class ScriptedCall:
    """One recorded call of a ``ScriptedService``."""

    method: str
    """The method name, or ``""`` for a call of the service itself."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __str__(self) -> str:
        shown = [repr(a) for a in self.args]
        shown += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.method or 'service'}({', '.join(shown)})"


_RESERVED = frozenset({"assert_exhausted", "calls", "is_async", "remaining"})


class ScriptedService:
    """A stand-in for an external service: each call's result is given up front.

    ```python
    search = ScriptedService(search=["r1", RuntimeError("down")])
    await search.search("tides")  # -> "r1"
    await search.search("moon")  # raises RuntimeError("down")
    ```

    Positional responses answer calls of the service itself (``svc(...)``); each
    keyword scripts a method of that name. A response that is an exception (or an
    exception class) is raised instead of returned. Calls are recorded in
    ``calls``; one call more than scripted raises ``UnexpectedCallError`` naming the
    call. Methods and the service are ``async`` unless ``is_async=False``.
    """

    def __init__(
        self,
        responses: Iterable[object] | None = None,
        /,
        *,
        is_async: bool = True,
        **methods: Iterable[object],
    ) -> None:
        clash = sorted(
            name for name in methods if name in _RESERVED or name.startswith("_")
        )
        if clash:
            raise ValueError(
                f"ScriptedService cannot script {', '.join(clash)}: the name is "
                f"reserved; reserved names are {', '.join(sorted(_RESERVED))}"
            )
        self.is_async = is_async
        self.calls: list[ScriptedCall] = []
        """Every call, unexpected ones included, in call order."""
        self._scripts: dict[str, list[object]] = {
            name: list(found) for name, found in methods.items()
        }
        if responses is not None:
            self._scripts[""] = list(responses)
        self._used: dict[str, int] = dict.fromkeys(self._scripts, 0)
        self._methods: dict[str, Callable[..., Any]] = {
            name: self._method(name) for name in methods
        }

    def _method(self, name: str) -> Callable[..., Any]:
        if self.is_async:

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return self._answer(name, args, kwargs)

            call: Callable[..., Any] = call_async
        else:

            def call_sync(*args: Any, **kwargs: Any) -> Any:
                return self._answer(name, args, kwargs)

            call = call_sync
        call.__name__ = call.__qualname__ = name
        return call

    def _answer(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        made = ScriptedCall(method=name, args=args, kwargs=kwargs)
        self.calls.append(made)
        script = self._scripts.get(name, [])
        number = self._used.get(name, 0) + 1
        self._used[name] = number
        if number > len(script):
            earlier = [str(c) for c in self.calls[:-1] if c.method == name]
            what = f"{name}()" if name else "the service"
            raise UnexpectedCallError(
                f"ScriptedService: unexpected call #{number} {made} (call "
                f"{len(self.calls)} overall): {len(script)} response"
                f"{'' if len(script) == 1 else 's'} scripted for {what}"
                + (f"; earlier calls: {', '.join(earlier)}" if earlier else "")
            )
        response = script[number - 1]
        if isinstance(response, BaseException):
            raise response
        if isinstance(response, type) and issubclass(response, BaseException):
            raise response()
        return response

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return self._call_async(args, kwargs)
        return self._answer("", args, kwargs)

    async def _call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._answer("", args, kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        methods = self.__dict__.get("_methods")
        if methods is not None and name in methods:
            return methods[name]  # type: ignore[no-any-return]
        scripted = ", ".join(sorted(methods or ())) or "none"
        raise AttributeError(
            f"ScriptedService has no script for `{name}` (scripted methods: "
            f"{scripted}); add {name}=[...] to the constructor"
        )

    @property
    def remaining(self) -> dict[str, int]:
        """Unused responses per method (``""`` for the service itself)."""
        return {
            name: len(script) - self._used[name]
            for name, script in self._scripts.items()
            if len(script) > self._used[name]
        }

    def assert_exhausted(self) -> None:
        """Fail if any scripted response was never used."""
        left = self.remaining
        if left:
            shown = ", ".join(f"{name or 'service'}: {n}" for name, n in left.items())
            raise AssertionError(f"ScriptedService: unused responses ({shown})")

    def __repr__(self) -> str:
        names = ", ".join(sorted(n or "<call>" for n in self._scripts))
        return f"<ScriptedService {names}, {len(self.calls)} calls>"


# ------------------------------------------------------------------ tracing


@attrs.define(eq=False)
class _GraphRuns:
    graph: CompiledGraph
    store: CheckpointStore
    runtimes: dict[str, Runtime] = attrs.Factory(dict)


def _no_running_loop(what: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{what} cannot be called inside a running event loop; use "
        f"`await {instead}(...)` in async code"
    )


class Tracer:
    """Runs graphs for golden tests and returns each run's ``Trace``.

    Every thread gets its own ``Runtime`` with ``SequentialIds`` and a
    ``FakeClock``, so a thread's trace does not depend on what else the test ran;
    threads of one graph share a checkpoint store (an ``InMemoryCheckpointStore``
    unless given), so interrupted runs can be resumed. Stream events are always
    buffered per task (``deterministic_token_streaming``) so their order is stable.

    The pytest fixture ``hive_trace`` is a ``Tracer``; elsewhere use it as a context
    manager (it owns an event loop for its synchronous calls).
    """

    def __init__(self) -> None:
        self._graphs: dict[int, _GraphRuns] = {}
        self._last: tuple[CompiledGraph, str] | None = None
        self._runner: asyncio.Runner | None = None

    def runtime(
        self,
        graph: CompiledGraph,
        thread_id: str = "test",
        *,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
    ) -> Runtime:
        """The runtime used for ``thread_id`` of ``graph`` (created on first use).

        A new ``checkpoint_store`` replaces the graph's store and starts fresh
        runtimes that load their threads from it, like a process restart.
        """
        runs = self._graphs.get(id(graph))
        if runs is None or (
            checkpoint_store is not None and checkpoint_store is not runs.store
        ):
            store = checkpoint_store or InMemoryCheckpointStore()
            runs = self._graphs[id(graph)] = _GraphRuns(graph, store)
        rt = runs.runtimes.get(thread_id)
        if rt is None:
            rt = Runtime(
                graph,
                environment=prepare_environment(environment, FakeClock()),
                checkpoint_store=runs.store,
                ids=SequentialIds(),
            )
            runs.runtimes[thread_id] = rt
        elif environment is not None:
            rt.environment = prepare_environment(environment, rt.environment.clock)
        return rt

    def __call__(
        self,
        graph: CompiledGraph,
        input: object = None,
        *,
        thread_id: str = "test",
        options: RunOptions | None = None,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
        resume: tuple[str | None, object] | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """Run ``graph`` on ``thread_id`` (or resume it) and return the trace.

        Args:
            graph: The compiled graph.
            input: The run's input, as for ``Runtime.run``.
            thread_id: Runs on one thread continue it; other threads are
                independent.
            options: Run options (stream events are buffered regardless).
            checkpoint_store: A store to use instead of the in-memory one.
            environment: Services for the nodes; a real clock is replaced by a
                ``FakeClock``.
            resume: ``(interrupt_id, payload)`` to answer the thread's pending
                interrupt instead of starting a run; ``None`` as the id means
                "whatever is pending".
            capture_errors: Put a run error into ``trace.error`` instead of
                raising it.

        Raises:
            Exception: the run's error, with the trace so far attached as a note,
                unless ``capture_errors``.
        """
        _no_running_loop("Tracer.__call__", "tracer.run_async")
        return self._sync(
            self.run_async(
                graph,
                input,
                thread_id=thread_id,
                options=options,
                checkpoint_store=checkpoint_store,
                environment=environment,
                resume=resume,
                capture_errors=capture_errors,
            )
        )

    async def run_async(
        self,
        graph: CompiledGraph,
        input: object = None,
        *,
        thread_id: str = "test",
        options: RunOptions | None = None,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
        resume: tuple[str | None, object] | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """``Tracer(...)`` for async code."""
        if resume is not None and input is not None:
            raise TypeError("pass an input or resume=(interrupt_id, payload), not both")
        rt = self.runtime(
            graph,
            thread_id,
            checkpoint_store=checkpoint_store,
            environment=environment,
        )
        opts = trace_options(options)
        self._last = (graph, thread_id)
        if resume is None:
            handle = rt.run(thread_id, input, opts)
        else:
            interrupt_id, payload = resume
            if interrupt_id is None:
                # Resume continues the latest checkpoint, so ask it what is pending.
                store = rt.checkpoint_store
                latest = await store.load_latest(thread_id) if store else None
                pending = latest.interruption if latest is not None else None
                interrupt_id = pending.id if pending is not None else ""
            handle = rt.resume(thread_id, interrupt_id, payload, opts)
        return await finish(rt, thread_id, handle, capture_errors=capture_errors)

    def resume(
        self,
        payload: object = None,
        *,
        interrupt_id: str | None = None,
        graph: CompiledGraph | None = None,
        thread_id: str | None = None,
        options: RunOptions | None = None,
        environment: Environment | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """Answer the pending interrupt of the last traced thread (or of
        ``graph``/``thread_id``) with ``payload`` and return the resumed run's
        trace."""
        _no_running_loop("Tracer.resume", "tracer.resume_async")
        return self._sync(
            self.resume_async(
                payload,
                interrupt_id=interrupt_id,
                graph=graph,
                thread_id=thread_id,
                options=options,
                environment=environment,
                capture_errors=capture_errors,
            )
        )

    async def resume_async(
        self,
        payload: object = None,
        *,
        interrupt_id: str | None = None,
        graph: CompiledGraph | None = None,
        thread_id: str | None = None,
        options: RunOptions | None = None,
        environment: Environment | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """``resume`` for async code."""
        if graph is None:
            if self._last is None:
                raise RuntimeError(
                    "nothing to resume: trace a run first, or pass graph="
                )
            graph = self._last[0]
            thread_id = thread_id if thread_id is not None else self._last[1]
        return await self.run_async(
            graph,
            thread_id=thread_id if thread_id is not None else "test",
            options=options,
            environment=environment,
            resume=(interrupt_id, payload),
            capture_errors=capture_errors,
        )

    def _sync(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(coro)

    def close(self) -> None:
        """Close the event loop used by the synchronous calls."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def __enter__(self) -> Tracer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -------------------------------------------------------------- determinism


class NondeterminismError(AssertionError):
    """A shuffled rerun of a graph produced a different trace than the first run."""

    def __init__(
        self,
        *,
        seed: int,
        run: int,
        runs: int,
        diff: TraceDiff | None,
        error: BaseException | None = None,
    ) -> None:
        self.seed = seed
        self.run = run
        """Which shuffled run differed (1-based)."""
        self.runs = runs
        self.diff = diff
        """The first divergence from the reference run."""
        self.error = error
        """The error the differing run raised, if it raised."""
        lines = [
            f"the graph is not deterministic: shuffled run {run} of {runs} "
            f"(seed={seed}) differs from the reference run",
            diff.render() if diff is not None else "the traces differ",
        ]
        if error is not None:
            lines.append(f"shuffled run {run} raised {type(error).__name__}: {error}")
        lines.append(f"reproduce with seed={seed} (under pytest: --hive-seed={seed})")
        super().__init__("\n".join(lines))


_EnvironmentSource = Environment | Callable[[], Environment] | None


def _environment(source: _EnvironmentSource) -> Environment | None:
    if source is None or isinstance(source, Environment):
        return source
    return source()


async def check_determinism_async(
    graph: CompiledGraph,
    input: object = None,
    *,
    runs: int = 5,
    seed: int | None = None,
    thread_id: str = "test",
    options: RunOptions | None = None,
    environment: _EnvironmentSource = None,
    capture_errors: bool = False,
) -> Trace:
    """``check_determinism`` for async code."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    opts = trace_options(options)

    async def once(g: CompiledGraph) -> Trace:
        rt = Runtime(
            g,
            environment=prepare_environment(_environment(environment), FakeClock()),
            checkpoint_store=InMemoryCheckpointStore(),
            ids=SequentialIds(),
        )
        handle = rt.run(thread_id, input, opts)
        return await finish(rt, thread_id, handle, capture_errors=True)

    reference = await once(graph)
    if reference.error is not None and not capture_errors:
        raise reference.error
    for run in range(1, runs + 1):
        rng = random.Random(f"hive-determinism:{seed}:{run}")
        candidate = await once(shuffled_graph(graph, rng))
        if candidate != reference:
            raise NondeterminismError(
                seed=seed,
                run=run,
                runs=runs,
                diff=diff_traces(reference, candidate),
                error=candidate.error,
            )
    return reference


def check_determinism(
    graph: CompiledGraph,
    input: object = None,
    *,
    runs: int = 5,
    seed: int | None = None,
    thread_id: str = "test",
    options: RunOptions | None = None,
    environment: _EnvironmentSource = None,
    capture_errors: bool = False,
) -> Trace:
    """Run ``graph`` once as is, then ``runs`` more times with the tasks of each
    step finishing in a shuffled order; return the first trace if all agree.

    Each shuffled run wraps every node in random sub-millisecond delays drawn from
    a ``random.Random`` seeded with ``seed`` and the run number (a random seed when
    ``None``; it is reported on failure). Every run gets a fresh runtime with
    ``SequentialIds``, a ``FakeClock`` and an in-memory checkpoint store. Pass
    ``environment`` as a zero-argument factory when it holds scripted services, so
    each run gets fresh ones.

    Raises:
        NondeterminismError: a run's trace (events, outcome or store) differs from
            the first; names the seed, the run and the first diverging event.
        Exception: the first run's error, unless ``capture_errors``.
    """
    _no_running_loop("check_determinism", "check_determinism_async")
    return asyncio.run(
        check_determinism_async(
            graph,
            input,
            runs=runs,
            seed=seed,
            thread_id=thread_id,
            options=options,
            environment=environment,
            capture_errors=capture_errors,
        )
    )
