"""The live view: Starlette routes serving the trace viewer while runs go.

``GET /ui`` lists threads; ``GET /ui/threads/{thread_id}`` is the viewer page for
one thread, which polls ``GET /ui/threads/{thread_id}/model.json`` and redraws
when a new event arrived. Events come from a ``ThreadSource``: an ``EventLog`` fed
by run handles (``await log.follow(runtime.run(...))``) is the in-process one,
``ServiceThreads(client)`` reads the run service's event table; any object with the
two methods works.
Starlette is imported when the routes are built, never by ``import hive_core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

from ..events import Event, RunStarted, trace_to_builtins
from ..testing._trace_text import event_line
from ._model import LoadedTrace
from ._page import _BODY, page, view_model

if TYPE_CHECKING:
    from starlette.routing import Route

    from ..graph import CompiledGraph
    from ..run_types import Outcome
    from ..runtime import RunHandle
    from ..service import ServiceClient

__all__ = ["EventLog", "ServiceThreads", "ThreadSource", "live_routes"]


@runtime_checkable
class ThreadSource(Protocol):
    """Where the live view reads threads and their events from."""

    async def threads(self) -> list[str]: ...

    async def thread_events(self, thread_id: str) -> Sequence[Event] | None:
        """Every event of the thread so far, oldest first; ``None`` if unknown."""
        ...


class EventLog:
    """An in-memory ``ThreadSource``: the events of the runs it followed."""

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}

    def append(self, thread_id: str, event: Event) -> None:
        self._events.setdefault(thread_id, []).append(event)

    async def follow(self, handle: RunHandle) -> Outcome:
        """Record the handle's events as they come; return its outcome."""
        thread_id: str | None = None
        async for event in handle.events:
            if isinstance(event, RunStarted):
                thread_id = event.thread_id
            if thread_id is not None:
                self.append(thread_id, event)
        return await handle.outcome()

    async def threads(self) -> list[str]:
        return sorted(self._events)

    async def thread_events(self, thread_id: str) -> Sequence[Event] | None:
        events = self._events.get(thread_id)
        return None if events is None else tuple(events)


class ServiceThreads:
    """A ``ThreadSource`` over the run service: its threads, and the events of
    every run of a thread in submission order (``ServiceClient.events_so_far``)."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def threads(self) -> list[str]:
        return sorted({r.thread_id for r in await self.client.list_runs()})

    async def thread_events(self, thread_id: str) -> Sequence[Event] | None:
        runs = await self.client.list_runs(thread_id=thread_id)
        if not runs:
            return None
        out: list[Event] = []
        for run in runs:
            out += await self.client.events_so_far(run.run_id)
        return out


def _loaded(events: Sequence[Event]) -> LoadedTrace:
    plain = trace_to_builtins(events)
    return LoadedTrace(plain, [event_line(ev) for ev in plain])


def _list_page(threads: list[str]) -> str:
    items = "".join(
        f'<li><a class="thread" data-thread="{escape(t)}" '
        f'href="/ui/threads/{quote(t, safe="")}">{escape(t)}</a></li>'
        for t in threads
    )
    body = f'<main style="display:block"><section><h2>Threads</h2><ul id="threads">{items}</ul></section></main>'
    return page("Hive runs", body)


def live_routes(
    source: ThreadSource, *, graph: CompiledGraph | None = None, prefix: str = "/ui"
) -> list[Route]:
    """The live viewer's routes, to mount in any Starlette app (``hive serve``)."""
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    async def model(thread_id: str) -> dict[str, Any] | None:
        events = await source.thread_events(thread_id)
        if events is None:
            return None
        m = view_model(_loaded(events), title=f"thread {thread_id}", graph=graph)
        m["live_url"] = f"{prefix}/threads/{quote(thread_id, safe='')}/model.json"
        return m

    async def index(request: Request) -> Response:
        return HTMLResponse(_list_page(await source.threads()))

    async def thread(request: Request) -> Response:
        m = await model(request.path_params["thread_id"])
        if m is None:
            return HTMLResponse(
                page("unknown thread", "<main>no such thread</main>"), 404
            )
        return HTMLResponse(page(m["title"], _BODY, m))

    async def model_json(request: Request) -> Response:
        m = await model(request.path_params["thread_id"])
        if m is None:
            return JSONResponse({"error": "no such thread"}, 404)
        return JSONResponse(m)

    return [
        # thread ids may contain "/": the JSON route comes first so a path ending
        # in /model.json is never read as a thread called "…/model.json"
        Route(prefix, index, methods=["GET"]),
        Route(
            f"{prefix}/threads/{{thread_id:path}}/model.json",
            model_json,
            methods=["GET"],
        ),
        Route(f"{prefix}/threads/{{thread_id:path}}", thread, methods=["GET"]),
    ]
