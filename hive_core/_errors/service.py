"""The run service's errors (exported from ``hive_core.service``)."""

from __future__ import annotations

from collections.abc import Sequence

from .base import HiveError

__all__ = [
    "ServiceError",
    "ServiceConfigError",
    "UnknownGraphError",
    "RunNotFoundError",
    "RunWaitTimeoutError",
]


class ServiceError(HiveError):
    """The run service (``hive_core.service``) was misused or misconfigured."""

    code = "service-error"


class ServiceConfigError(ServiceError, ValueError):
    """A configuration key of the run service has a value it cannot use.

    ``key`` is the key as written in the file (``retry.max_attempts``) or the file
    path when the file itself cannot be read; ``expected`` says what would do.
    """

    code = "service-config-invalid"

    def __init__(self, key: str, expected: str, got: object) -> None:
        self.key = key
        self.expected = expected
        self.got = repr(got)
        super().__init__(
            f"service configuration `{key}` must be {expected}, got {got!r}\n\n"
            f"Fix: correct `{key}` in the [service] table of the configuration "
            f"file or in HIVE_SERVICE_{key.replace('.', '_').upper()}"
        )


class UnknownGraphError(ServiceError, LookupError):
    """A run names a graph no worker registered under that name."""

    code = "service-unknown-graph"

    def __init__(self, graph: str, known: Sequence[str]) -> None:
        self.graph = graph
        self.known = tuple(known)
        names = ", ".join(f"`{k}`" for k in self.known) or "none"
        super().__init__(
            f"no graph is registered as `{graph}` (registered: {names})\n\n"
            "Fix: call service.register(name, graph) with this name in every worker"
        )


class RunNotFoundError(ServiceError, LookupError):
    """The service has no run with this id (or no run on this thread)."""

    code = "service-run-not-found"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"the service has no run `{run_id}`\n\n"
            "Fix: use an id returned by submit/resume, or list the runs"
        )


class RunWaitTimeoutError(ServiceError, TimeoutError):
    """``result(run_id, timeout=...)`` gave up before the run ended."""

    code = "service-result-timeout"

    def __init__(self, run_id: str, timeout: float, status: str) -> None:
        self.run_id = run_id
        self.timeout = timeout
        self.status = status
        super().__init__(
            f"run `{run_id}` did not end within {timeout} s (status `{status}`)\n\n"
            "Fix: wait longer, or check the workers (client.workers())"
        )
