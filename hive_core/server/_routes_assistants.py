"""``/assistants``: one assistant per registered graph, and its shape."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import RequestError
from ._body import read_body
from ._http import backend_of, json_response
from ._requests import AssistantSearch
from ._wire import assistant_json

__all__ = ["routes"]


async def search(request: Request) -> Response:
    body = await read_body(request, AssistantSearch)
    backend = backend_of(request)
    found = [
        assistant_json(name, backend.started_at)
        for name in sorted(backend.graphs)
        if body.graph_id in (None, name) and body.name in (None, name)
    ]
    return json_response(found[body.offset : body.offset + body.limit])


async def get(request: Request) -> Response:
    backend = backend_of(request)
    name = backend.graph_name(request.path_params["assistant_id"])
    return json_response(assistant_json(name, backend.started_at))


def _shape(backend: Any, name: str) -> dict[str, Any]:
    ir = backend.graphs[name].ir
    nodes: list[dict[str, Any]] = [
        {"id": "__start__", "type": "schema", "data": "__start__"},
        *({"id": n.id, "type": "runnable", "data": {"name": n.id}} for n in ir.nodes),
        {"id": "__end__", "type": "schema", "data": "__end__"},
    ]
    edges = [{"source": "__start__", "target": s} for s in ir.start]
    edges += [{"source": e.source, "target": e.target} for e in ir.edges]
    for join in ir.joins:
        edges += [
            {"source": p, "target": join.target, "join": join.id} for p in join.parents
        ]
    edges += [{"source": r, "target": "*", "conditional": True} for r in ir.routers]
    return {"nodes": nodes, "edges": edges}


async def graph(request: Request) -> Response:
    backend = backend_of(request)
    name = backend.graph_name(request.path_params["assistant_id"])
    shape = request.query_params.get("format", "json")
    if shape == "mermaid":
        return PlainTextResponse(backend.graphs[name].to_mermaid() + "\n")
    if shape != "json":
        raise RequestError(
            f"`format` must be `json` or `mermaid`, got `{shape[:40]}`",
            field="format",
        )
    return json_response(_shape(backend, name))


routes = [
    Route("/assistants/search", search, methods=["POST"]),
    Route("/assistants/{assistant_id}", get, methods=["GET"]),
    Route("/assistants/{assistant_id}/graph", graph, methods=["GET"]),
]
