"""Errors as RFC 9457 problem documents, with Hive's stable codes.

Every ``HiveError`` a request raises becomes ``application/problem+json`` with its
``code`` (a heading in ``docs/errors.md``), the message as ``detail`` and its
facts as ``culprit``; the status follows what went wrong (404 unknown, 409 busy or
waiting on an interrupt, 422 a value of the wrong type). See ``docs/http-api.md``.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import errors as e

__all__ = [
    "hive_error_handler",
    "http_error_handler",
    "internal_error_handler",
    "problem_response",
    "status_of",
]

log = logging.getLogger("hive_core.server")

_STATUS: tuple[tuple[type[e.HiveError], int], ...] = (
    (e.ServerError, 500),  # replaced by the class's own ``status`` below
    (e.RunNotFoundError, 404),
    (e.UnknownGraphError, 404),
    (e.CheckpointNotFoundError, 404),
    (e.CheckpointVersionMismatchError, 409),
    (e.NoCheckpointToResumeError, 409),
    (e.InterruptPendingError, 409),
    (e.NoInterruptToResumeError, 409),
    (e.ResumeInterruptMismatchError, 409),
    (e.ThreadExistsError, 409),
    (e.ResumePayloadError, 422),
    (e.ChannelTypeMismatchError, 422),
    (e.UnknownChannelError, 422),
    (e.ScopeMismatchError, 422),
    (e.InvalidRunOptionsError, 422),
    (e.UpdatePolicyViolationError, 422),
    (e.TaskLocalWriteNotAllowedError, 422),
    (e.InterruptPayloadTypeError, 422),
    (e.CodecError, 422),
    (e.StoreUnavailableError, 503),
)


def status_of(exc: e.HiveError) -> int:
    if isinstance(exc, e.ServerError):
        return exc.status
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _culprit(exc: BaseException) -> dict[str, Any]:
    facts = {k: v for k, v in vars(exc).items() if not k.startswith("_")}
    built: dict[str, Any] = msgspec.to_builtins(facts, enc_hook=repr, str_keys=True)
    return built


def problem_body(exc: e.HiveError, instance: str) -> dict[str, Any]:
    status = status_of(exc)
    return {
        "type": f"urn:hive:error:{exc.code}",
        "title": type(exc).__name__,
        "status": status,
        "detail": str(exc),
        "instance": instance,
        "code": exc.code,
        "culprit": _culprit(exc),
    }


def problem_response(exc: e.HiveError, instance: str) -> Response:
    body = problem_body(exc, instance)
    return Response(
        msgspec.json.encode(body),
        status_code=body["status"],
        media_type="application/problem+json",
    )


async def hive_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.HiveError)
    return problem_response(exc, request.url.path)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method), as problems too."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    wrapped: e.HiveError
    if exc.status_code == 405:
        wrapped = e.MethodNotAllowedError(
            f"`{path}` does not take {request.method}",
            fix="see docs/http-api.md for the endpoints and their methods",
        )
    elif exc.status_code == 404:
        wrapped = e.RouteNotFoundError(
            f"no endpoint `{request.method} {path}`",
            fix="see docs/http-api.md for the endpoints",
        )
    else:  # pragma: no cover - Starlette raises only those two itself
        wrapped = e.HiveInternalError(f"HTTP {exc.status_code}: {exc.detail}")
    response = problem_response(wrapped, path)
    if exc.headers:  # a 405's Allow
        response.headers.update(exc.headers)
    return response


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """Anything else is Hive's bug: logged with its traceback, reported typed."""
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    wrapped = e.HiveInternalError(f"{type(exc).__name__}: {exc}")
    return problem_response(wrapped, request.url.path)
