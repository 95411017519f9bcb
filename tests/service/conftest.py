"""Fixtures for the run service: an embedded (SQLite) service in this process, and
a fresh PostgreSQL database per module for the multi-process tests.

DBOS is a process-wide singleton, so one in-process service lives per module. The
Postgres database comes from ``HIVE_TEST_POSTGRES_URL``'s server (skip without it;
fail under ``CI=true``, see ``tests/postgres_support.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("dbos", reason="the `service` extra (dbos) is not installed")

from postgres_support import Database, require_url

from hive_core.service import Service, ServiceConfig

HERE = Path(__file__).parent
WORKER = HERE / "worker_app.py"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[Database]:
    db = Database(require_url())
    yield db
    db.drop()


def start_service(config: ServiceConfig, **register: object) -> Service:
    from .service_graphs import GRAPHS

    svc = Service(config)
    for name, graph in GRAPHS.items():
        svc.register(name, graph, **register)  # type: ignore[arg-type]
    svc.start()
    return svc


def spawn_worker(
    config_env: dict[str, str], executor: str, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    """A worker process (``worker_app.py``); its output goes to ``log``."""
    full = {**os.environ, **config_env, **env, "HIVE_SERVICE_EXECUTOR_ID": executor}
    full["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *sys.path])
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, str(WORKER)], env=full, stdout=out, stderr=out
        )
