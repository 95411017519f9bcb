"""``/threads/{id}/runs`` (and threadless ``/runs``): create, stream, wait, join,
get, list, cancel."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import RequestError, RunNotFoundError, UnsupportedOptionError
from ._backend import Backend
from ._body import query_flag, read_body
from ._http import backend_of, json_response
from ._ids import check_thread_id
from ._launch import launch, stream_modes
from ._records import RunRecord, ThreadRecord
from ._requests import RunCreate
from ._sse import sse_response
from ._stream import run_parts, wait_result
from ._wire import RUN_STATUS, run_json

__all__ = ["routes"]


def _fresh(thread_id: str) -> ThreadRecord:
    """A thread ``launch`` records only once the run has passed its checks (a
    refused run creates nothing)."""
    check_thread_id(thread_id)
    now = time.time()
    return ThreadRecord(
        thread_id=thread_id, graph=None, metadata={}, created_at=now, updated_at=now
    )


async def _thread_for(
    backend: Backend, thread_id: str, body: RunCreate
) -> tuple[ThreadRecord, bool]:
    """The run's thread, and whether it is new (``if_not_exists="create"``)."""
    if body.if_not_exists != "create":
        return await backend.thread(thread_id), False
    found = await backend.db.aread(backend.db.thread, thread_id)
    if found is not None:
        return found, False
    return _fresh(thread_id), True


async def _created(request: Request) -> tuple[Backend, RunRecord]:
    body = await read_body(request, RunCreate)
    backend = backend_of(request)
    thread_id = request.path_params.get("thread_id")
    if thread_id is None:  # a threadless run gets a thread of its own
        record = _fresh(str(uuid.uuid4()))
        return backend, await launch(backend, record, body, new=True)
    # From the thread's record to its run's row, a delete waits (_guard.py). A
    # resume and a "reject" run check that no run is in flight, then add one:
    # they exclude each other, as a state update does.
    resume = body.command is not None and body.command.resume is not None
    checked = resume or body.multitask_strategy == "reject"
    hold = backend.guard.exclusive if checked else backend.guard.shared
    async with hold(thread_id):
        record, new = await _thread_for(backend, thread_id, body)
        return backend, await launch(backend, record, body, new=new)


def _location(run: RunRecord) -> dict[str, str]:
    # a header is latin-1: the thread id (any UTF-8 text) goes percent-encoded
    thread = quote(run.thread_id, safe="")
    return {"Content-Location": f"/threads/{thread}/runs/{run.run_id}"}


async def _run_payload(backend: Backend, run: RunRecord) -> dict[str, Any]:
    info = await backend.client.status(run.run_id)
    return run_json(run, info.status, info.created_at, info.updated_at)


async def create(request: Request) -> Response:
    backend, run = await _created(request)
    return json_response(await _run_payload(backend, run), headers=_location(run))


async def stream(request: Request) -> Response:
    backend, run = await _created(request)
    parts = run_parts(backend, run.run_id, run.stream_modes)
    return sse_response(parts, headers=_location(run))


async def wait(request: Request) -> Response:
    backend, run = await _created(request)
    return json_response(await wait_result(backend, run.run_id), headers=_location(run))


async def _existing(request: Request) -> tuple[Backend, RunRecord]:
    backend = backend_of(request)
    thread_id = request.path_params["thread_id"]
    await backend.thread(thread_id)
    run_id = request.path_params["run_id"]
    run = await asyncio.to_thread(backend.db.run, run_id)
    if run is None or run.thread_id != thread_id:
        raise RunNotFoundError(run_id)
    return backend, run


async def get(request: Request) -> Response:
    backend, run = await _existing(request)
    return json_response(await _run_payload(backend, run))


async def join(request: Request) -> Response:
    backend, run = await _existing(request)
    return json_response(await wait_result(backend, run.run_id))


async def join_stream(request: Request) -> Response:
    backend, run = await _existing(request)
    # the SDK sends an empty ``stream_mode=`` when none is given: the run's own
    asked = [m for m in request.query_params.getlist("stream_mode") if m]
    modes = stream_modes(asked) if asked else run.stream_modes
    return sse_response(run_parts(backend, run.run_id, modes))


async def cancel(request: Request) -> Response:
    backend, run = await _existing(request)
    if request.query_params.get("action", "interrupt") != "interrupt":
        raise UnsupportedOptionError(
            "only action=interrupt is supported", field="action",
            fix="cancel with action=interrupt (rollback is not implemented)",
        )  # fmt: skip
    await backend.client.cancel(run.run_id)
    if query_flag(request, "wait"):
        await wait_result(backend, run.run_id)
    return Response(status_code=202)


_RUN_STATUSES = tuple(dict.fromkeys(RUN_STATUS.values()))
"""The LangGraph statuses a run can have (the values of ``RUN_STATUS``)."""


def _count(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # ASCII digits only (``isdigit`` alone takes "٣" and "²"), and a size int()
    # reads in no time
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise RequestError(
            f"`{name}` must be a whole number from 0 to 999999999, got `{raw[:40]}`",
            field=name,
        )
    return int(raw)


def _status_filter(request: Request) -> str | None:
    if request.query_params.get("select"):
        raise UnsupportedOptionError(
            "`select` is not supported", field="select",
            fix="read the fields you need from the full run objects",
        )  # fmt: skip
    status = request.query_params.get("status")
    if status is not None and status not in _RUN_STATUSES:
        raise RequestError(
            f"`status` must be one of {', '.join(_RUN_STATUSES)}, got `{status[:40]}`",
            field="status",
        )
    return status


async def list_runs(request: Request) -> Response:
    """Newest first; ``status`` filters on the LangGraph status before paging."""
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    limit = _count(request, "limit", 10)
    offset = _count(request, "offset", 0)
    status = _status_filter(request)
    infos = list(reversed(await backend.client.list_runs(thread_id=record.thread_id)))
    if status is not None:
        infos = [i for i in infos if RUN_STATUS.get(i.status, "error") == status]
    out = []
    for info in infos[offset : offset + limit]:
        run = await asyncio.to_thread(backend.db.run, info.run_id)
        if run is not None:
            out.append(run_json(run, info.status, info.created_at, info.updated_at))
    return json_response(out)


routes = [
    Route("/runs", create, methods=["POST"]),
    Route("/runs/stream", stream, methods=["POST"]),
    Route("/runs/wait", wait, methods=["POST"]),
    Route("/threads/{thread_id}/runs", create, methods=["POST"]),
    Route("/threads/{thread_id}/runs", list_runs, methods=["GET"]),
    Route("/threads/{thread_id}/runs/stream", stream, methods=["POST"]),
    Route("/threads/{thread_id}/runs/wait", wait, methods=["POST"]),
    Route("/threads/{thread_id}/runs/{run_id}", get, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/join", join, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/stream", join_stream, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/cancel", cancel, methods=["POST"]),
]
