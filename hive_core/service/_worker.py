"""A worker: DBOS launched in this process, the graphs it can run, its heartbeat.

The heartbeat thread keeps this worker's registry row fresh, re-reads a changed
configuration file (queue limits apply at once) and takes over the runs of workers
silent for longer than the lease: ``DBOS.list_workflows`` finds their PENDING
workflows, ``DBOS.resume_workflows`` puts them back on the queue for any live
worker (public DBOS API only). A drain (SIGTERM/SIGINT) stops each running run at
its next step boundary and hands it back the same way. See ``docs/service.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import msgspec
import sqlalchemy as sa

from ..environment import Environment
from ..errors import ServiceConfigError, UnknownGraphError
from ..graph import CompiledGraph
from . import _current
from ._attempt import AttemptSpec, Stop, drive
from ._client import ServiceClient, layout
from ._config import ServiceConfig, load_config
from ._db import ServiceDB

if TYPE_CHECKING:
    from ..observability import MetricsServer, PrometheusMetrics
    from ..persistence._format import CheckpointStore
    from ..runtime import IdSource, Runtime

__all__ = ["Service"]

log = logging.getLogger("hive_core.service")
_LIMIT_KEYS = (
    "global_concurrency",
    "worker_concurrency",
    "lease_s",
    "heartbeat_s",
    "run_timeout_s",
    "drain_deadline_s",
    "retry",
    "polling_interval_s",
)
_FIXED_KEYS = (
    "name", "database_url", "data_dir", "queue", "application_version", "executor_id",
)  # fmt: skip


CANCEL_LISTEN_AFTER_S = 0.2


def _retrieve(task: asyncio.Future[None]) -> None:
    """A cancelled listener may still end with DBOS's error (its workflow has
    ended): read it so that asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


@attrs.frozen
class _Graph:
    graph: CompiledGraph
    environment: Environment | None
    ids: Callable[[], IdSource] | None


class Service:
    """Runs registered graphs for the queue; ``client`` submits and watches runs.

    ``Service(config).register("name", graph)`` then ``start()`` (or ``serve()``,
    which blocks and drains on SIGTERM/SIGINT). One per process: DBOS is a
    process-wide singleton.
    """

    def __init__(
        self,
        config: ServiceConfig | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        metrics: PrometheusMetrics | None = None,
    ) -> None:
        """``metrics`` observes every attempt this worker runs, its queue wait and
        recoveries, and the queue's depth at each heartbeat
        (``docs/observability.md``); ``expose_metrics`` serves them."""
        if config is None:
            config = load_config(config_path)
        self.config = config
        self.config_path = Path(config_path) if config_path is not None else None
        self._mtime = self._config_mtime()
        self.config_generation = 0
        """How many times a changed configuration file was applied."""
        self.config_error: ServiceConfigError | None = None
        """Why the last changed file was refused (the old configuration stays)."""
        self.worker_id = config.executor()
        self._graphs: dict[str, _Graph] = {}
        self._stops: set[Stop] = set()
        self._draining = False
        self._started_at = 0.0
        self._stop_heartbeat = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._queue: Any = None
        self._store: CheckpointStore | None = None
        self._db: ServiceDB | None = None
        self._sys_engine: sa.Engine | None = None
        self._client: ServiceClient | None = None
        self._parked: list[asyncio.Future[None]] = []
        self.metrics = metrics

    # ---------------------------------------------------------------- set-up

    def register(
        self,
        name: str,
        graph: CompiledGraph,
        *,
        environment: Environment | None = None,
        ids: Callable[[], IdSource] | None = None,
    ) -> None:
        """Make ``graph`` runnable under ``name`` (every worker registers the same
        names). ``ids`` builds the id source of each attempt's Runtime (tests
        inject ``SequentialIds``)."""
        self._graphs[name] = _Graph(graph, environment, ids)

    @property
    def client(self) -> ServiceClient:
        if self._client is None:
            self._client = ServiceClient(self.config, graphs=tuple(self._graphs))
        return self._client

    def start(self) -> None:
        """Launch DBOS, declare the queue, register this worker, start beating."""
        from dbos import DBOS, DBOSConfig

        from . import _workflow  # noqa: F401  (registers the workflow with DBOS)
        from ._sysdb import system_engine

        cfg = self.config
        places = layout(cfg)
        self._db = ServiceDB(places.service_url, pool_size=cfg.pool_size)
        self._db.create()
        self._store = places.checkpoint_store()
        _current.install(self)
        config: DBOSConfig = {
            "name": cfg.name,
            "system_database_url": places.system_url,
            "executor_id": self.worker_id,
            "application_version": cfg.application_version,
            "sys_db_pool_size": cfg.pool_size,
            "notification_listener_polling_interval_sec": 0.05,
            "log_level": "WARNING",
        }
        self._sys_engine = system_engine(places.system_url, cfg.pool_size)
        if self._sys_engine is not None:  # embedded: WAL, see _sysdb.py
            config["system_database_engine"] = self._sys_engine
        DBOS(config=config)
        DBOS.launch()
        queue_wide, per_worker = cfg.queue_limits()
        self._queue = DBOS.register_queue(
            cfg.queue,
            global_concurrency=queue_wide,
            worker_concurrency=per_worker,
            partition_concurrency=1,  # one attempt per thread, across all workers
            polling_interval_sec=cfg.polling_interval_s,
            on_conflict="always_update",
        )
        self._started_at = time.time()
        self._beat("alive")
        self._heartbeat_thread = threading.Thread(
            target=self._heartbeat_loop, name="hive-service-heartbeat", daemon=True
        )
        self._heartbeat_thread.start()

    # ------------------------------------------------------------- attempts

    def _runtime(self, name: str) -> Runtime:
        from ..runtime import Runtime

        entry = self._graphs.get(name)
        if entry is None:
            raise UnknownGraphError(name, sorted(self._graphs))
        environment = entry.environment
        if self.metrics is not None:
            from ..observability import combine

            env = environment if environment is not None else Environment()
            observer = combine(env.observer, self.metrics)
            environment = attrs.evolve(env, observer=observer)
        return Runtime(
            entry.graph,
            environment=environment,
            checkpoint_store=self._store,
            ids=entry.ids() if entry.ids is not None else None,
        )

    async def run_attempt(self, spec_json: str, workflow_id: str) -> str:
        """The body of the DBOS workflow (``_workflow.py``)."""
        from dbos import DBOS

        if self._draining:
            await self._park()
        spec = msgspec.json.decode(spec_json, type=AttemptSpec)
        spec = msgspec.structs.replace(spec, workflow_id=workflow_id)
        await self._observe_wait(spec.run_id)
        if spec.kind == "resume":
            payload = await DBOS.recv_async("hive.resume", timeout_seconds=60)
            spec = msgspec.structs.replace(spec, payload=msgspec.json.decode(payload))
        stop = Stop()
        self._stops.add(stop)
        watcher = asyncio.ensure_future(self._watch_cancel(stop))
        assert self._db is not None
        try:
            cfg = self.config
            assert self._store is not None
            body = await drive(
                lambda: self._runtime(spec.graph),
                self._store,
                spec,
                self._db,
                worker_id=self.worker_id,
                stop=stop,
                timeout_s=spec.timeout_s or cfg.run_timeout_s,
                retry=cfg.retry,
            )
        finally:
            watcher.cancel()
            watcher.add_done_callback(_retrieve)
            self._stops.discard(stop)
        if not body and stop.reason == "drain":
            await self._park()
        return body

    async def _observe_wait(self, run_id: str) -> None:
        """A run's first attempt: how long it waited in the queue (read off the
        event loop, which every running attempt of this worker shares)."""
        if self.metrics is None or self._db is None:
            return
        row = await asyncio.to_thread(self._db.run, run_id)
        if row is not None and not row["attempts"]:
            self.metrics.queue_waited(max(time.time() - row["created_at"], 0.0))

    def expose_metrics(
        self, port: int = 0, *, host: str = "127.0.0.1"
    ) -> MetricsServer:
        """Serve this worker's metrics at ``http://host:port/metrics`` (``port=0``
        picks a free one; read ``.port``). A worker built without ``metrics`` gets
        a fresh ``PrometheusMetrics`` that observes the attempts started from now."""
        from ..observability import PrometheusMetrics, start_metrics_server

        if self.metrics is None:
            self.metrics = PrometheusMetrics()

        return start_metrics_server(self.metrics.registry, port, host=host)

    async def _watch_cancel(self, stop: Stop) -> None:
        """Stop the attempt when a cancel message arrives. Listening is a DBOS
        operation with its own writes, so an attempt starts listening only once
        it has run for ``CANCEL_LISTEN_AFTER_S``: a message sent earlier waits in
        DBOS's table and is received then."""
        from dbos import DBOS

        await asyncio.sleep(CANCEL_LISTEN_AFTER_S)
        while True:
            message = await DBOS.recv_async("hive.cancel", timeout_seconds=3600)
            if message is not None:  # "stop": at the next step boundary
                stop.request("cancelled", hard=message != "stop")
                return

    async def _park(self) -> None:
        """Never return: the drain hands this workflow back to the queue."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked.append(fut)
        await fut

    # ------------------------------------------------------------ heartbeat

    def _config_mtime(self) -> tuple[int, int] | None:
        if self.config_path is None:
            return None
        with contextlib.suppress(OSError):
            st = self.config_path.stat()
            return (st.st_mtime_ns, st.st_size)
        return None

    def _beat(self, state: str) -> None:
        assert self._db is not None
        cfg = self.config
        self._db.heartbeat(
            {
                "worker_id": self.worker_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self._started_at,
                "heartbeat_at": time.time(),
                "capacity": cfg.queue_limits()[1],
                "running": len(self._stops),
                "version": cfg.application_version,
                "state": state,
            }
        )

    def _heartbeat_loop(self) -> None:
        while not self._stop_heartbeat.wait(self.config.heartbeat_s):
            try:
                self._beat("draining" if self._draining else "alive")
                if self.metrics is not None and self._db is not None:
                    queued = self._db.list_runs(status=["queued"])
                    self.metrics.queue_depth(len(queued))
                self._reload()
                self._recover()
            except Exception:  # a missed beat is retried at the next one
                log.exception("heartbeat of %s failed", self.worker_id)

    def _reload(self) -> None:
        """Hot-reload at a heartbeat: the file changed since it was last read."""
        mtime = self._config_mtime()
        if mtime is None or mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            self.reload()
        except ServiceConfigError as exc:
            log.warning("%s kept its configuration: %s", self.worker_id, exc)

    def reload(self) -> ServiceConfig:
        """Re-read the configuration file and apply its limits (queue limits,
        lease, heartbeat, timeouts, drain deadline, retry policy) without a
        restart. A bad file raises ``ServiceConfigError`` naming the key, and so
        does a change of a key that needs a restart; either way nothing changes
        and the error stays in ``config_error`` until a good file is read."""
        if self.config_path is None:
            raise ServiceConfigError(
                "config_path", "a file the worker started with", None
            )
        try:
            new = load_config(self.config_path)
            for key in _FIXED_KEYS:
                if getattr(new, key) != getattr(self.config, key):
                    raise ServiceConfigError(
                        key, f"{getattr(self.config, key)!r} until a restart",
                        getattr(new, key),
                    )  # fmt: skip
        except ServiceConfigError as exc:
            self.config_error = exc
            raise
        changes = {k: getattr(new, k) for k in _LIMIT_KEYS}
        self.config = attrs.evolve(self.config, **changes)
        queue = self._queue
        if queue is not None:
            queue_wide, per_worker = self.config.queue_limits()
            queue.set_global_concurrency(queue_wide)
            queue.set_worker_concurrency(per_worker)
        self.config_error = None
        self.config_generation += 1
        log.info("%s reloaded its configuration", self.worker_id)
        return self.config

    def _recover(self) -> None:
        """Take over the runs of workers silent for longer than the lease."""
        assert self._db is not None
        now = time.time()
        for row in self._db.workers():
            if row["worker_id"] == self.worker_id or row["state"] in (
                "dead",
                "stopped",
            ):
                continue
            if now - row["heartbeat_at"] <= self.config.lease_s:
                continue
            if self._db.claim_dead(row["worker_id"], row["heartbeat_at"]):
                self.take_over(row["worker_id"])

    def take_over(self, executor_id: str) -> list[str]:
        """Put ``executor_id``'s unfinished workflows back on the queue."""
        from dbos import DBOS

        found = DBOS.list_workflows(
            status="PENDING",
            executor_id=executor_id,
            queue_name=self.config.queue,
            load_input=False,
            load_output=False,
        )
        ids = [w.workflow_id for w in found]
        if ids and self.metrics is not None:
            self.metrics.recovered(len(ids))
        if ids:
            DBOS.resume_workflows(ids, queue_name=self.config.queue)
            log.warning(
                "%s took over %d runs of %s", self.worker_id, len(ids), executor_id
            )
        return ids

    # ------------------------------------------------------------- shutdown

    def health(self) -> dict[str, Any]:
        """Readiness (launched, not draining) and liveness (beating)."""
        beating = (
            self._heartbeat_thread is not None and self._heartbeat_thread.is_alive()
        )
        return {
            "worker_id": self.worker_id,
            "live": beating,
            "ready": beating and not self._draining,
            "running": len(self._stops),
            "draining": self._draining,
            "config_generation": self.config_generation,
            "config_error": str(self.config_error) if self.config_error else None,
        }

    def drain(self, deadline_s: float | None = None) -> bool:
        """Stop dequeuing, let running steps finish and checkpoint, hand the
        unfinished runs back, shut DBOS down. ``True`` if every run stopped in time."""
        from dbos import DBOS

        deadline = time.monotonic() + (deadline_s or self.config.drain_deadline_s)
        self._draining = True
        with contextlib.suppress(Exception):
            self._beat("draining")
        for stop in list(self._stops):
            stop.request("drain")
        clean = self._wait_idle(deadline - 0.5)
        if not clean:
            for stop in list(self._stops):
                stop.request("drain", hard=True)
            self._wait_idle(deadline)
        self._stop_heartbeat.set()
        DBOS.destroy()
        self._hand_back()
        self.close()
        return clean

    def _wait_idle(self, until: float) -> bool:
        while self._stops and time.monotonic() < until:
            time.sleep(0.01)
        return not self._stops

    def _hand_back(self) -> None:
        """After DBOS stopped dequeuing here: this worker's PENDING workflows go
        back on the queue for the others (a DBOSClient, public API)."""
        from dbos import DBOSClient

        client = DBOSClient(
            system_database_url=layout(self.config).system_url,
            application_name=self.config.name,
            system_database_engine=self._sys_engine,
        )
        try:
            found = client.list_workflows(
                status="PENDING", executor_id=self.worker_id, load_input=False
            )
            ids = [w.workflow_id for w in found]
            if ids:
                client.resume_workflows(ids, queue_name=self.config.queue)
        finally:
            client.destroy()
        if self._db is not None:
            self._db.set_worker_state(self.worker_id, "stopped")

    def shutdown(self) -> None:
        """Stop at once (tests): no drain; unfinished runs stay with this worker."""
        from dbos import DBOS

        self._stop_heartbeat.set()
        if self._heartbeat_thread is not None:
            self._heartbeat_thread.join(timeout=5)
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.set_worker_state(self.worker_id, "stopped")
        DBOS.destroy()
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._db is not None:
            self._db.dispose()
        if self._sys_engine is not None:
            self._sys_engine.dispose()
        _current.uninstall(self)

    def serve(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start, then block until SIGTERM or SIGINT; drain within the deadline. A
        second signal exits at once (recovery then takes the runs over).
        ``on_ready`` is called once the worker serves (a readiness hook)."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            if stop.is_set():
                os._exit(128 + signum)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        if on_ready is not None:
            on_ready()
        while not stop.wait(0.5):
            pass
        return 0 if self.drain() else 1
