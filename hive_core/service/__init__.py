"""The run service: a durable run queue on DBOS with workers on many processes.

``Service`` is a worker (DBOS launched in this process, graphs registered by name);
``ServiceClient`` submits, resumes, cancels and watches runs from any process.
Install the ``service`` extra; DBOS is imported only when a worker or a client
needs it. See ``docs/service.md``.
"""

from __future__ import annotations

from .._exports import public
from ..errors import (
    RunNotFoundError,
    RunWaitTimeoutError,
    ServiceConfigError,
    ServiceError,
    UnknownGraphError,
)
from ._client import ServiceClient
from ._config import RetryPolicy, ServiceConfig, load_config
from ._types import AttemptInfo, RunInfo, RunResult, RunStatus, WorkerInfo
from ._worker import Service

__all__ = [
    "Service",
    "ServiceClient",
    "ServiceConfig",
    "RetryPolicy",
    "load_config",
    "RunInfo",
    "RunResult",
    "RunStatus",
    "AttemptInfo",
    "WorkerInfo",
    "ServiceError",
    "ServiceConfigError",
    "UnknownGraphError",
    "RunNotFoundError",
    "RunWaitTimeoutError",
]

public(__name__, __all__, globals())
