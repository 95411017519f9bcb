"""PostgreSQL for the tests: one place decides whether Postgres tests run.

``scripts/with-postgres CMD`` (used by ``.ci/run`` and ``nox -s postgres``) starts a
throwaway cluster and exports ``HIVE_TEST_POSTGRES_URL``. Without it the Postgres
tests skip on a laptop, but under ``CI=true`` a missing URL **fails** them: CI must
never pass by skipping its Postgres cases.

Every user of a database gets a schema of its own (``isolated_url``), dropped
afterwards, so tests never see each other's tables. Crash tests that restart the
server start a cluster of their own (``OwnCluster``), with ``fsync`` on.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = [
    "Database",
    "OwnCluster",
    "Schema",
    "own_cluster",
    "postgres_schema",
    "postgres_url",
    "require_url",
]

T = TypeVar("T")
URL_VARIABLE = "HIVE_TEST_POSTGRES_URL"


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {what}: run the tests under scripts/with-postgres")
    pytest.skip(f"{what} (run under scripts/with-postgres)")


def require_url() -> str:
    """The server URL, or skip (fail under ``CI=true``) without one or psycopg."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        _missing(f"{URL_VARIABLE} is not set")
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        _missing("psycopg / psycopg_pool are not installed (the `postgres` extra)")
    assert url is not None
    return url


class Schema:
    """A fresh schema on the test server and a URL whose search_path is it."""

    def __init__(self, base_url: str) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        self.name = f"hive_test_{uuid.uuid4().hex[:12]}"
        self.base_url = base_url
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = make_conninfo(base_url, options=f"-c search_path={self.name}")

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run one statement behind the stores' backs; its rows if any."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


class Database:
    """A database of its own on the test server (DBOS's tables and Hive's);
    ``settings`` become its defaults (``ALTER DATABASE ... SET``)."""

    def __init__(
        self, server_url: str, settings: Mapping[str, str] | None = None
    ) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        self.name = f"hive_svc_{uuid.uuid4().hex[:10]}"
        self.server_url = server_url
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
            for key, value in (settings or {}).items():
                conn.execute(f"ALTER DATABASE \"{self.name}\" SET {key} = '{value}'")
        parts = conninfo_to_dict(server_url)
        parts["dbname"] = self.name
        self.url = "postgresql://{user}@{host}:{port}/{dbname}".format(**parts)
        assert make_conninfo(self.url)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Runner:
    """One event loop kept for a test, so a store's pool lives across calls."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_url()


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[Schema]:
    schema = Schema(postgres_url)
    yield schema
    schema.drop()


def _pg_bin() -> str | None:
    found = os.environ.get("HIVE_TEST_PGBIN")
    if found and Path(found, "initdb").exists():
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return str(Path(candidates[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnCluster:
    """A private cluster (fsync on) that a test may stop, restart or crash."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="hive-pg-test."))
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.dir / "data"), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-instructions")  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [str(Path(self.bindir, tool)), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-l",
                 str(self.dir / "server.log"), "-w", "-t", "30", "-o", options,
                 *extra, action)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self, mode: str = "immediate") -> None:
        """``immediate`` is a crash of the server: no shutdown checkpoint."""
        self._ctl("restart", "-m", mode)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    require_url()  # same skip / fail rule as every Postgres test
    bindir = _pg_bin()
    if bindir is None:
        _missing("no PostgreSQL binaries (initdb) are installed")
    assert bindir is not None
    cluster = OwnCluster(bindir)
    yield cluster
    cluster.remove()
