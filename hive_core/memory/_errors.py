"""The errors ``hive_core.memory`` raises, all under :class:`hive_core.errors.HiveError`.

```
HiveError
└── MemoryStoreError                         catch this for any memory-store problem
    ├── InvalidNamespaceError (ValueError)   namespace is not a tuple of str
    ├── InvalidMemoryArgumentError (ValueError)
    │                                        key, text, metadata, query or limit is wrong
    ├── MemorySchemaError                    the SQLite file was written by other rules
    ├── EmbeddingError (ValueError)          the embedding function returned bad vectors
    └── MemoryCorruptError                   a stored row is not what the store wrote
```

A closed, busy or damaged SQLite file raises the errors every store shares
(``hive_core.persistence.StoreClosedError``, ``StoreBusyError``,
``StoreDamagedError``); ``MemoryStoreClosedError`` is another name for
``StoreClosedError``.

Each class has a stable ``code`` (a heading in ``docs/errors.md``), keeps the facts as
attributes, and pickles through :meth:`HiveError.__reduce__`.
"""

from __future__ import annotations

from ..errors import HiveError
from ..persistence._errors import StoreClosedError

__all__ = [
    "EmbeddingError",
    "InvalidMemoryArgumentError",
    "InvalidNamespaceError",
    "MemoryCorruptError",
    "MemorySchemaError",
    "MemoryStoreClosedError",
    "MemoryStoreError",
]


class MemoryStoreError(HiveError):
    """Base for every error a memory store raises on purpose."""

    code = "memory-error"


class InvalidNamespaceError(MemoryStoreError, ValueError):
    """A namespace was not a ``tuple`` of ``str``.

    Namespaces are tuples so that ``("a/b",)`` and ``("a", "b")`` stay different; a
    bare string is refused rather than silently split into characters.
    """

    code = "memory-invalid-namespace"

    def __init__(self, namespace: object, *, reason: str) -> None:
        self.namespace_repr = repr(namespace)
        self.reason = reason
        super().__init__(
            f"Namespace {self.namespace_repr} is invalid: {reason}\n\n"
            'Fix: pass a tuple of strings, e.g. ("user", "42") or ("notes",) '
            "(note the trailing comma of a one-element tuple)."
        )


class InvalidMemoryArgumentError(MemoryStoreError, ValueError):
    """A key, text, metadata mapping, query or limit had the wrong type or value."""

    code = "memory-invalid-argument"

    def __init__(self, argument: str, *, expected: str, got: object) -> None:
        self.argument = argument
        self.expected = expected
        self.got = _describe(got)
        super().__init__(f"Argument `{argument}` must be {expected}, got {self.got}")


MemoryStoreClosedError = StoreClosedError
"""The error every SQLite store raises after ``close()`` (one lifecycle, one error)."""


class MemorySchemaError(MemoryStoreError):
    """An existing SQLite file was written with another schema or tokenizer version.

    Recall scores depend on the tokenizer, so a file indexed under other rules is
    refused instead of being mixed with new entries.
    """

    code = "memory-schema-mismatch"

    def __init__(self, path: str, *, setting: str, expected: str, found: str) -> None:
        self.path = path
        self.setting = setting
        self.expected = expected
        self.found = found
        super().__init__(
            f"Memory database `{path}` has {setting} `{found}`, expected `{expected}`"
            "\n\nFix: open it with the hive-graph version that wrote it, or re-import "
            "its items into a new file."
        )


class EmbeddingError(MemoryStoreError, ValueError):
    """The user's embedding function returned the wrong number or shape of vectors."""

    code = "memory-embedding-invalid"

    def __init__(self, reason: str, *, texts: int) -> None:
        self.reason = reason
        self.texts = texts
        super().__init__(
            f"Embedding function returned invalid vectors for {texts} text"
            f"{'s' if texts != 1 else ''}: {reason}"
        )


class MemoryCorruptError(MemoryStoreError):
    """A row of the SQLite memory file does not decode: it was altered or damaged.

    Raised instead of the decoder's own error, naming the file and the item, so one
    bad row never surfaces as a ``TypeError`` deep inside a recall.
    """

    code = "memory-corrupt"

    def __init__(self, path: str, *, namespace: str, key: str, reason: str) -> None:
        self.path = path
        self.namespace = namespace
        self.key = key
        self.reason = reason
        super().__init__(
            f"Memory database `{path}` has a corrupt row (namespace {namespace}, key "
            f"{key!r}): {reason}\n\nFix: restore the file from a backup, or delete "
            "and re-remember that item."
        )


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
