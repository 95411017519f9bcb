"""Thread ids: what every store (and the runtime) accepts, checked in one place.

A thread id is a key in every store: SQLite stores it as UTF-8 text, a server store
would put it in a URL or a column of bounded width. So it must be a non-empty
``str`` that encodes as UTF-8 (no lone surrogates), holds no NUL character (a
PostgreSQL ``text`` column cannot store one) and is at most
:data:`MAX_THREAD_ID_BYTES` bytes long. See ``docs/concepts/checkpoint-storage.md``.
"""

from __future__ import annotations

from typing import Final

from ._errors import InvalidThreadIdError

__all__ = ["MAX_THREAD_ID_BYTES", "thread_id_problem", "validate_thread_id"]

MAX_THREAD_ID_BYTES: Final = 512
"""The longest thread id, in UTF-8 bytes."""


def thread_id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid id, or ``None`` if it is one."""
    if not isinstance(value, str):
        return f"expected a str, got {type(value).__name__}"
    if not value:
        return "it is empty"
    if "\x00" in value:
        return f"it contains a NUL character at index {value.index(chr(0))}"
    if value.isascii() and len(value) <= MAX_THREAD_ID_BYTES:
        return None  # the common case: short ASCII, nothing to encode
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return f"it is not valid UTF-8 ({exc.reason} at index {exc.start})"
    if size > MAX_THREAD_ID_BYTES:
        return f"it is {size} UTF-8 bytes long, more than {MAX_THREAD_ID_BYTES}"
    return None


def validate_thread_id(value: object, *, what: str = "thread id") -> str:
    """Return ``value`` if it is a valid thread id, else raise
    :class:`~hive_core.persistence.InvalidThreadIdError` naming it.

    ``what`` names the argument in the message (``"fork target"``,
    ``"checkpoint id"``).
    """
    problem = thread_id_problem(value)
    if problem is None and isinstance(value, str):
        return value
    raise InvalidThreadIdError(value, what=what, reason=problem or "not a str")
