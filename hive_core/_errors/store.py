"""A database server that cannot be reached."""

from __future__ import annotations

from typing import ClassVar

from .base import HiveError

__all__ = ["StoreError", "StoreUnavailableError"]


class StoreError(HiveError):
    """Base for failures of a store's file, server or options (checkpoints and
    memory alike): ``except StoreError`` catches every one, and ``retryable`` says
    whether the same call may succeed if made again later. The subclasses are
    listed in ``docs/persistence.md`` ("Store errors")."""

    code = "store-error"
    retryable: ClassVar[bool] = False
    """Whether the same call may succeed if made again later."""


class StoreUnavailableError(StoreError):
    """A store's database server could not be reached or dropped the connection.

    Nothing was changed that the caller did not see succeed: a save either committed
    before the failure (and a retry rewrites the same checkpoint) or not at all.
    ``retryable`` says so to generic retry loops. ``target`` is
    ``host:port/database``; the password of the URL is never included.
    """

    code = "store-unavailable"
    retryable: ClassVar[bool] = True

    def __init__(self, store: str, *, target: str, operation: str, reason: str) -> None:
        self.store = store
        self.target = target
        self.operation = operation
        self.reason = reason
        super().__init__(
            f"{store} cannot reach {target} during `{operation}`: {reason}\n\n"
            "Fix: check that the server is running and reachable, then retry; "
            "the operation is safe to repeat."
        )
