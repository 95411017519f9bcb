"""``/threads/{id}/runs`` (and threadless ``/runs``): create, stream, wait, join,
get, list, cancel."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import RequestError, RunNotFoundError, UnsupportedOptionError
from ._backend import Backend
from ._body import query_flag, read_body
from ._http import backend_of, json_response
from ._launch import launch, stream_modes
from ._records import RunRecord, ThreadRecord
from ._requests import RunCreate
from ._sse import sse_response
from ._stream import run_parts, wait_result
from ._wire import run_json

__all__ = ["routes"]


async def _thread_for(
    backend: Backend, request: Request, body: RunCreate
) -> ThreadRecord:
    thread_id = request.path_params.get("thread_id")
    if thread_id is None:  # a threadless run gets a thread of its own
        thread_id = str(uuid.uuid4())
    elif body.if_not_exists != "create":
        return await backend.thread(thread_id)
    found = await backend.db.aread(backend.db.thread, thread_id)
    if found is not None:
        return found
    graph = backend.graph_name(body.assistant_id)
    added = await asyncio.to_thread(backend.db.add_thread, thread_id, graph, {})
    return added or await backend.thread(thread_id)


async def _created(request: Request) -> tuple[Backend, RunRecord]:
    body = await read_body(request, RunCreate)
    backend = backend_of(request)
    record = await _thread_for(backend, request, body)
    return backend, await launch(backend, record, body)


def _location(run: RunRecord) -> dict[str, str]:
    return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"}


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
    asked = request.query_params.getlist("stream_mode")
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


def _count(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise RequestError(
            f"`{name}` must be a whole number >= 0, got `{raw}`", field=name
        )
    return int(raw)


async def list_runs(request: Request) -> Response:
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    limit = _count(request, "limit", 10)
    offset = _count(request, "offset", 0)
    infos = list(reversed(await backend.client.list_runs(thread_id=record.thread_id)))
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
