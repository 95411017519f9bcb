"""``/threads``: create, get, search, patch, delete, state, history, copy, trace."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointVersionMismatchError,
    RequestError,
    ThreadExistsError,
    UnsupportedOptionError,
)
from ..events import trace_to_builtins
from ..state import Write
from ..testing._trace_text import render_text
from ._backend import Backend
from ._body import read_body
from ._http import backend_of, json_response
from ._records import ThreadRecord
from ._requests import (
    HistoryRequest,
    StateAtRequest,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
    UpdateState,
)
from ._wire import empty_state_json, state_json, thread_json

__all__ = ["routes", "thread_payload"]


async def thread_payload(backend: Backend, record: ThreadRecord) -> dict[str, Any]:
    view = await backend.view(record)
    return thread_json(record, view, await backend.status(record, view))


async def create(request: Request) -> Response:
    body = await read_body(request, ThreadCreate)
    backend = backend_of(request)
    if body.supersteps:
        raise UnsupportedOptionError(
            "`supersteps` is not supported", field="supersteps"
        )
    thread_id = str(uuid.uuid4()) if body.thread_id is None else body.thread_id
    metadata = dict(body.metadata or {})
    graph = metadata.get("graph_id")
    graph = graph if isinstance(graph, str) and graph in backend.graphs else None
    async with backend.guard.shared(thread_id):  # not half way through a delete
        record = await backend.new_thread(thread_id, graph, metadata)
        if record is None:
            if body.if_exists != "do_nothing":
                raise ThreadExistsError(thread_id)
            record = await backend.thread(thread_id)
    return json_response(await thread_payload(backend, record))


async def get(request: Request) -> Response:
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    return json_response(await thread_payload(backend, record))


async def patch(request: Request) -> Response:
    body = await read_body(request, ThreadPatch)
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    merged = {**record.metadata, **body.metadata}
    await asyncio.to_thread(backend.db.update_thread, record.thread_id, metadata=merged)
    return json_response(
        await thread_payload(backend, await backend.thread(record.thread_id))
    )


async def delete(request: Request) -> Response:
    backend = backend_of(request)
    thread_id = request.path_params["thread_id"]
    # No run may be added between the idle check and the end (_guard.py).
    async with backend.guard.exclusive(thread_id):
        record = await backend.thread(thread_id)
        await backend.require_idle(record.thread_id)
        await backend.delete_thread(record.thread_id)
    return Response(status_code=204)


_canonical = msgspec.json.Encoder(order="sorted")
"""JSON as bytes with sorted keys: equal bytes are equal JSON values, so ``1``,
``1.0`` and ``true`` stay three values (Python's ``==`` says they are one)."""


class _Filter:
    """A search's ids and metadata, encoded once for all the threads it scans."""

    def __init__(self, body: ThreadSearch) -> None:
        self.ids = None if body.ids is None else frozenset(body.ids)
        self.wanted = {
            k: _canonical.encode(v) for k, v in (body.metadata or {}).items()
        }

    def __call__(self, record: ThreadRecord) -> bool:
        if self.ids is not None and record.thread_id not in self.ids:
            return False
        meta = record.metadata
        return all(
            k in meta and _canonical.encode(meta[k]) == v
            for k, v in self.wanted.items()
        )


def _refuse_search_options(body: ThreadSearch) -> None:
    for name in ("values", "select", "extract"):
        if getattr(body, name):
            raise UnsupportedOptionError(
                f"searching threads by `{name}` is not supported", field=name,
                fix="filter on metadata, ids or status, and read the values from "
                "the threads found",
            )  # fmt: skip


def _sorted(records: list[ThreadRecord], body: ThreadSearch) -> list[ThreadRecord]:
    """Newest first by default (the store's order); else by the field asked for,
    ties by id so the order is stable."""
    if body.sort_by is None and body.sort_order in (None, "desc"):
        return records
    field = body.sort_by or "created_at"
    keyed = sorted(records, key=lambda r: (getattr(r, field), r.thread_id))
    return keyed if body.sort_order == "asc" else keyed[::-1]


async def _listed(backend: Backend, record: ThreadRecord) -> dict[str, Any]:
    """A search result; a thread whose checkpoint cannot be read (written by
    another version of its graph, or damaged) is listed with status ``error``
    and the reason, not a 5xx for the whole search."""
    try:
        return await thread_payload(backend, record)
    except (CheckpointVersionMismatchError, CheckpointCorruptError,
            CheckpointDecodeError) as exc:  # fmt: skip
        payload = thread_json(record, None, "error")
        payload["hive_error"] = {"code": exc.code, "detail": str(exc)}
        return payload


async def search(request: Request) -> Response:
    body = await read_body(request, ThreadSearch)
    _refuse_search_options(body)
    backend = backend_of(request)
    records = _sorted(
        list(filter(_Filter(body), await asyncio.to_thread(backend.db.threads))),
        body,
    )
    if body.status is None:  # page first: only the page's states are read
        records = records[body.offset : body.offset + body.limit]
    found = []
    for record in records:
        payload = await _listed(backend, record)
        if body.status is None or payload["status"] == body.status:
            found.append(payload)
    if body.status is not None:
        found = found[body.offset : body.offset + body.limit]
    return json_response(found)


async def get_state(request: Request) -> Response:
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    checkpoint_id = request.path_params.get("checkpoint_id")
    if checkpoint_id is not None:
        return json_response(state_json(await backend.view_at(record, checkpoint_id)))
    view = await backend.view(record)
    if view is None:
        return json_response(empty_state_json(record.thread_id))
    return json_response(state_json(view))


async def state_at(request: Request) -> Response:
    body = await read_body(request, StateAtRequest)
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    if body.checkpoint.checkpoint_id is None:
        view = await backend.view(record)
        if view is None:
            return json_response(empty_state_json(record.thread_id))
        return json_response(state_json(view))
    view = await backend.view_at(record, body.checkpoint.checkpoint_id)
    return json_response(state_json(view))


def _graph_for_writes(backend: Backend, record: ThreadRecord) -> str:
    if record.graph is not None:
        return record.graph
    if len(backend.graphs) == 1:
        return next(iter(backend.graphs))
    raise RequestError(
        f"thread `{record.thread_id}` has no graph yet",
        field="thread_id",
        fix='run it once, or create it with metadata {"graph_id": "<graph>"}',
    )


async def update_state(request: Request) -> Response:
    body = await read_body(request, UpdateState)
    backend = backend_of(request)
    if body.checkpoint_id is not None or body.checkpoint is not None:
        raise UnsupportedOptionError(
            "updating a past checkpoint is not supported",
            field="checkpoint_id",
            fix="copy the thread (a fork of its latest checkpoint), then update the copy",
        )
    thread_id = request.path_params["thread_id"]
    # A check, then a write: no run may be added, nor the thread deleted, between.
    async with backend.guard.exclusive(thread_id):
        record = await backend.thread(thread_id)
        graph = _graph_for_writes(backend, record)
        await backend.require_idle(record.thread_id)
        writes = [Write(key, value) for key, value in (body.values or {}).items()]
        outcome = await backend.runtime(graph).apply_external_writes(
            record.thread_id, writes
        )
        if record.graph is None:
            await asyncio.to_thread(
                backend.db.update_thread, record.thread_id, graph=graph
            )
    checkpoint = {
        "thread_id": record.thread_id, "checkpoint_ns": "",
        "checkpoint_id": outcome.checkpoint_id, "checkpoint_map": None,
    }  # fmt: skip
    return json_response({"checkpoint": checkpoint})


async def history(request: Request) -> Response:
    body = await read_body(request, HistoryRequest)
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    if body.metadata:
        raise UnsupportedOptionError(
            "filtering history by `metadata` is not supported", field="metadata",
            fix="read the history and filter it on the client",
        )  # fmt: skip
    before = (
        body.before
        if isinstance(body.before, str) or body.before is None
        else (body.before.checkpoint_id)
    )
    views = await backend.history(record, body.limit, before)
    return json_response([state_json(v) for v in views])


async def copy(request: Request) -> Response:
    backend = backend_of(request)
    source = request.path_params["thread_id"]
    async with backend.guard.shared(source):  # not deleted half way (_guard.py)
        record = await backend.thread(source)
        await backend.require_idle(record.thread_id)
        new_id = str(uuid.uuid4())
        view = await backend.view(record)
        if (
            view is not None
            and view.checkpoint_id is not None
            and record.graph is not None
        ):
            await backend.runtime(record.graph).fork(
                record.thread_id, view.checkpoint_id, into=new_id
            )
    added = await asyncio.to_thread(
        backend.db.add_thread, new_id, record.graph, record.metadata
    )
    assert added is not None  # a fresh uuid
    return json_response(await thread_payload(backend, added))


async def trace(request: Request) -> Response:
    """The readable ``.trace`` of the thread's runs, oldest first."""
    backend = backend_of(request)
    record = await backend.thread(request.path_params["thread_id"])
    runs = await backend.client.list_runs(thread_id=record.thread_id)
    events = []
    for run in runs:
        events += await backend.events(run.run_id)
    view = await backend.view(record)
    header = [
        f"thread: {record.thread_id}",
        f"graph: {record.graph}",
        f"runs: {' '.join(r.run_id for r in runs) or '-'}",
        f"status: {runs[-1].status if runs else '-'}",
    ]
    text = render_text(header, trace_to_builtins(events), view.values if view else {})
    return PlainTextResponse(text)


routes = [
    Route("/threads", create, methods=["POST"]),
    Route("/threads/search", search, methods=["POST"]),
    Route("/threads/{thread_id}", get, methods=["GET"]),
    Route("/threads/{thread_id}", patch, methods=["PATCH"]),
    Route("/threads/{thread_id}", delete, methods=["DELETE"]),
    Route("/threads/{thread_id}/state", get_state, methods=["GET"]),
    Route("/threads/{thread_id}/state", update_state, methods=["POST"]),
    Route("/threads/{thread_id}/state/checkpoint", state_at, methods=["POST"]),
    Route("/threads/{thread_id}/state/{checkpoint_id}", get_state, methods=["GET"]),
    Route("/threads/{thread_id}/history", history, methods=["POST"]),
    Route("/threads/{thread_id}/copy", copy, methods=["POST"]),
    Route("/threads/{thread_id}/trace", trace, methods=["GET"]),
]
