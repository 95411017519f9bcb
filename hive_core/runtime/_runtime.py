"""``Runtime``: runs a compiled graph on threads.

One async core: ``invoke`` awaits an outcome, ``run`` returns a handle with events,
every user-facing coroutine has a ``*_sync`` twin through the one sync bridge
(``hive_core/_bridge.py``). Plain sync nodes over an inline store run the twins with
no event loop at all: most of a 2 µs against a 300 µs call (``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._bridge import ensure_no_running_loop, run_sync
from ..environment import Environment
from ..errors import (
    CheckpointStoreMissingError,
    InterruptPendingError,
    NoCheckpointToResumeError,
    NoInterruptToResumeError,
    ResumeInterruptMismatchError,
    ThreadExistsError,
    WritesWhileInterruptedError,
)
from ..events import (
    CheckpointSaved,
    RunCancelled,
    RunFinished,
    RunResumed,
    RunStarted,
    StepStarted,
)
from ..graph._compiled import CompiledGraph
from ..nodes import Resume
from ..persistence._format import CheckpointStore, CheckpointSummary
from ..persistence._threads import validate_thread_id
from ..run_types import Outcome, RunOptions, StepReport, ThreadSnapshot
from ..state._channels import Write
from ..state._schema import InputContext, Schema, default_input_writes
from ..state._store import GlobalStore, InitialCache, fingerprint
from ._checkpointing import Checkpointer
from ._context import RunContext
from ._deletion import DeletionMixin
from ._handle import RunHandle
from ._ids import IdSource, RandomIds, attempt_id_of
from ._input_writes import apply_input_pairs, mapped_pairs
from ._loop import (
    EXTERNAL_WRITER,
    INPUT_WRITER,
    Attempt,
    apply_input_writes,
    check_writes_argument,
)
from ._payload import convert_resume_payload
from ._state import Seed, ThreadState
from ._streaming import StreamingMixin
from ._time_travel import fork_state, snapshot, state_history
from ._turns import ThreadTurns

if TYPE_CHECKING:
    import asyncio

__all__ = ["IdSource", "RandomIds", "RunHandle", "Runtime", "StepReport"]

T = TypeVar("T")
_DEFAULT_OPTIONS = RunOptions()
_INSTEAD = "await runtime.{}(...)"
_INSTEAD_INVOKE = _INSTEAD.format("invoke")  # formatted once: `run_sync` is per call
_DEFAULT_INPUT_WRITES = Schema.input_writes.__func__  # type: ignore[attr-defined]


class Runtime(StreamingMixin, DeletionMixin):
    """Runs one compiled graph for any number of threads.

    Attempts on one thread run first-in first-out; different threads run
    concurrently and never see each other's state.
    """

    def __init__(
        self,
        graph: CompiledGraph,
        *,
        environment: Environment | None = None,
        checkpoint_store: CheckpointStore | None = None,
        ids: IdSource | None = None,
        options: RunOptions | None = None,
    ) -> None:
        """``options`` are the defaults of every call that passes none (a call's
        own options replace them whole). Their ``checkpoint_policy`` left at
        ``None`` saves after every step when there is a ``checkpoint_store``, so
        the history has every step to read and fork (``docs/persistence.md``)."""
        self.graph = graph
        self.options = options if options is not None else _DEFAULT_OPTIONS
        """Run options used by calls that pass none."""
        env = environment if environment is not None else Environment()
        self.ids: IdSource = ids if ids is not None else RandomIds()
        graph.schema.validate()
        initial = InitialCache(graph.schema)
        self.checkpoint_store = checkpoint_store
        self._checkpointer = (
            Checkpointer(graph, initial, checkpoint_store)
            if checkpoint_store is not None
            else None
        )
        self._threads: dict[str, ThreadState] = {}
        self._turns = ThreadTurns()
        self._last_outcomes: dict[str, Outcome] = {}
        self._fresh: tuple[dict[str, Any], dict[str, frozenset[str]]] | None = None
        """A new thread's values and barriers (``_fresh_state``)."""
        inline_graph = all(
            not n.is_async and not n.blocking and n.retry is None
            for n in graph.nodes.values()
        )
        self._ctx = RunContext(
            graph=graph,
            initial=initial,
            empty_fingerprint=fingerprint(graph.schema, {}, initial),
            environment=env,
            checkpointer=self._checkpointer,
            start_seeds=tuple(Seed(n) for n in graph.ir.start),
            lone={n: (Seed(n),) for n in graph.nodes},
            inline=inline_graph,
            publish=self._threads.__setitem__,  # `_publish` without its frame
        )
        self._inline = inline_graph and (
            self._checkpointer is None or self._checkpointer.inline
        )
        """Sync twins may drive their coroutine without an event loop."""
        mapper = graph.schema.input_writes
        self._default_input = (
            getattr(mapper, "__func__", mapper) is _DEFAULT_INPUT_WRITES
            or mapper is default_input_writes
        )
        """The schema maps input the default way (``Schema.input_writes``), so a
        dict input is applied as its pairs, without a ``Write`` per key."""

    @property
    def environment(self) -> Environment:
        """The services nodes see; replacing it affects attempts started later."""
        return self._ctx.environment

    @environment.setter
    def environment(self, environment: Environment) -> None:
        self._ctx = attrs.evolve(self._ctx, environment=environment)

    # ------------------------------------------------------------------- runs

    def run(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> RunHandle:
        """Start a run lazily; iterate ``handle.events`` or await the outcome."""
        attempt = self._attempt(thread_id, options)
        return RunHandle(attempt, lambda: self._run_attempt(attempt, input))

    async def invoke(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> Outcome:
        """Run and return the outcome, building no events."""
        return await self._run_attempt(self._attempt(thread_id, options), input)

    def run_sync(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> Outcome:
        """Blocking ``invoke`` for scripts; not callable inside an event loop."""
        # the loop check first, as for any sync twin; then `invoke`'s own body
        # without its coroutine frame (one frame less at every resume)
        ensure_no_running_loop("Runtime.run_sync", _INSTEAD_INVOKE)
        attempt = self._attempt(thread_id, options)
        return run_sync(
            self._run_attempt(attempt, input),
            name="Runtime.run_sync",
            instead=_INSTEAD_INVOKE,
            inline=self._inline,
            checked=True,
        )

    def resume(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> RunHandle:
        """Answer the thread's pending interrupt and continue from its checkpoint.

        The payload is converted to the schema's ``resume_payload`` type first; a
        wrong one (or one with a field the type does not declare) raises
        ``ResumePayloadError`` before anything runs or changes.
        """
        attempt = self._attempt(thread_id, options)
        return RunHandle(
            attempt, lambda: self._resume_attempt(attempt, interrupt_id, payload)
        )

    def resume_sync(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> Outcome:
        """Blocking ``resume`` for scripts."""
        coro = self._resume_now(thread_id, interrupt_id, payload, options)
        return self._sync("resume_sync", "resume", coro)

    def apply_external_writes(
        self,
        thread_id: str,
        writes: Sequence[Write[Any]],
        options: RunOptions | None = None,
    ) -> RunHandle:
        """Commit writes as a synthetic step (LangGraph's ``update_state``).

        Only global channels; the frontier and join barriers are untouched; a
        checkpoint is always saved when the runtime has a store.
        """
        check_writes_argument(writes, "apply_external_writes")
        attempt = self._attempt(thread_id, options)
        return RunHandle(attempt, lambda: self._external_attempt(attempt, writes))

    def apply_external_writes_sync(
        self,
        thread_id: str,
        writes: Sequence[Write[Any]],
        options: RunOptions | None = None,
    ) -> Outcome:
        """Blocking ``apply_external_writes`` for scripts."""
        check_writes_argument(writes, "apply_external_writes_sync")
        coro = self._external_now(thread_id, writes, options)
        return self._sync("apply_external_writes_sync", "apply_external_writes", coro)

    async def steps(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> AsyncIterator[StepReport]:
        """Drive a run one committed step at a time (same code path as ``run``).

        The run only advances when the consumer asks for the next report; the final
        outcome is available as ``runtime.last_outcome(thread_id)`` afterwards.
        """
        import asyncio

        attempt = self._attempt(thread_id, options)
        reports: asyncio.Queue[StepReport | None] = asyncio.Queue(maxsize=1)
        proceed: asyncio.Queue[None] = asyncio.Queue(maxsize=1)

        async def hook(report: StepReport) -> None:
            await reports.put(report)
            await proceed.get()

        attempt.on_step = hook
        task = asyncio.ensure_future(self._run_attempt(attempt, input))
        task.add_done_callback(lambda _t: reports.put_nowait(None))
        try:
            while True:
                report = await reports.get()
                if report is None:
                    break
                yield report
                proceed.put_nowait(None)
            self._last_outcomes[thread_id] = await task
        finally:
            if not task.done():
                attempt.cancel_requested = True
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def last_outcome(self, thread_id: str) -> Outcome | None:
        """The outcome of the last ``steps()`` run on the thread."""
        return self._last_outcomes.get(thread_id)

    # ------------------------------------------------------------------ state

    async def fork(
        self,
        thread_id: str,
        checkpoint_id: str,
        *,
        into: str,
        writes: Sequence[Write[Any]] = (),
    ) -> CheckpointSummary:
        """Branch ``into`` a new thread from one of ``thread_id``'s checkpoints.

        Nothing runs. The new thread gets the checkpoint's state (a pending
        interrupt included, so a past approval can be answered differently) with
        ``writes`` applied as external writes (checked the same way; a bad one
        raises and nothing is saved), and a run id derived from (source, target,
        checkpoint); its first checkpoint is saved before this returns. Run or
        resume the new thread afterwards (``docs/persistence.md``).
        """
        validate_thread_id(thread_id)
        validate_thread_id(checkpoint_id, what="checkpoint id")
        validate_thread_id(into, what="fork target")
        check_writes_argument(writes, "fork")
        cpr = self._require_store("fork")
        await self._turns.take(into)
        try:
            if into in self._threads or await cpr.store.thread_exists(into):
                raise ThreadExistsError(into)
            state = await fork_state(
                cpr, self.graph, thread_id, checkpoint_id, into, writes
            )
            saved = await cpr.save(into, state)
            self._publish(into, state.replace(latest_checkpoint_id=saved))
            return CheckpointSummary(
                id=saved,
                thread_id=into,
                run_id=str(state.run_id),
                step_index=state.step,
                has_interruption=state.interruption is not None,
            )
        finally:
            self._turns.release(into)

    def fork_sync(
        self,
        thread_id: str,
        checkpoint_id: str,
        *,
        into: str,
        writes: Sequence[Write[Any]] = (),
    ) -> CheckpointSummary:
        """Blocking ``fork`` for scripts."""
        coro = self.fork(thread_id, checkpoint_id, into=into, writes=writes)
        return self._sync("fork_sync", "fork", coro)

    async def get_state(self, thread_id: str) -> ThreadSnapshot | None:
        """The thread's committed state: in memory, else its latest checkpoint."""
        validate_thread_id(thread_id)
        state = self._threads.get(thread_id)
        if state is None and self._checkpointer is not None:
            state = await self._checkpointer.load_latest(thread_id)
        if state is None:
            return None
        return snapshot(self.graph, thread_id, state)

    def get_state_sync(self, thread_id: str) -> ThreadSnapshot | None:
        """Blocking ``get_state`` for scripts."""
        return self._sync("get_state_sync", "get_state", self.get_state(thread_id))

    async def get_checkpoint_history(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """The thread's checkpoints, newest first (ids only: see
        ``get_state_history`` for their values)."""
        validate_thread_id(thread_id)
        return await self._require_store("history").store.list_checkpoints(
            thread_id, limit
        )

    def get_checkpoint_history_sync(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """Blocking ``get_checkpoint_history`` for scripts."""
        coro = self.get_checkpoint_history(thread_id, limit)
        return self._sync("get_checkpoint_history_sync", "get_checkpoint_history", coro)

    async def get_state_history(
        self, thread_id: str, limit: int | None = None
    ) -> list[ThreadSnapshot]:
        """The thread's checkpoints, newest first, each as a ``ThreadSnapshot``:
        its values decoded through the channels' codecs, next nodes, pending
        interrupt and checkpoint id (LangGraph's ``get_state_history``)."""
        validate_thread_id(thread_id)
        cpr = self._require_store("history")
        return await state_history(cpr, self.graph, thread_id, limit)

    def get_state_history_sync(
        self, thread_id: str, limit: int | None = None
    ) -> list[ThreadSnapshot]:
        """Blocking ``get_state_history`` for scripts."""
        coro = self.get_state_history(thread_id, limit)
        return self._sync("get_state_history_sync", "get_state_history", coro)

    def get_latest_store(self, thread_id: str) -> GlobalStore | None:
        """The thread's committed global store in memory (no I/O), if any."""
        validate_thread_id(thread_id)
        state = self._threads.get(thread_id)
        if state is None:
            return None
        return GlobalStore(self.graph.schema, state.values)

    # --------------------------------------------------------------- internals

    def _sync(self, name: str, twin: str, coro: Coroutine[Any, Any, T]) -> T:
        return run_sync(
            coro,
            name=f"Runtime.{name}",
            instead=_INSTEAD.format(twin),
            inline=self._inline,
        )

    def _attempt(self, thread_id: str, options: RunOptions | None) -> Attempt:
        validate_thread_id(thread_id)  # every run, resume and external write
        return Attempt(
            self._ctx,
            thread_id=thread_id,
            options=options if options is not None else self.options,
            sink=None,
            attempt_id=None if type(self.ids) is RandomIds else attempt_id_of(self.ids),
        )

    async def _resume_now(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None,
    ) -> Outcome:
        attempt = self._attempt(thread_id, options)
        return await self._resume_attempt(attempt, interrupt_id, payload)

    async def _external_now(
        self,
        thread_id: str,
        writes: Sequence[Write[Any]],
        options: RunOptions | None,
    ) -> Outcome:
        return await self._external_attempt(self._attempt(thread_id, options), writes)

    def _require_store(self, operation: str) -> Checkpointer:
        if self._checkpointer is None:
            raise CheckpointStoreMissingError(operation)
        return self._checkpointer

    def _publish(self, thread_id: str, state: ThreadState) -> None:
        self._threads[thread_id] = state

    def _fresh_state(self) -> ThreadState:
        fresh = self._fresh
        if fresh is None:  # built on the first new thread, copied for each next
            init = self._ctx.initial.values
            fresh = self._fresh = (
                {cid: init[cid] for cid in self.graph.schema.global_ids},
                {jid: frozenset() for jid in self.graph.join_ids},
            )
        values, barriers = fresh
        return ThreadState(
            self.ids.new_run_id(), 0, dict(values), (), dict(barriers), None, None
        )

    async def _wait_turn(self, attempt: Attempt) -> Outcome | None:
        """Wait for the thread (FIFO). A cancel while queued ends the attempt before
        it ran: ``run_started``, ``run_cancelled`` and a ``cancelled`` outcome with
        the thread's committed output; nothing is changed."""
        try:  # `with attempt.guard()`, its calls only when a cancel arrives
            await self._turns.take(attempt.thread_id)
            return None
        except BaseException as exc:
            if not attempt.guard().__exit__(type(exc), exc, None):
                raise
        state = self._threads.get(attempt.thread_id)
        if state is not None:
            attempt.bind_run(state)
        await attempt.emit(RunStarted, thread_id=attempt.thread_id)
        await attempt.emit(RunCancelled)
        if state is None:
            return Outcome(status="cancelled", output={})
        return attempt.outcome("cancelled", state)

    async def _baseline(self, attempt: Attempt) -> ThreadState:
        """In-memory state if present, else the store's latest checkpoint, else
        fresh."""
        state = self._threads.get(attempt.thread_id)
        if state is not None:
            return state
        if self._checkpointer is not None:
            loaded = await self._checkpointer.load_latest(attempt.thread_id)
            if loaded is not None:
                attempt.loaded_checkpoint_id = loaded.latest_checkpoint_id
                return loaded
        return self._fresh_state()

    async def _run_attempt(self, attempt: Attempt, input: object) -> Outcome:
        thread_id = attempt.thread_id
        if not self._turns.take_free(thread_id):  # else `_wait_turn`, without a call
            cancelled = await self._wait_turn(attempt)
            if cancelled is not None:
                return cancelled
        before = self._threads.get(thread_id)
        try:
            # `_baseline`, its call only when a store may hold the thread
            state = before
            if state is None:
                state = (
                    self._fresh_state()
                    if self._checkpointer is None
                    else await self._baseline(attempt)
                )
            # nothing to emit: `begin` without its awaits
            attempt.start(state) if attempt.quiet_start() else await attempt.begin(
                state
            )
            if self._default_input and type(input) is dict:
                pairs: Iterable[tuple[object, Any]] = input.items()  # no `Write`s
            else:
                ctx = InputContext(
                    thread_id=thread_id,
                    run_id=attempt.run_id or "",
                    step_index=state.step,
                )
                pairs = mapped_pairs(self.graph.schema.input_writes(input, ctx))
            if state.interruption is not None:
                raise InterruptPendingError(thread_id, state.interruption.id)
            values, _ = apply_input_pairs(
                self.graph, state.values, pairs, INPUT_WRITER, state.step
            )
            frontier = state.frontier or self._ctx.start_seeds
            state = state.with_input(values, frontier)
            self._threads[thread_id] = state  # input writes stay, even with max_steps=0
            try:
                return await attempt.loop(state)
            except Exception:
                # a failed first step commits nothing, the input writes included:
                # the visible state stays the last committed one (as on disk)
                if self._threads.get(thread_id) is state:
                    self._restore(thread_id, before)
                raise
        finally:
            self._turns.release(thread_id)

    def _restore(self, thread_id: str, state: ThreadState | None) -> None:
        if state is None:
            self._threads.pop(thread_id, None)
        else:
            self._threads[thread_id] = state

    async def _resume_attempt(
        self, attempt: Attempt, interrupt_id: str, payload: object
    ) -> Outcome:
        thread_id = attempt.thread_id
        cpr = self._require_store("resume")
        cancelled = await self._wait_turn(attempt)
        if cancelled is not None:
            return cancelled
        try:
            state = await cpr.load_latest(thread_id)
            if state is None:
                raise NoCheckpointToResumeError(thread_id)
            attempt.loaded_checkpoint_id = state.latest_checkpoint_id
            await attempt.begin(state)
            pending = state.interruption
            if pending is None:
                raise NoInterruptToResumeError(thread_id)
            if pending.id != interrupt_id:
                raise ResumeInterruptMismatchError(
                    expected=pending.id, found=interrupt_id
                )
            typed = convert_resume_payload(self.graph.schema.resume_payload, payload)
            await attempt.emit(RunResumed, interrupt_id=interrupt_id)
            self._publish(thread_id, state)
            if not state.frontier:
                return await self._resume_on_empty_frontier(attempt, state)
            resume = Resume(interrupt_id=interrupt_id, payload=typed, node=pending.node)
            return await attempt.loop(state, resume)
        finally:
            self._turns.release(thread_id)

    async def _resume_on_empty_frontier(
        self, attempt: Attempt, state: ThreadState
    ) -> Outcome:
        """The asking node ended the run: clear the interrupt, save, finish."""
        cleared = state.replace(interruption=None)
        if self._checkpointer is not None:
            saved = await self._checkpointer.save(attempt.thread_id, cleared)
            cleared = cleared.replace(latest_checkpoint_id=saved)
            await attempt.emit(CheckpointSaved, step=state.step, checkpoint_id=saved)
        self._publish(attempt.thread_id, cleared)
        await attempt.emit(RunFinished)
        return attempt.outcome("finished", cleared)

    async def _external_attempt(
        self, attempt: Attempt, writes: Sequence[Write[Any]]
    ) -> Outcome:
        thread_id = attempt.thread_id
        cancelled = await self._wait_turn(attempt)
        if cancelled is not None:
            return cancelled
        try:
            state = await self._baseline(attempt)
            await attempt.begin(state)
            if state.interruption is not None:
                raise WritesWhileInterruptedError(thread_id, state.interruption.id)
            step = state.step
            values, written = apply_input_writes(
                self.graph, state.values, writes, writer=EXTERNAL_WRITER, step=step
            )
            await attempt.emit(StepStarted, step=step, frontier_count=0)
            new = state.replace(values=values, step=step + 1)
            saved = None
            if self._checkpointer is not None:
                saved = await self._checkpointer.save(thread_id, new)
                new = new.replace(latest_checkpoint_id=saved)
            self._publish(thread_id, new)
            await attempt.emit_commit(written, step, new, saved)
            await attempt.emit(RunFinished)
            return attempt.outcome("finished", new)
        finally:
            self._turns.release(thread_id)
