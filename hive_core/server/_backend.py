"""The server's view of Hive: the run service, the checkpoint store, its tables.

Runs go through the service (``hive_core.service``): in this process as an
embedded worker by default, or only as a client of remote workers. Reads decode
checkpoints straight from the shared store; changes that run nothing (external
writes, forks) use a fresh ``Runtime`` per request, so no state is cached here
that a worker could have moved past. See ``docs/http-api.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import (
    AssistantNotFoundError,
    CheckpointNotFoundError,
    ThreadBusyError,
    ThreadExistsError,
    ThreadNotFoundError,
)
from ..events import Event
from ..graph import CompiledGraph
from ..runtime._checkpointing import Checkpointer
from ..service import RunInfo, RunResult, Service, ServiceClient, ServiceConfig
from ..service._client import _event_types, layout
from ..service._db import ServiceDB
from ..state._store import InitialCache
from ._guard import ThreadGuard
from ._ids import check_thread_id
from ._pump import EventPump
from ._records import ServerDB, ThreadRecord
from ._wire import StateView, assistant_id_of

if TYPE_CHECKING:
    from ..observability import PrometheusMetrics
    from ..persistence._format import Checkpoint, CheckpointStore
    from ..runtime import Runtime

__all__ = ["ACTIVE", "Backend"]

ACTIVE = ("queued", "running")
IO_THREADS = 32


def plain(value: Any) -> Any:
    """A channel value as JSON-compatible builtins (what runs report too)."""
    return msgspec.to_builtins(value, enc_hook=repr)


class Backend:
    """Everything a route needs; ``start``/``stop`` from the app's lifespan."""

    def __init__(
        self,
        graphs: Mapping[str, CompiledGraph],
        config: ServiceConfig,
        *,
        worker: bool = True,
        metrics: PrometheusMetrics | None = None,
    ) -> None:
        self.graphs = dict(graphs)
        self.metrics = metrics
        """The embedded worker's metrics (``docs/observability.md``)."""
        self.config = config
        self.worker = worker
        self.started_at = time.time()
        self.service: Service | None = None
        self._client: ServiceClient | None = None
        self._db: ServerDB | None = None
        self._pump: EventPump | None = None
        self._store: CheckpointStore | None = None
        self._readers: dict[str, Checkpointer] = {}
        self._decoder = msgspec.json.Decoder(_event_types())
        self.service_db: ServiceDB | None = None
        self._guard: ThreadGuard | None = None
        self._by_assistant = {assistant_id_of(n): n for n in self.graphs}

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        # Every route and the event pump read and write the databases through
        # ``asyncio.to_thread``; asyncio's default pool has cores + 4 threads (6
        # here), so under 50 clients a state read queued behind other clients'
        # statements (p99 593 ms; 262 ms with 24 threads, the same runs/s). The
        # loop shuts its default executor down when it closes.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(IO_THREADS, thread_name_prefix="hive-server-io")
        )
        if self.worker:
            service = Service(self.config, metrics=self.metrics)
            for name, graph in self.graphs.items():
                service.register(name, graph)
            await asyncio.to_thread(service.start)
            self.service = service
            self._client = service.client
        else:
            self._client = ServiceClient(self.config, graphs=tuple(self.graphs))
        places = layout(self.config)
        service_db = ServiceDB(places.service_url, pool_size=4)
        service_db.create()
        self._db = ServerDB(service_db)
        self.service_db = service_db
        self._guard = ThreadGuard(service_db)
        await self._guard.open()
        self._store = places.checkpoint_store()
        self._readers = {
            name: Checkpointer(g, InitialCache(g.schema), self._store)
            for name, g in self.graphs.items()
        }
        self._pump = EventPump(service_db)
        self._pump.start()

    async def stop(self) -> None:
        if self._pump is not None:
            await self._pump.stop()
        if self.service is not None:
            await asyncio.to_thread(self.service.drain, self.config.drain_deadline_s)
        elif self._client is not None:
            self._client.close()
        if self._guard is not None:
            await self._guard.aclose()
        if self.service_db is not None:
            self.service_db.dispose()  # its pooled connections, closed not leaked
        close = getattr(self._store, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    @property
    def client(self) -> ServiceClient:
        assert self._client is not None, "the backend is not started"
        return self._client

    @property
    def db(self) -> ServerDB:
        assert self._db is not None, "the backend is not started"
        return self._db

    @property
    def guard(self) -> ThreadGuard:
        """Additions to a thread take its lock shared; a check that no run is
        in flight followed by a write takes it exclusively (``_guard.py``)."""
        assert self._guard is not None, "the backend is not started"
        return self._guard

    @property
    def pump(self) -> EventPump:
        assert self._pump is not None, "the backend is not started"
        return self._pump

    @property
    def store(self) -> CheckpointStore:
        assert self._store is not None, "the backend is not started"
        return self._store

    # ----------------------------------------------------------------- graphs

    def graph_name(self, assistant_id: str) -> str:
        """A graph id or an assistant id (uuid5 of the graph id)."""
        if assistant_id in self.graphs:
            return assistant_id
        found = self._by_assistant.get(assistant_id)
        if found is None:
            raise AssistantNotFoundError(assistant_id, sorted(self.graphs))
        return found

    def runtime(self, graph: str) -> Runtime:
        """A fresh Runtime over the shared store (it caches nothing stale)."""
        from ..runtime import Runtime

        return Runtime(self.graphs[graph], checkpoint_store=self.store)

    # ---------------------------------------------------------------- threads

    async def new_thread(
        self, thread_id: str, graph: str | None, metadata: Mapping[str, Any]
    ) -> ThreadRecord | None:
        """Record a new thread; ``None`` if a thread with this id exists.

        An id whose checkpoints outlived its thread record (written by a runtime
        outside the server, or kept by a store without ``delete_thread``) is
        refused with a 409: a new thread must not start from another one's state.
        """
        check_thread_id(thread_id)
        if await self.db.aread(self.db.thread, thread_id) is not None:
            return None
        if await self.store.thread_exists(thread_id):
            raise ThreadExistsError(
                thread_id,
                why="checkpoints remain under this id with no thread record "
                "(written outside the server, or kept by a store without "
                "delete_thread), and a new thread must not start from them"
                "\n\nFix: use a new id",
            )
        return await asyncio.to_thread(self.db.add_thread, thread_id, graph, metadata)

    async def delete_thread(self, thread_id: str) -> None:
        """The thread's checkpoints first (if the store can delete them), then its
        record: a failure in between leaves a record to delete again."""
        delete = getattr(self.store, "delete_thread", None)
        if delete is not None:
            await delete(thread_id)
        await asyncio.to_thread(self.db.delete_thread, thread_id)

    async def thread(self, thread_id: str) -> ThreadRecord:
        record = await self.db.aread(self.db.thread, thread_id)
        if record is None:
            raise ThreadNotFoundError(thread_id)
        return record

    def _view(self, graph: str, cp: Checkpoint, parent: str | None) -> StateView:
        state = self._readers[graph].decode(cp)
        g = self.graphs[graph]
        ids = g.ir.output or g.schema.global_ids
        return StateView(
            thread_id=cp.thread_id,
            checkpoint_id=cp.id,
            run_id=str(state.run_id),
            step=state.step,
            values={
                cid: plain(state.values[cid]) for cid in ids if cid in state.values
            },
            next=tuple(sorted({s.node for s in state.frontier})),
            interrupt=state.interruption,
            parent_id=parent,
        )

    async def view(self, record: ThreadRecord) -> StateView | None:
        """The thread's latest checkpoint, decoded (``None`` before its first)."""
        if record.graph is None:
            return None
        listed = await self.store.list_checkpoints(record.thread_id, 2)
        if not listed:
            return None
        cp = await self.store.load_checkpoint(record.thread_id, listed[0].id)
        if cp is None:
            return None
        parent = listed[1].id if len(listed) > 1 else None
        return self._view(record.graph, cp, parent)

    async def history(
        self, record: ThreadRecord, limit: int, before: str | None
    ) -> list[StateView]:
        """Newest first; ``before`` excludes that checkpoint and newer ones."""
        if record.graph is None:
            if before is not None:
                raise CheckpointNotFoundError(record.thread_id, before)
            return []
        listed = await self.store.list_checkpoints(record.thread_id)
        ids = [s.id for s in listed]
        if before is not None and before not in ids:
            raise CheckpointNotFoundError(record.thread_id, before)
        start = ids.index(before) + 1 if before is not None else 0
        views = []
        for i in range(start, min(len(ids), start + max(limit, 0))):
            cp = await self.store.load_checkpoint(record.thread_id, ids[i])
            if cp is not None:
                parent = ids[i + 1] if i + 1 < len(ids) else None
                views.append(self._view(record.graph, cp, parent))
        return views

    async def view_at(self, record: ThreadRecord, checkpoint_id: str) -> StateView:
        listed = [s.id for s in await self.store.list_checkpoints(record.thread_id)]
        if record.graph is None or checkpoint_id not in listed:
            raise CheckpointNotFoundError(record.thread_id, checkpoint_id)
        cp = await self.store.load_checkpoint(record.thread_id, checkpoint_id)
        if cp is None:
            raise CheckpointNotFoundError(record.thread_id, checkpoint_id)
        i = listed.index(checkpoint_id)
        parent = listed[i + 1] if i + 1 < len(listed) else None
        return self._view(record.graph, cp, parent)

    async def active(self, thread_id: str) -> list[RunInfo]:
        return await self.client.list_runs(status=list(ACTIVE), thread_id=thread_id)

    async def status(self, record: ThreadRecord, view: StateView | None) -> str:
        runs = await self.client.list_runs(thread_id=record.thread_id)
        if any(r.status in ACTIVE for r in runs):
            return "busy"
        if view is not None and view.interrupt is not None:
            return "interrupted"
        if runs and runs[-1].status in ("failed", "timed_out", "out_of_steps"):
            return "error"
        return "idle"

    async def require_idle(self, thread_id: str) -> None:
        active = await self.active(thread_id)
        if active:
            raise ThreadBusyError(thread_id, [r.run_id for r in active])

    async def result(self, run_id: str) -> RunResult:
        return await self.client.result(run_id)

    async def events(self, run_id: str) -> list[Event]:
        """The run's events recorded so far (no waiting)."""
        db = self.service_db
        assert db is not None, "the backend is not started"
        rows: list[tuple[int, bytes]] = []
        while True:
            after = rows[-1][0] if rows else 0
            batch = await asyncio.to_thread(db.read_events, run_id, after)
            if not batch:
                break
            rows += batch
        return [self._decoder.decode(body) for _, body in rows]
