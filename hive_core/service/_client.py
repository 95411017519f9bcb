"""The client: submit, resume, cancel and watch runs from any process.

It needs no launched DBOS: enqueues, messages and workflow control go through a
``DBOSClient`` on the shared system database, run state and events through the
service tables. Every coroutine has a ``*_sync`` twin through the one sync bridge.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import msgspec

from .._bridge import run_sync
from ..errors import RunNotFoundError, RunWaitTimeoutError, UnknownGraphError
from ..events import Event
from ._attempt import AttemptSpec
from ._config import ServiceConfig
from ._db import TERMINAL, ServiceDB
from ._types import AttemptInfo, RunInfo, RunResult, WorkerInfo

if TYPE_CHECKING:
    from ..persistence._format import CheckpointStore

__all__ = ["ServiceClient", "layout"]

T = TypeVar("T")
WORKFLOW_NAME = "hive_attempt"
_POLL_S = 0.01


def _event_types() -> Any:
    seen: list[type[Event]] = []
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    union: Any = seen[0]
    for cls in seen[1:]:
        union = union | cls
    return union


@attrs.frozen
class Layout:
    """Where the service's three kinds of state live for one configuration."""

    system_url: str
    service_url: str
    checkpoint_url: str
    embedded: bool

    def checkpoint_store(self) -> CheckpointStore:
        if self.embedded:
            from ..persistence import SQLiteCheckpointStore

            return SQLiteCheckpointStore(self.checkpoint_url)
        from ..persistence._postgres import PostgresCheckpointStore

        return PostgresCheckpointStore(self.checkpoint_url)


def layout(config: ServiceConfig) -> Layout:
    """Embedded: three SQLite files in ``data_dir``; else one PostgreSQL database
    (DBOS keeps its tables in schema ``dbos``)."""
    if config.database_url is None:
        root = Path(config.data_dir).absolute()
        root.mkdir(parents=True, exist_ok=True)
        return Layout(
            system_url=f"sqlite:///{root / 'dbos.sqlite'}",
            service_url=f"sqlite:///{root / 'service.sqlite'}",
            checkpoint_url=str(root / "checkpoints.sqlite"),
            embedded=True,
        )
    url = config.database_url
    return Layout(system_url=url, service_url=url, checkpoint_url=url, embedded=False)


class ServiceClient:
    """Submit and watch runs; works in any process that reaches the databases."""

    def __init__(
        self, config: ServiceConfig, *, graphs: Sequence[str] | None = None
    ) -> None:
        self.config = config
        places = layout(config)
        self._system_url = places.system_url
        self._db = ServiceDB(places.service_url, pool_size=2)
        self._db.create()
        self._graphs = tuple(graphs) if graphs is not None else None
        self._dbos: Any = None
        self._sys_engine: Any = None
        self._decoder = msgspec.json.Decoder(_event_types())

    def _control(self) -> Any:
        if self._dbos is None:
            from dbos import DBOS, DBOSClient

            from ._sysdb import system_engine

            # A client may be the first to reach the system database (`hive serve
            # --no-worker` before any `hive worker` has started); DBOSClient
            # expects DBOS's tables to exist, so create them here. The migration
            # is DBOS's own, idempotent and safe beside a worker's launch (it
            # serialises concurrent migrators); see docs/service.md.
            DBOS.migrate(self._system_url)
            self._sys_engine = system_engine(self._system_url, 2)
            self._dbos = DBOSClient(
                system_database_url=self._system_url,
                application_name=self.config.name,
                system_database_pool_size=2,
                system_database_engine=self._sys_engine,
            )
        return self._dbos

    def close(self) -> None:
        if self._dbos is not None:
            self._dbos.destroy()
            self._dbos = None
        if self._sys_engine is not None:
            self._sys_engine.dispose()
            self._sys_engine = None
        self._db.dispose()

    # ------------------------------------------------------------- enqueue

    def _enqueue(self, spec: AttemptSpec, priority: int | None) -> None:
        options: dict[str, Any] = {
            "queue_name": self.config.queue,
            "workflow_name": WORKFLOW_NAME,
            "workflow_id": spec.workflow_id,
            "app_version": self.config.application_version,
            "queue_partition_key": spec.thread_id,
        }
        if priority is not None:
            options["priority"] = priority
        self._control().enqueue(options, msgspec.json.encode(spec).decode())

    def _new(self, spec: AttemptSpec, priority: int | None) -> str:
        if self._graphs is not None and spec.graph not in self._graphs:
            raise UnknownGraphError(spec.graph, self._graphs)
        self._db.add_run(
            {
                "run_id": spec.run_id,
                "graph": spec.graph,
                "thread_id": spec.thread_id,
                "kind": spec.kind,
                "status": "queued",
                "priority": priority,
                "workflow_id": spec.workflow_id,
                "spec": msgspec.json.encode(spec).decode(),
            }
        )
        # the same workflow id again attaches to the existing one: runs once
        self._enqueue(spec, priority)
        return spec.run_id

    async def submit(
        self,
        graph: str,
        thread_id: str,
        input: object = None,
        *,
        request_id: str | None = None,
        priority: int | None = None,
        timeout_s: float | None = None,
        stream_modes: Sequence[str] = (),
    ) -> str:
        """Queue a run of ``graph`` on ``thread_id``; its run id. The same
        ``request_id`` submitted twice runs once. ``priority``: 1 is served first.
        ``timeout_s`` (per attempt) overrides the configuration's. ``input`` must
        be JSON-compatible. ``stream_modes``: the modes whose data the recorded
        events must carry (``RunOptions.stream_modes``)."""
        run_id = request_id or uuid.uuid4().hex
        spec = AttemptSpec(
            run_id=run_id, workflow_id=run_id, graph=graph, thread_id=thread_id,
            kind="start", input=input, timeout_s=timeout_s,
            stream_modes=tuple(stream_modes),
        )  # fmt: skip
        return await asyncio.to_thread(self._new, spec, priority)

    async def resume(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        *,
        request_id: str | None = None,
        priority: int | None = None,
        graph: str | None = None,
        stream_modes: Sequence[str] = (),
    ) -> str:
        """Answer the thread's pending interrupt: a new run attempt; the payload
        reaches its workflow through DBOS messaging. ``graph`` names the thread's
        graph when the service never ran the thread (a fork made outside it);
        otherwise the thread's last run tells."""
        if graph is None:
            rows = await asyncio.to_thread(self._db.list_runs, thread_id=thread_id)
            if not rows:
                raise RunNotFoundError(f"(thread {thread_id})")
            graph = rows[-1]["graph"]
        run_id = request_id or uuid.uuid4().hex
        spec = AttemptSpec(
            run_id=run_id, workflow_id=run_id, graph=graph,
            thread_id=thread_id, kind="resume", interrupt_id=interrupt_id,
            stream_modes=tuple(stream_modes),
        )  # fmt: skip

        def go() -> str:
            new = self._db.run(run_id) is None
            self._new(spec, priority)
            if new:
                body = msgspec.json.encode(payload).decode()
                self._control().send(run_id, body, topic="hive.resume")
            return run_id

        return await asyncio.to_thread(go)

    async def retry(self, run_id: str) -> str:
        """Run a failed, timed-out or cancelled run again from its thread's last
        checkpoint (its input is applied only if it never got past the start)."""

        def go() -> str:
            row = self._require(run_id)
            first = msgspec.json.decode(row["spec"], type=AttemptSpec)
            workflow_id = f"{run_id}.{row['attempts'] + 1}"
            spec = msgspec.structs.replace(first, workflow_id=workflow_id)
            self._db.update_run(
                run_id, status="queued", failures=0, workflow_id=workflow_id
            )
            self._enqueue(spec, row["priority"])
            return run_id

        return await asyncio.to_thread(go)

    async def cancel(self, run_id: str, *, at_step_boundary: bool = False) -> None:
        """Queued: dropped from the queue. Running: stopped through DBOS
        messaging; nothing of the step in flight is committed, or, with
        ``at_step_boundary``, the step in flight finishes and commits first."""

        def go() -> None:
            row = self._require(run_id)
            if row["status"] in TERMINAL:
                return
            control = self._control()
            if row["status"] == "queued":
                control.cancel_workflow(row["workflow_id"])
                body = '{"status": "cancelled", "output": {}, "error": null}'
                self._db.update_run(run_id, status="cancelled", result=body)
                return
            message = "stop" if at_step_boundary else "cancel"
            control.send(row["workflow_id"], message, topic="hive.cancel")

        await asyncio.to_thread(go)

    # --------------------------------------------------------------- watch

    def _require(self, run_id: str) -> dict[str, Any]:
        row = self._db.run(run_id)
        if row is None:
            raise RunNotFoundError(run_id)
        return row

    async def status(self, run_id: str) -> RunInfo:
        return RunInfo.from_row(await self._db.aread(self._require, run_id))

    async def result(self, run_id: str, timeout: float | None = None) -> RunResult:
        """Wait until the run ends; ``RunWaitTimeoutError`` after ``timeout``."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            row = await asyncio.to_thread(self._require, run_id)
            if row["status"] in TERMINAL:
                return RunResult.from_json(run_id, row["result"])
            if until is not None and time.monotonic() > until:
                raise RunWaitTimeoutError(run_id, timeout or 0.0, row["status"])
            await asyncio.sleep(_POLL_S)

    async def events(self, run_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        """Every event of the run, from the start (or after position ``after``),
        live while it runs; ends when the run has ended and all are read."""
        position = after
        while True:
            row = await asyncio.to_thread(self._require, run_id)
            batch = await asyncio.to_thread(self._db.read_events, run_id, position)
            for seq, body in batch:
                position = seq
                yield self._decoder.decode(body)
            if not batch and row["status"] in TERMINAL:
                return
            if not batch:
                await asyncio.sleep(_POLL_S)

    async def events_so_far(self, run_id: str, *, after: int = 0) -> list[Event]:
        """The run's events stored now (after position ``after``), without waiting
        for more: what a live view polls (``docs/observability.md``)."""
        await asyncio.to_thread(self._require, run_id)
        out: list[Event] = []
        position = after
        while True:
            batch = await asyncio.to_thread(self._db.read_events, run_id, position)
            out += [self._decoder.decode(body) for _, body in batch]
            if not batch:
                return out
            position = batch[-1][0]

    async def list_runs(
        self, *, status: Sequence[str] | None = None, thread_id: str | None = None
    ) -> list[RunInfo]:
        rows = await asyncio.to_thread(  # may be many rows: off the loop
            self._db.list_runs, status=status, thread_id=thread_id
        )
        return [RunInfo.from_row(r) for r in rows]

    async def dead_letters(self) -> list[RunInfo]:
        """Runs that exhausted their retries (``failed``), with their last error."""
        return await self.list_runs(status=["failed"])

    async def attempts(self, run_id: str) -> list[AttemptInfo]:
        rows = await asyncio.to_thread(self._db.attempts, run_id)
        return [
            AttemptInfo(**{k: v for k, v in r.items() if k != "run_id"}) for r in rows
        ]

    async def workers(self) -> list[WorkerInfo]:
        """The registry; a worker silent for longer than the lease is shown
        ``dead`` (not alive) even before another worker takes its runs over."""
        rows = await asyncio.to_thread(self._db.workers)
        now = time.time()
        lease = self.config.lease_s
        found = []
        for r in rows:
            alive = r["state"] in ("alive", "draining")
            if alive and now - r["heartbeat_at"] > lease:  # silent: shown dead
                alive = False
                r = {**r, "state": "dead"}
            found.append(WorkerInfo(**r, alive=alive))
        return found

    # ----------------------------------------------------------- sync twins

    def _sync(self, name: str, coro: Coroutine[Any, Any, T]) -> T:
        return run_sync(
            coro, name=f"ServiceClient.{name}_sync", instead=f"await client.{name}(...)"
        )

    def submit_sync(
        self,
        graph: str,
        thread_id: str,
        input: object = None,
        *,
        request_id: str | None = None,
        priority: int | None = None,
        timeout_s: float | None = None,
    ) -> str:
        coro = self.submit(
            graph, thread_id, input, request_id=request_id, priority=priority,
            timeout_s=timeout_s,
        )  # fmt: skip
        return self._sync("submit", coro)

    def resume_sync(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        *,
        request_id: str | None = None,
    ) -> str:
        coro = self.resume(thread_id, interrupt_id, payload, request_id=request_id)
        return self._sync("resume", coro)

    def retry_sync(self, run_id: str) -> str:
        return self._sync("retry", self.retry(run_id))

    def cancel_sync(self, run_id: str) -> None:
        self._sync("cancel", self.cancel(run_id))

    def status_sync(self, run_id: str) -> RunInfo:
        return self._sync("status", self.status(run_id))

    def result_sync(self, run_id: str, timeout: float | None = None) -> RunResult:
        return self._sync("result", self.result(run_id, timeout))

    def list_runs_sync(
        self, *, status: Sequence[str] | None = None, thread_id: str | None = None
    ) -> list[RunInfo]:
        return self._sync(
            "list_runs", self.list_runs(status=status, thread_id=thread_id)
        )

    def dead_letters_sync(self) -> list[RunInfo]:
        return self._sync("dead_letters", self.dead_letters())

    def attempts_sync(self, run_id: str) -> list[AttemptInfo]:
        return self._sync("attempts", self.attempts(run_id))

    def workers_sync(self) -> list[WorkerInfo]:
        return self._sync("workers", self.workers())
