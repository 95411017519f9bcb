"""Argument checks shared by every store, so all of them refuse the same inputs."""

from __future__ import annotations

from collections.abc import Mapping

from ..persistence._threads import thread_id_problem
from ._errors import InvalidMemoryArgumentError, InvalidNamespaceError
from ._protocol import MemoryItem, Namespace

__all__ = [
    "check_key",
    "check_limit",
    "check_metadata",
    "check_namespace",
    "check_query",
    "check_text",
    "checked_item",
    "new_item",
]


def _encodable(value: str) -> bool:
    # A lone surrogate cannot be stored as UTF-8 (SQLite, JSON), a NUL not in a
    # PostgreSQL text column; refusing both in every store keeps the in-memory and
    # persistent stores accepting exactly the same data.
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_namespace(namespace: object) -> Namespace:
    """Return ``namespace`` if it is a tuple of non-empty strings, else raise."""
    if not isinstance(namespace, tuple):
        reason = f"expected a tuple of str, got {type(namespace).__name__}"
        raise InvalidNamespaceError(namespace, reason=reason)
    for part in namespace:
        if not isinstance(part, str):
            reason = f"element {part!r} is a {type(part).__name__}, not a str"
            raise InvalidNamespaceError(namespace, reason=reason)
        if not part:
            raise InvalidNamespaceError(namespace, reason="elements must be non-empty")
        if not _encodable(part):
            reason = f"element {part!r} contains a lone surrogate or a NUL"
            raise InvalidNamespaceError(namespace, reason=reason)
        problem = thread_id_problem(part)  # the length limit of thread ids
        if problem is not None:
            reason = f"element {part[:40]!r}... is too long: {problem}"
            raise InvalidNamespaceError(namespace, reason=reason)
    return namespace


def check_key(key: object) -> str:
    """Return ``key`` if it is a non-empty str, else raise."""
    if not isinstance(key, str) or not key or not _encodable(key):
        expected = "a non-empty str without lone surrogates or NUL"
        raise InvalidMemoryArgumentError("key", expected=expected, got=key)
    return key


def check_text(text: object) -> str:
    """Return ``text`` if it is a str, else raise."""
    if not isinstance(text, str) or not _encodable(text):
        expected = "a str without lone surrogates or NUL"
        raise InvalidMemoryArgumentError("text", expected=expected, got=text)
    return text


def check_metadata(metadata: object) -> dict[str, str]:
    """A fresh dict of ``metadata`` sorted by key, so no caller order leaks out."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        expected = "a mapping of str to str"
        raise InvalidMemoryArgumentError("metadata", expected=expected, got=metadata)
    pairs: list[tuple[str, str]] = []
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            expected = "a mapping of str to str"
            got = {name: value}
            raise InvalidMemoryArgumentError("metadata", expected=expected, got=got)
        if not _encodable(name) or not _encodable(value):
            expected = "strings without lone surrogates or NUL"
            raise InvalidMemoryArgumentError("metadata", expected=expected, got=name)
        pairs.append((name, value))
    pairs.sort()
    return dict(pairs)


def check_query(query: object) -> str:
    """Return ``query`` if it is a str, else raise."""
    if not isinstance(query, str):
        raise InvalidMemoryArgumentError("query", expected="a str", got=query)
    return query


def check_limit(limit: object) -> int:
    """Return ``limit`` if it is an int (bool excluded), else raise."""
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise InvalidMemoryArgumentError("limit", expected="an int", got=limit)
    return limit


def checked_item(item: object) -> MemoryItem:
    """A validated copy of ``item`` (metadata re-sorted), for bulk loads."""
    if not isinstance(item, MemoryItem):
        expected = "an iterable of MemoryItem"
        raise InvalidMemoryArgumentError("items", expected=expected, got=item)
    return new_item(item.namespace, item.key, item.text, item.metadata)


def new_item(
    namespace: object, key: object, text: object, metadata: object
) -> MemoryItem:
    """A ``MemoryItem`` from unchecked arguments, each validated on the way in."""
    return MemoryItem(
        namespace=check_namespace(namespace),
        key=check_key(key),
        text=check_text(text),
        metadata=check_metadata(metadata),
    )
