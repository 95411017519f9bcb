"""The service tables' hot statements as fixed SQL (see ``_db.py``).

Each is parsed and compiled once; an attempt's start and end are one statement
each on PostgreSQL (data-modifying CTEs), and a step's events one insert of
arrays. SQLite runs the same work as short transactions in process.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "ADD_RUN",
    "EVENTS_PG",
    "EVENTS_SQLITE",
    "FINISH_PG",
    "FINISH_SQLITE",
    "HEARTBEAT",
    "RUN",
    "START_ATTEMPT_PG",
    "START_ATTEMPT_SQLITE",
    "START_RUN_SQLITE",
    "WORKERS",
]

_RUN_COLUMNS = (
    "run_id, graph, thread_id, kind, status, priority, workflow_id, spec, "
    "attempts, failures, baseline_set, created_at, updated_at"
)
ADD_RUN = sa.text(
    f"INSERT INTO hive_service_runs ({_RUN_COLUMNS}) VALUES (:run_id, :graph, "
    ":thread_id, :kind, :status, :priority, :workflow_id, :spec, 0, 0, 0, :now, :now) "
    "ON CONFLICT (run_id) DO NOTHING"
)
RUN = sa.text("SELECT * FROM hive_service_runs WHERE run_id = :run")

_START_RUN = """UPDATE hive_service_runs SET attempts = attempts + 1,
    status = 'running', worker_id = :worker, workflow_id = :workflow,
    updated_at = :now,
    baseline = CASE WHEN baseline_set = 0 AND :known THEN :latest ELSE baseline END,
    baseline_set = CASE WHEN :known THEN 1 ELSE baseline_set END
  WHERE run_id = :run RETURNING attempts, baseline, baseline_set"""
_NEW_ATTEMPT = """INSERT INTO hive_service_attempts
    (run_id, n, workflow_id, worker_id, started_at)"""
START_ATTEMPT_PG = sa.text(
    f"WITH r AS ({_START_RUN}), a AS ({_NEW_ATTEMPT} "
    "SELECT :run, attempts, :workflow, :worker, :now FROM r) "
    "SELECT attempts, baseline, baseline_set FROM r"
)
START_RUN_SQLITE = sa.text(_START_RUN)
START_ATTEMPT_SQLITE = sa.text(
    f"{_NEW_ATTEMPT} VALUES (:run, :n, :workflow, :worker, :now)"
)

_END_ATTEMPT = """UPDATE hive_service_attempts SET ended_at = :now,
    result = :status, error = :error WHERE run_id = :run AND n = :n"""
_END_RUN = """UPDATE hive_service_runs SET status = :status, result = :body,
    updated_at = :now WHERE run_id = :run"""
FINISH_PG = sa.text(f"WITH a AS ({_END_ATTEMPT}) {_END_RUN}")
FINISH_SQLITE = (sa.text(_END_ATTEMPT), sa.text(_END_RUN))

_EVENTS = "INSERT INTO hive_service_events (run_id, attempt_id, idx, at, body)"
EVENTS_PG = sa.text(
    f"{_EVENTS} SELECT :run, a, i, :at, b FROM unnest(CAST(:attempts AS VARCHAR[]), "
    "CAST(:idxs AS INTEGER[]), CAST(:bodies AS BYTEA[])) WITH ORDINALITY "
    "AS t(a, i, b, o) ORDER BY o ON CONFLICT DO NOTHING"
)
EVENTS_SQLITE = sa.text(
    f"{_EVENTS} VALUES (:run, :attempt, :idx, :at, :body) ON CONFLICT DO NOTHING"
)

_WORKER_COLUMNS = (
    "worker_id", "host", "pid", "started_at", "heartbeat_at", "capacity",
    "running", "version", "state",
)  # fmt: skip
HEARTBEAT = sa.text(
    f"INSERT INTO hive_service_workers ({', '.join(_WORKER_COLUMNS)}) VALUES "
    f"({', '.join(':' + c for c in _WORKER_COLUMNS)}) ON CONFLICT (worker_id) "
    "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _WORKER_COLUMNS[1:])
)
WORKERS = sa.text("SELECT * FROM hive_service_workers ORDER BY started_at")
