"""The errors ``hive_core.memory`` raises, all under :class:`hive_core.errors.HiveError`.

```
HiveError
└── MemoryStoreError                         catch this for any memory-store problem
    ├── InvalidNamespaceError (ValueError)   namespace is not a tuple of str
    ├── InvalidMemoryArgumentError (ValueError)
    │                                        key, text, metadata, query or limit is wrong
    ├── MemoryStoreClosedError               the SQLite store was used after close()
    ├── MemorySchemaError                    the SQLite file was written by other rules
    └── EmbeddingError (ValueError)          the embedding function returned bad vectors
```

Each class has a stable ``code`` (a heading in ``docs/errors.md``), keeps the facts as
attributes, and pickles through :meth:`HiveError.__reduce__`.
"""

from __future__ import annotations

from ..errors import HiveError

__all__ = [
    "EmbeddingError",
    "InvalidMemoryArgumentError",
    "InvalidNamespaceError",
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


class MemoryStoreClosedError(MemoryStoreError):
    """A store method was called after ``close()``."""

    code = "memory-store-closed"

    def __init__(self, path: str, *, operation: str) -> None:
        self.path = path
        self.operation = operation
        super().__init__(
            f"Memory store `{path}` is closed; `{operation}` needs an open store\n\n"
            "Fix: open a new store on the same file, or close it only when done."
        )


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


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
