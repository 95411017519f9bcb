"""The service's configuration: a TOML file, then ``HIVE_SERVICE_*`` variables.

Every key is validated on load; a bad one raises ``ServiceConfigError`` naming the
key, what it expects and what it got. Limits (queue concurrency, lease, timeouts,
retry policy) may be changed in the file while workers run: each worker re-reads
the file when it changes (see ``docs/service.md``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import ServiceConfigError

__all__ = ["RetryPolicy", "ServiceConfig", "load_config"]

ENV_PREFIX = "HIVE_SERVICE_"


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often a failed attempt is tried again, and how long to wait between."""

    max_attempts: int = 3
    """Tries in all (the first included) before the run is dead-lettered."""
    backoff_s: float = 0.5
    multiplier: float = 2.0
    max_backoff_s: float = 30.0

    def delay(self, failures: int) -> float:
        """The wait before the try that follows ``failures`` failed ones."""
        return min(
            self.max_backoff_s, self.backoff_s * self.multiplier ** (failures - 1)
        )


@attrs.frozen(kw_only=True)
class ServiceConfig:
    """Where the service keeps its state and how hard it may work.

    With no ``database_url`` the service is embedded: DBOS's SQLite system
    database, the SQLite checkpoint store and the service tables live in
    ``data_dir``, for one process. With a PostgreSQL URL, any number of worker
    processes on any number of machines share the queue.
    """

    name: str = "hive"
    """DBOS application name: 3-64 characters of ``[a-z0-9_-]``."""
    database_url: str | None = None
    """PostgreSQL URL for checkpoints, the service tables and DBOS's system
    tables (schema ``dbos``); ``None``: embedded SQLite in ``data_dir``."""
    data_dir: str = ".hive-service"
    queue: str = "hive_runs"
    global_concurrency: int | None = 4
    worker_concurrency: int | None = None
    """Runs one worker may hold at once; ``None``: the global limit."""
    polling_interval_s: float = 0.05
    heartbeat_s: float = 1.0
    lease_s: float = 5.0
    """A worker silent for longer has its in-flight runs taken over."""
    run_timeout_s: float | None = None
    """Per attempt; past it the run ends ``timed_out`` (resumable)."""
    drain_deadline_s: float = 30.0
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    executor_id: str | None = None
    """This worker's DBOS executor id; default ``<host>-<pid>``. A worker restarted
    with the same id recovers its own runs at once."""
    application_version: str = "1"
    """Shared by every worker of a deployment (DBOS only recovers and dequeues runs
    of its own version); change it deliberately, never per build."""
    pool_size: int = 10

    def queue_limits(self) -> tuple[int | None, int | None]:
        """The DBOS queue's (queue-wide, per-worker) limits.

        Embedded, the service is one process: its worker's limit is the
        queue-wide one, and the queue gets no queue-wide limit of its own, so
        that DBOS claims the runs of many threads in one statement instead of
        one transaction per thread (``docs/service.md``, "Benchmark")."""
        worker = self.worker_concurrency or self.global_concurrency
        if self.database_url is None:
            return None, worker
        return self.global_concurrency, worker

    def executor(self) -> str:
        if self.executor_id:
            return self.executor_id
        return f"{os.uname().nodename}-{os.getpid()}"


def _positive_int(key: str, value: object, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServiceConfigError(key, "an integer >= 1", value)
    return value


def _positive_float(key: str, value: object, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ServiceConfigError(key, "a number > 0", value) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ServiceConfigError(key, "a number > 0", value)
    return float(value)


def _text(key: str, value: object, allow_none: bool) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise ServiceConfigError(key, "a non-empty string", value)
    return value


def _app_name(key: str, value: object, allow_none: bool) -> str | None:
    text = _text(key, value, allow_none)
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
    if text is None or not 3 <= len(text) <= 64 or not set(text) <= allowed:
        raise ServiceConfigError(key, "3-64 characters of [a-z0-9_-]", value)
    return text


Check = Callable[[str, object, bool], Any]
_KEYS: dict[str, tuple[Check, bool]] = {
    "name": (_app_name, False),
    "database_url": (_text, True),
    "data_dir": (_text, False),
    "queue": (_text, False),
    "global_concurrency": (_positive_int, True),
    "worker_concurrency": (_positive_int, True),
    "polling_interval_s": (_positive_float, False),
    "heartbeat_s": (_positive_float, False),
    "lease_s": (_positive_float, False),
    "run_timeout_s": (_positive_float, True),
    "drain_deadline_s": (_positive_float, False),
    "executor_id": (_text, True),
    "application_version": (_text, False),
    "pool_size": (_positive_int, False),
}
_RETRY_KEYS: dict[str, Check] = {
    "max_attempts": lambda k, v, _n: _positive_int(k, v, False),
    "backoff_s": lambda k, v, _n: _positive_float(k, v, False),
    "multiplier": lambda k, v, _n: _positive_float(k, v, False),
    "max_backoff_s": lambda k, v, _n: _positive_float(k, v, False),
}


def _none_word(value: object) -> object:
    return None if isinstance(value, str) and value.lower() in ("", "none") else value


def _validate(raw: Mapping[str, object]) -> ServiceConfig:
    fields: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith("retry."):
            sub = key.removeprefix("retry.")
            if sub not in _RETRY_KEYS:
                raise ServiceConfigError(key, "a known key", value)
            retry[sub] = _RETRY_KEYS[sub](key, value, False)
            continue
        if key not in _KEYS:
            raise ServiceConfigError(key, "a known key", value)
        check, allow_none = _KEYS[key]
        fields[key] = check(key, _none_word(value) if allow_none else value, allow_none)
    return ServiceConfig(**fields, retry=RetryPolicy(**retry))


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ServiceConfig:
    """Read ``path`` (TOML; its ``[service]`` table, ``[service.retry]`` within),
    then let ``HIVE_SERVICE_<KEY>`` variables override it (``HIVE_SERVICE_RETRY_
    MAX_ATTEMPTS`` for ``retry.max_attempts``). Raises ``ServiceConfigError``."""
    raw: dict[str, object] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ServiceConfigError(
                os.fspath(path), "a readable TOML file", exc
            ) from exc
        table = data.get("service", {})
        if not isinstance(table, Mapping):
            raise ServiceConfigError("service", "a table", table)
        raw.update(_flatten(table))
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name.removeprefix(ENV_PREFIX).lower()
        if key.startswith("retry_"):
            key = "retry." + key.removeprefix("retry_")
        raw[key] = value
    return _validate(raw)
