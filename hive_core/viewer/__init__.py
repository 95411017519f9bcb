"""The HTML trace viewer: a run's graph, steps, writes and store, in a browser.

* ``render_trace_html(path)`` writes one self-contained page from a ``.trace``
  (the readable golden format) or ``.jsonl`` trace file: the graph as SVG with the
  nodes each step ran highlighted, a step timeline, each task's status, model
  tokens and tool calls, the writes and the store after each step, interrupts and
  resumes. ``write_view(trace, output)`` writes it; from a shell:
  ``python -m hive_core.testing view RUN.trace -o run.html``.
* ``render_diff_html(a, b)`` shows two traces side by side and jumps to the first
  divergence (``python -m hive_core.testing view A --diff B -o diff.html``).
* ``live_routes(source)`` is the same view served live by Starlette at ``/ui`` and
  ``/ui/threads/{thread_id}``, fed by an ``EventLog``, the run service
  (``ServiceThreads(client)``) or any ``ThreadSource``.

Everything the page needs is inlined; nothing is fetched at view time. See
``docs/observability.md``.
"""

from __future__ import annotations

from .._exports import public as _public
from ._live import EventLog, ServiceThreads, ThreadSource, live_routes
from ._model import LoadedTrace, load_any_trace
from ._page import render_diff_html, render_trace_html, write_view

__all__ = [
    "EventLog",
    "LoadedTrace",
    "ServiceThreads",
    "ThreadSource",
    "live_routes",
    "load_any_trace",
    "render_diff_html",
    "render_trace_html",
    "write_view",
]

_public(__name__, __all__, globals())
