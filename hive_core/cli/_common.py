"""What every command shares: where state lives, and running a coroutine."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs
import click

from ..service._config import ServiceConfig, load_config

__all__ = ["open_store", "service_config", "state_options", "sync"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def state_options(fn: F) -> F:
    """``--config``, ``--data-dir`` and ``--database-url`` (the service's places)."""
    fn = click.option(
        "--database-url", envvar="HIVE_SERVICE_DATABASE_URL", default=None,
        help="PostgreSQL URL (default: embedded SQLite in --data-dir).",
    )(fn)  # fmt: skip
    fn = click.option(
        "--data-dir", default=None, help="Embedded state directory [.hive-service]."
    )(fn)
    fn = click.option(
        "--config", "config_path", default=None, type=click.Path(dir_okay=False),
        help="A TOML file with a [service] table.",
    )(fn)  # fmt: skip
    return fn


def service_config(
    config_path: str | None, data_dir: str | None, database_url: str | None
) -> ServiceConfig:
    config = load_config(config_path)
    changes: dict[str, Any] = {}
    if data_dir is not None:
        changes["data_dir"] = data_dir
    if database_url is not None:
        changes["database_url"] = database_url
    return attrs.evolve(config, **changes)


def open_store(config: ServiceConfig) -> Any:
    from ..service._client import layout

    return layout(config).checkpoint_store()


def sync(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
