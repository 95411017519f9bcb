"""One run attempt inside its DBOS workflow: drive Hive's Runtime, publish events.

The workflow's arguments replay on every recovery, so the run's input is applied
only while the thread still stands at the checkpoint it had when the run first
started (its *baseline*); past it, the attempt continues from the latest checkpoint.
Each superstep is made durable by Hive's checkpoint, not by a DBOS step. A save the
store refuses because another attempt owns the thread now (``CheckpointConflict``)
ends this attempt quietly: it lost ownership (``docs/service.md``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ..events import Event, RunCancelled, RunFinished, RunInterrupted, StepFinished
from ..persistence import CheckpointConflict
from ..run_types import CheckpointPolicy, Outcome, RunOptions, ThreadSnapshot
from ._db import UNKNOWN, Latest, ServiceDB, dumps

if TYPE_CHECKING:
    from ..persistence._format import CheckpointStore
    from ..runtime import RunHandle, Runtime

__all__ = ["AttemptSpec", "Stop", "drive", "latest_checkpoint"]

log = logging.getLogger("hive_core.service")
_encoder = msgspec.json.Encoder()


class Stop:
    """Why the worker stops an attempt early (set before the handle is stopped)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.handle: RunHandle | None = None

    def request(self, reason: str, *, hard: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
        handle = self.handle
        if handle is not None:
            handle.cancel() if hard else handle.request_stop()


class AttemptSpec(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    workflow_id: str
    graph: str
    thread_id: str
    kind: str
    """``start`` or ``resume``; a retry by hand repeats the spec under a new
    workflow id, and the baseline rule decides what is left to do."""
    input: Any = None
    interrupt_id: str | None = None
    payload: Any = None
    timeout_s: float | None = None
    """Overrides the configuration's ``run_timeout_s`` for this run."""


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=repr)


def result_json(status: str, outcome: Outcome | None, error: str | None = None) -> str:
    body: dict[str, Any] = {"status": status, "output": {}, "error": error}
    if outcome is not None:
        body["output"] = _builtins(dict(outcome.output))
        body["checkpoint_id"] = outcome.checkpoint_id
        if outcome.interrupt is not None:
            body["interrupt_id"] = outcome.interrupt.id
            body["interrupt_payload"] = _builtins(outcome.interrupt.payload)
    return dumps(body)


_BOUNDARY = (StepFinished, RunFinished, RunInterrupted, RunCancelled)
FLUSH_S = 0.05
"""Longest an event waits for its step to end before it is written anyway (a slow
step's model tokens stay live)."""


class _Publisher:
    """Copies an attempt's events to the events table while it runs: one insert
    per step (written when the step ends), or after ``FLUSH_S`` for a step still
    running; a batch written while the next accumulates, never out of order."""

    def __init__(self, db: ServiceDB, run_id: str) -> None:
        self.db = db
        self.run_id = run_id
        self.pending: list[Event] = []
        self.ready = asyncio.Event()
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    def add(self, ev: Event) -> None:
        self.pending.append(ev)
        if isinstance(ev, _BOUNDARY):
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.flush()

    async def write(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            batch, self.pending = self.pending, []
            if batch:
                rows = [
                    (self.run_id, ev.attempt_id, ev.index, _encoder.encode(ev))
                    for ev in batch
                ]
                await asyncio.to_thread(self.db.append_events, rows)
            if self.closed and not self.pending:
                return


async def _publish(db: ServiceDB, run_id: str, handle: RunHandle) -> Outcome:
    publisher = _Publisher(db, run_id)
    task = asyncio.ensure_future(publisher.write())
    try:
        async for ev in handle.events:
            publisher.add(ev)
    except BaseException:
        publisher.close()
        await asyncio.shield(task)
        raise
    publisher.close()
    await task
    return await handle.outcome()


def _settled(runtime: Runtime, snap: ThreadSnapshot) -> Outcome | None:
    """A thread that has nothing left to run (the last attempt got that far before
    its worker died): its outcome, without running anything."""
    graph = runtime.graph
    ids = graph.ir.output or graph.schema.global_ids
    output = {cid: snap.store.get(cid) for cid in ids}
    if snap.interrupt is not None:
        return Outcome(
            status="interrupted",
            output=output,
            checkpoint_id=snap.checkpoint_id,
            interrupt=snap.interrupt,
            run_id=snap.run_id,
        )
    if not snap.next_nodes:
        return Outcome(
            status="finished",
            output=output,
            checkpoint_id=snap.checkpoint_id,
            run_id=snap.run_id,
        )
    return None


async def latest_checkpoint(store: CheckpointStore, thread_id: str) -> str | None:
    """The id of the thread's latest checkpoint (one summary, no state loaded)."""
    found = await store.list_checkpoints(thread_id, limit=1)
    return found[0].id if found else None


async def _start(
    runtime: Runtime, spec: AttemptSpec, untouched: bool, options: RunOptions
) -> RunHandle | Outcome:
    if spec.kind == "resume" and untouched:
        assert spec.interrupt_id is not None
        return runtime.resume(spec.thread_id, spec.interrupt_id, spec.payload, options)
    if spec.kind == "start" and untouched:
        return runtime.run(spec.thread_id, spec.input, options)
    snap = await runtime.get_state(spec.thread_id)
    if snap is not None:
        settled = _settled(runtime, snap)
        if settled is not None:
            return settled
    return runtime.run(spec.thread_id, None, options)


async def _one_try(
    runtime: Runtime,
    spec: AttemptSpec,
    db: ServiceDB,
    stop: Stop,
    timeout_s: float | None,
    untouched: bool,
) -> Outcome:
    options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
    started = await _start(runtime, spec, untouched, options)
    if isinstance(started, Outcome):
        return started
    stop.handle = started
    if stop.reason is not None:  # the stop arrived before the handle existed
        started.request_stop()
    timer = None
    if timeout_s is not None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout_s, lambda: stop.request("timed_out", hard=True))
    try:
        return await _publish(db, spec.run_id, started)
    finally:
        stop.handle = None
        if timer is not None:
            timer.cancel()


async def _known_latest(store: CheckpointStore, thread_id: str) -> Latest:
    try:
        return await latest_checkpoint(store, thread_id)
    except Exception:  # the store is down: the first try reads it again, and fails
        return UNKNOWN


async def drive(
    make_runtime: Callable[[], Runtime],
    store: CheckpointStore,
    spec: AttemptSpec,
    db: ServiceDB,
    *,
    worker_id: str,
    stop: Stop,
    timeout_s: float | None,
    retry: Any,
) -> str:
    """Run the attempt (with retries); the result JSON the workflow returns, or
    ``""`` when the attempt must not record anything (handed back, lost).

    Round trips of a clean attempt: the thread's latest checkpoint id, one
    statement that counts the attempt and sets the run's baseline, the run's own
    checkpoint loads and saves, one events insert per step, one statement that
    ends it."""
    latest = await _known_latest(store, spec.thread_id)
    n, baseline = await asyncio.to_thread(
        db.begin_attempt, spec.run_id, spec.workflow_id, worker_id, latest
    )
    while True:
        try:
            if latest is UNKNOWN:
                latest = await latest_checkpoint(store, spec.thread_id)
            if baseline is UNKNOWN:
                baseline = await asyncio.to_thread(db.baseline, spec.run_id, latest)
            untouched = latest == baseline
            latest = UNKNOWN  # a further try reads the thread again
            outcome = await _one_try(
                make_runtime(), spec, db, stop, timeout_s, untouched
            )
        except CheckpointConflict:
            log.warning("run %s: lost ownership of %s", spec.run_id, spec.thread_id)
            await asyncio.to_thread(db.end_attempt, spec.run_id, n, "lost_ownership")
            return ""
        except Exception as exc:
            if stop.reason == "drain":
                await asyncio.to_thread(db.end_attempt, spec.run_id, n, "handed_back")
                return ""
            error = f"{type(exc).__name__}: {exc}"
            failures = await asyncio.to_thread(db.add_failure, spec.run_id, error)
            if failures < retry.max_attempts:
                log.info(
                    "run %s: try %d failed (%s), retrying", spec.run_id, failures, error
                )
                await asyncio.sleep(retry.delay(failures))
                continue
            body = result_json("failed", None, error)
            await _finish(db, spec.run_id, n, "failed", body, error)
            return body
        status: str = outcome.status
        if status == "cancelled" and stop.reason == "drain":
            await asyncio.to_thread(db.end_attempt, spec.run_id, n, "handed_back")
            return ""
        if status == "cancelled" and stop.reason == "timed_out":
            status = "timed_out"
        body = result_json(status, outcome)
        await _finish(db, spec.run_id, n, status, body, None)
        return body


async def _finish(
    db: ServiceDB, run_id: str, n: int, status: str, body: str, error: str | None
) -> None:
    await asyncio.to_thread(db.finish_attempt, run_id, n, status, body, error)
