"""Loading ``APP``: ``module:attribute`` or ``path/to/file.py:attribute`` naming a
compiled graph or a mapping of graph names to compiled graphs."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from ..graph import CompiledGraph

__all__ = ["load_graphs", "pick"]


def _module(spec: str) -> object:
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise click.BadParameter(f"no file `{spec}`", param_hint="APP")
        name = f"_hive_app_{path.stem}"
        loader = importlib.util.spec_from_file_location(name, path)
        if loader is None or loader.loader is None:  # pragma: no cover - .py files load
            raise click.BadParameter(f"cannot load `{spec}`", param_hint="APP")
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent.absolute()))
        loader.loader.exec_module(module)
        return module
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise click.BadParameter(
            f"cannot import `{spec}`: {exc}", param_hint="APP"
        ) from None


def load_graphs(app: str) -> dict[str, CompiledGraph]:
    """The graphs ``app`` names, by name (a single graph is named after its
    attribute)."""
    module_spec, sep, attribute = app.rpartition(":")
    if not sep or not module_spec or not attribute:
        raise click.BadParameter(
            f"`{app}` is not module:attribute (e.g. my_app:graph)", param_hint="APP"
        )
    found = getattr(_module(module_spec), attribute, None)
    if isinstance(found, CompiledGraph):
        return {attribute: found}
    if (
        isinstance(found, Mapping)
        and found
        and all(
            isinstance(k, str) and isinstance(v, CompiledGraph)
            for k, v in found.items()
        )
    ):
        return dict(found)
    raise click.BadParameter(
        f"`{attribute}` in `{module_spec}` is not a compiled graph or a mapping of "
        "names to compiled graphs",
        param_hint="APP",
    )


def pick(
    graphs: Mapping[str, CompiledGraph], name: str | None
) -> tuple[str, CompiledGraph]:
    if name is None:
        if len(graphs) == 1:
            return next(iter(graphs.items()))
        raise click.UsageError(
            f"APP has several graphs ({', '.join(sorted(graphs))}); pick one with --graph"
        )
    if name not in graphs:
        raise click.UsageError(
            f"no graph `{name}` (graphs: {', '.join(sorted(graphs))})"
        )
    return name, graphs[name]
