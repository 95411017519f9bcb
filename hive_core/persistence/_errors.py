"""The errors every store raises about its file, its connection and its arguments.

```
HiveError
├── StoreError                             a store's file, server or options
│   ├── StoreUnavailableError (retryable)  a database server cannot be reached
│   ├── StoreClosedError                   the store was used after close()
│   ├── StoreBusyError (retryable)         another writer held the lock too long
│   ├── StoreDamagedError                  the file is damaged, not SQLite, or altered
│   ├── StoreFailedError                   a server refused a statement otherwise
│   ├── CheckpointConflict (CheckpointError) another writer moved the thread on first
│   └── InvalidStoreOptionError (ValueError)
└── InvalidThreadIdError (ValueError)      a thread id Hive cannot store
```

The checkpoint stores and the memory stores raise the same classes, so one
``except StoreBusyError`` covers both, and ``except StoreError`` every store failure;
``retryable`` says whether the same call may succeed if made again
(``docs/persistence.md``, "Store errors"). ``StoreError`` and
``StoreUnavailableError`` are defined in ``hive_core.errors`` (also exported from
``hive_core``). Each class has a stable ``code`` (a heading in ``docs/errors.md``)
and keeps the facts as attributes.
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import CheckpointError, HiveError, StoreError, StoreUnavailableError

__all__ = [
    "CheckpointConflict",
    "InvalidStoreOptionError",
    "InvalidThreadIdError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreDamagedError",
    "StoreError",
    "StoreFailedError",
    "StoreUnavailableError",
]


class StoreClosedError(StoreError):
    """A store method was called after ``close()``."""

    code = "store-closed"

    def __init__(self, path: str, *, operation: str, store: str = "store") -> None:
        self.path = path
        self.operation = operation
        self.store = store
        super().__init__(
            f"{store} `{path}` is closed; `{operation}` needs an open store\n\n"
            "Fix: open a new store on the same file, or close it only when done."
        )


class StoreBusyError(StoreError):
    """Another connection held the database lock for longer than the deadline.

    Nothing was written by the failed call and committed data is intact, so the
    call may simply be made again (``retryable`` is ``True``).
    """

    code = "store-busy"
    retryable: ClassVar[bool] = True

    def __init__(
        self,
        path: str,
        *,
        operation: str,
        waited: float,
        attempts: int,
        reason: str = "",
    ) -> None:
        self.path = path
        self.operation = operation
        self.waited = waited
        self.attempts = attempts
        self.reason = reason
        if reason:  # a server store: the server's lock or serialization verdict
            super().__init__(
                f"Store `{path}` is busy: `{operation}` gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} over {waited:.3f} s "
                f"({reason}); nothing was written\n\nFix: retry the call, or give "
                "the server's `lock_timeout`/`statement_timeout` more room."
            )
            return
        super().__init__(
            f"Store `{path}` stayed locked by another connection: `{operation}` "
            f"gave up after {attempts} attempts over {waited:.3f} s; nothing was "
            "written\n\nFix: retry the call, give the store a longer `timeout`, or "
            "keep fewer writers on one file."
        )


class StoreDamagedError(StoreError):
    """The file is not a SQLite database, is damaged, or its tables were altered
    (for a server store: a table or column is missing or of another type).

    ``kind`` is ``"file"`` for SQLite and ``"database"`` for PostgreSQL, whose
    ``path`` is ``host:port/database`` and whose ``reason`` names the table.
    """

    code = "store-damaged"

    def __init__(
        self, path: str, *, operation: str, reason: str, kind: str = "file"
    ) -> None:
        self.path = path
        self.operation = operation
        self.reason = reason
        self.kind = kind
        fix = (
            "restore the file from a backup, or point the store at a new file."
            if kind == "file"
            else "restore the tables from a backup, or point the store at a new "
            "database or schema (it creates its tables on first use)."
        )
        super().__init__(
            f"Store {kind} `{path}` is damaged or not a Hive store (during "
            f"`{operation}`): {reason}\n\nFix: {fix}"
        )


class StoreFailedError(StoreError):
    """A database server refused a statement for a reason no other store error
    names (its SQLSTATE is kept in ``sqlstate``). Nothing the failed call started
    was committed."""

    code = "store-failed"

    def __init__(
        self, store: str, *, target: str, operation: str, sqlstate: str, reason: str
    ) -> None:
        self.store = store
        self.target = target
        self.operation = operation
        self.sqlstate = sqlstate
        self.reason = reason
        state = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
        super().__init__(
            f"{store} on {target} failed during `{operation}`{state}: {reason}\n\n"
            "Fix: check the server log for this statement; if the server was "
            "reconfigured (permissions, settings), restore what the store needs."
        )


class CheckpointConflict(StoreError, CheckpointError):
    """A fenced save found the thread's latest checkpoint is no longer the one it
    follows: another writer (a second process, a zombie worker) advanced the thread.

    Nothing was written. ``retryable`` is ``False``: the same save would conflict
    again; reload the thread's latest checkpoint and decide from there
    (``docs/persistence.md``, "Fenced writes").
    """

    code = "checkpoint-conflict"

    def __init__(
        self,
        thread_id: str,
        *,
        checkpoint_id: str,
        expected: str | None,
        actual: str | None,
    ) -> None:
        self.thread_id = thread_id
        self.checkpoint_id = checkpoint_id
        self.expected = expected
        self.actual = actual
        want = "no checkpoint" if expected is None else f"`{expected[:16]}`"
        found = "none" if actual is None else f"`{actual[:16]}`"
        super().__init__(
            f"Thread `{thread_id}` moved on: saving checkpoint `{checkpoint_id[:16]}` "
            f"expected the latest checkpoint to be {want}, but it is {found}; "
            "nothing was written\n\nFix: another writer owns this thread now; stop "
            "this one, or load the latest state and run from there."
        )


class InvalidStoreOptionError(StoreError, ValueError):
    """A store was opened or called with an option outside its range."""

    code = "invalid-store-option"

    def __init__(self, option: str, *, expected: str, got: object) -> None:
        self.option = option
        self.expected = expected
        self.got = _shown(got)
        super().__init__(f"Store option `{option}` must be {expected}, got {self.got}")


class InvalidThreadIdError(HiveError, ValueError):
    """A thread id that is not a non-empty str of valid UTF-8 within the size limit.

    Refused before anything is stored, so every store accepts exactly the same ids
    (see ``docs/concepts/checkpoint-storage.md``).
    """

    code = "invalid-thread-id"

    def __init__(self, value: object, *, what: str, reason: str) -> None:
        self.value_repr = _shown(value)
        self.what = what
        self.reason = reason
        super().__init__(
            f"Invalid {what} {self.value_repr}: {reason}\n\nFix: use a non-empty "
            "str of at most 512 UTF-8 bytes without NUL, such as a UUID or `user-42/chat-7`."
        )


def _shown(value: object, limit: int = 80) -> str:
    """``repr`` of ``value``, cut to ``limit`` characters (ids may be huge)."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
