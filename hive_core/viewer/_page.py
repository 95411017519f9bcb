"""Self-contained HTML pages: one run, or the diff of two traces.

The stylesheet and script are package data (``hive_core/viewer/assets``) inlined
into the page, so a written page needs no network and no other file to view.
"""

from __future__ import annotations

import hashlib
import json
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._model import LoadedTrace, build_view, load_any_trace
from ._svg import render_svg, shape_for

if TYPE_CHECKING:
    from ..graph import CompiledGraph

__all__ = ["page", "render_diff_html", "render_trace_html", "view_model", "write_view"]


def _asset(name: str) -> str:
    return (files("hive_core.viewer") / "assets" / name).read_text(encoding="utf-8")


def _json_script(data: object) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    # no "<" at all: neither "</script>" nor "<!--" can end or bend the element
    return text.replace("<", "\\u003c")


def view_model(
    trace: LoadedTrace, *, title: str, graph: CompiledGraph | None = None
) -> dict[str, Any]:
    """The run model plus the graph's SVG (what the page script renders)."""
    model = build_view(trace, title=title)
    shape, inferred = shape_for(graph, model["steps"], model["nodes"])
    svg = render_svg(shape, inferred=inferred)
    model["svg"] = svg
    model["svg_key"] = hashlib.sha256(svg.encode()).hexdigest()[:16]
    model["graph_inferred"] = inferred
    return model


_BODY = """<main>
<div>
<section><h2>Steps</h2><ul id="timeline"></ul></section>
<section><h2>Events</h2><pre class="lines" id="lines"></pre></section>
</div>
<div>
<section><h2>Graph</h2><div id="graph"></div><div id="tokens"></div></section>
<section><h2 id="step-title">step</h2><div id="step-notes"></div>
<table><thead><tr><th>#</th><th>node</th><th>status</th><th>model</th><th>tokens</th>
<th>tools</th></tr></thead><tbody id="tasks"></tbody></table></section>
<section><h2>Writes</h2><table><tbody id="writes"></tbody></table></section>
<section><h2>Store after the step</h2><p class="note" id="store-note"></p><table><tbody id="store"></tbody></table>
</section>
</div>
</main>"""


def page(title: str, body: str, data: object | None = None) -> str:
    """The page skeleton with the inlined assets and optional model JSON."""
    script = ""
    if data is not None:
        script = (
            '<script type="application/json" id="hive-data">'
            f"{_json_script(data)}</script>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_asset('viewer.css')}</style></head>"
        f'<body><header><h1 id="title">{escape(title)}</h1>'
        '<span class="outcome" id="outcome"></span></header>'
        f"{body}{script}<script>{_asset('viewer.js')}</script></body></html>\n"
    )


def render_trace_html(
    trace: str | Path | LoadedTrace,
    *,
    graph: CompiledGraph | None = None,
    title: str | None = None,
) -> str:
    """One self-contained HTML page showing a run from a trace file.

    ``graph`` draws the compiled graph's real edges; without it the edges are the
    transitions the trace shows. Raises ``TraceFileError`` for a bad file.
    """
    loaded = trace if isinstance(trace, LoadedTrace) else load_any_trace(trace)
    name = title or (Path(trace).name if not isinstance(trace, LoadedTrace) else "run")
    return page(name, _BODY, view_model(loaded, title=name, graph=graph))


def _first_difference(a: list[str], b: list[str]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def render_diff_html(
    expected: str | Path | LoadedTrace,
    actual: str | Path | LoadedTrace,
    *,
    title: str = "trace diff",
) -> str:
    """Two traces' events side by side; the first divergence is marked
    (``id="first-divergence"``) and the page scrolls to it when opened."""
    a = expected if isinstance(expected, LoadedTrace) else load_any_trace(expected)
    b = actual if isinstance(actual, LoadedTrace) else load_any_trace(actual)
    first = _first_difference(a.lines, b.lines)
    cells = ["<div><b>expected</b></div><div><b>actual</b></div>"]
    for i in range(max(len(a.lines), len(b.lines))):
        left = a.lines[i] if i < len(a.lines) else None
        right = b.lines[i] if i < len(b.lines) else None
        cls = "same" if left == right else "differs"
        ident = ""
        if i == first:
            cls += " first-divergence"
            ident = ' id="first-divergence"'
        for j, line in enumerate((left, right)):
            text = escape(line) if line is not None else "(no event)"
            extra = " missing" if line is None else ""
            attr = ident if j == 0 else ""
            cells.append(
                f'<div class="{cls}{extra}" data-index="{i}"{attr}>{text}</div>'
            )
    summary = (
        "traces are equal"
        if first is None
        else f'first divergence at event {first} · <a href="#first-divergence">jump</a>'
    )
    body = (
        f'<main style="display:block"><section><h2 id="summary">{summary}</h2>'
        f'<div class="diff" data-first="{"" if first is None else first}">'
        f"{''.join(cells)}</div></section></main>"
    )
    return page(title, body)


def write_view(
    trace: str | Path,
    output: str | Path,
    *,
    diff: str | Path | None = None,
    graph: CompiledGraph | None = None,
) -> Path:
    """Write the page of ``trace`` (or, with ``diff``, of the two traces side by
    side) to ``output``; what ``python -m hive_core.testing view`` and
    ``hive trace view`` do. Nothing is written when a trace cannot be read.

    Raises:
        TraceFileError: a trace file is missing or not a trace.
    """
    if diff is not None:
        html = render_diff_html(trace, diff)
    else:
        html = render_trace_html(trace, graph=graph)
    out = Path(output)
    out.write_text(html, encoding="utf-8")
    return out
