"""Which thread ids the HTTP API can take: the stores' own rule, and reachable in
a URL.

Every store accepts any non-empty UTF-8 string of at most 512 bytes without NUL
(``docs/concepts/checkpoint-storage.md``), but a client puts the id in a path
segment: a ``/`` would split it (``/threads/a/b`` names no route) and a control
character is not something a client can send reliably. So ``POST /threads`` and a
run with ``if_not_exists="create"`` refuse those with a 422 naming the field
before anything is stored (``docs/http-api.md``).
"""

from __future__ import annotations

import unicodedata

from ..errors import RequestError
from ..persistence._threads import thread_id_problem

__all__ = ["check_thread_id"]


def _url_problem(thread_id: str) -> str | None:
    if "/" in thread_id:
        return "it contains `/`, which splits the URL path that names the thread"
    for i, char in enumerate(thread_id):
        if unicodedata.category(char) == "Cc":
            return f"it contains the control character {char!r} at index {i}"
    return None


def check_thread_id(thread_id: str) -> str:
    """``thread_id`` if the API can store and address it; else a RequestError."""
    problem = thread_id_problem(thread_id) or _url_problem(thread_id)
    if problem is not None:
        shown = repr(thread_id) if len(thread_id) <= 80 else repr(thread_id[:77]) + "…"
        raise RequestError(
            f"thread id {shown} cannot be used over HTTP: {problem}",
            field="thread_id",
            fix="use a non-empty id of at most 512 UTF-8 bytes without `/` or "
            "control characters, such as a UUID or `user-42.chat-7`",
        )
    return thread_id
