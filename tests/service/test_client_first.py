"""A client that reaches a fresh system database before any worker has started.

``hive serve --no-worker`` is such a client: its first run used to fail with a raw
``no such table: main.workflow_status`` from SQLite (and its PostgreSQL twin),
because DBOS creates its tables only when a DBOS application launches. The client
now runs DBOS's own migration first; the queued run waits for a worker, which
then finishes it. Real worker processes, on an embedded data directory and on a
database of its own on the CI PostgreSQL.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from hive_core.service import ServiceClient, ServiceConfig

from .conftest import spawn_worker

WAIT = 90.0


def _until_file(path: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.01)


def _client_then_worker(config: ServiceConfig, env: dict[str, str], tmp: Path) -> None:
    client = ServiceClient(config)
    try:
        run_id = client.submit_sync("counter", "first", {"target": 3})
        assert client.status_sync(run_id).status == "queued"
        ready = tmp / "ready"
        ready.mkdir()
        worker = spawn_worker(
            {**env, "HIVE_SERVICE_POLLING_INTERVAL_S": "0.02",
             "HIVE_TEST_READY": str(ready)},
            "late", tmp / "late.log",
        )  # fmt: skip
        try:
            _until_file(ready / "late")
            result = client.result_sync(run_id, timeout=WAIT)
            assert result.output["seen"] == [1, 2, 3]
            assert client.status_sync(run_id).worker_id == "late"
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, (tmp / "late.log").read_text()
    finally:
        client.close()


def test_a_client_first_on_a_fresh_embedded_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _client_then_worker(
        ServiceConfig(data_dir=str(data)),
        {"HIVE_SERVICE_DATA_DIR": str(data)},
        tmp_path,
    )


def test_a_client_first_on_a_fresh_postgres_database(tmp_path: Path) -> None:
    from postgres_support import Database, require_url

    db = Database(require_url())
    try:
        _client_then_worker(
            ServiceConfig(database_url=db.url),
            {"HIVE_SERVICE_DATABASE_URL": db.url},
            tmp_path,
        )
    finally:
        db.drop()
