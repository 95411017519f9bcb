"""Hot-reloaded configuration on a real (embedded) DBOS: a worker started from a
file applies a changed limit without a restart, and refuses a bad edit with a
typed error naming the key while the old limit stays in force.

Ordering is by barriers (a node waits while a file exists and writes a
``.reached`` file), the worker's reload counter and run status, never sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hive_core.service import Service, ServiceConfigError

from .service_graphs import GRAPHS

WAIT = 60.0


def until(check: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class ConfigFile:
    def __init__(self, path: Path, data_dir: Path) -> None:
        self.path = path
        self.data_dir = data_dir

    def write(self, **keys: object) -> None:
        lines = [
            "[service]",
            'executor_id = "reload-worker"',
            f'data_dir = "{self.data_dir}"',
            "heartbeat_s = 0.05",
            "polling_interval_s = 0.02",
        ]
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in keys.items()]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.path)  # one edit, seen whole


@pytest.fixture
def hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    gate = tmp_path / "hold"
    gate.write_text("")
    monkeypatch.setenv("HIVE_TEST_HOLD", str(gate))
    monkeypatch.setenv("HIVE_TEST_HOLD_STEP", "0")
    yield gate
    gate.unlink(missing_ok=True)


def test_a_changed_limit_applies_at_once_and_a_bad_edit_is_refused(
    tmp_path: Path, hold: Path
) -> None:
    config = ConfigFile(tmp_path / "service.toml", tmp_path / "data")
    config.write(global_concurrency=1)
    service = Service(config_path=config.path)
    for name, graph in GRAPHS.items():
        service.register(name, graph)
    service.start()
    client = service.client

    def reached(thread: str) -> bool:
        return Path(f"{hold}.{thread}.reached").exists()

    try:
        a = client.submit_sync("counter", "reload-a", {"target": 2})
        until(lambda: reached("reload-a"), "run a at its barrier")
        b = client.submit_sync("counter", "reload-b", {"target": 2})
        # a holds the only slot, so b cannot have started
        assert client.status_sync(b).status == "queued" and not reached("reload-b")

        config.write(global_concurrency=2)
        until(lambda: service.config_generation == 1, "the reload")
        assert service.config.global_concurrency == 2
        until(lambda: reached("reload-b"), "run b starting while a still runs")
        assert client.status_sync(a).status == "running"

        config.write(global_concurrency=0)  # invalid: refused, 2 stays
        until(lambda: service.config_error is not None, "the refusal")
        refused = service.config_error
        assert isinstance(refused, ServiceConfigError)
        assert refused.key == "global_concurrency" and refused.got == "0"
        assert service.config.global_concurrency == 2
        assert service.config_generation == 1
        assert "global_concurrency" in (service.health()["config_error"] or "")
        c = client.submit_sync("counter", "reload-c", {"target": 2})
        assert client.status_sync(c).status == "queued" and not reached("reload-c")

        config.write(global_concurrency=3, queue="elsewhere")  # needs a restart
        until(
            lambda: (
                service.config_error is not None and service.config_error.key == "queue"
            ),
            "the refusal of a queue change",
        )
        assert service.config.queue == "hive_runs"
        assert service.config_generation == 1

        config.write(global_concurrency=3)
        until(lambda: service.config_generation == 2, "the second reload")
        assert service.config_error is None
        until(lambda: reached("reload-c"), "run c starting beside a and b")
        assert {client.status_sync(r).status for r in (a, b)} == {"running"}

        hold.unlink()
        for run_id in (a, b, c):
            assert client.result_sync(run_id, timeout=WAIT).output["seen"] == [1, 2]
    finally:
        service.shutdown()


def test_reload_without_a_file_is_a_typed_error(tmp_path: Path) -> None:
    from hive_core.service import ServiceConfig

    service = Service(ServiceConfig(data_dir=str(tmp_path)))
    with pytest.raises(ServiceConfigError) as err:
        service.reload()
    assert err.value.key == "config_path"


def test_embedded_queue_has_only_the_worker_limit() -> None:
    """One process embedded: its worker's limit is the queue-wide one, so the
    DBOS queue gets no queue-wide limit (DBOS then claims many threads' runs in
    one statement); on PostgreSQL the queue-wide limit stays."""
    from hive_core.service import ServiceConfig

    assert ServiceConfig(global_concurrency=3).queue_limits() == (None, 3)
    embedded = ServiceConfig(global_concurrency=3, worker_concurrency=2)
    assert embedded.queue_limits() == (None, 2)
    url = "postgresql://hive@db.internal/hive"
    assert ServiceConfig(database_url=url).queue_limits() == (4, 4)
    shared = ServiceConfig(database_url=url, global_concurrency=6, worker_concurrency=2)
    assert shared.queue_limits() == (6, 2)
