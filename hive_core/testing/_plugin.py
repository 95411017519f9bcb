"""pytest plugin for golden-trace testing, active wherever ``hive-graph`` is installed
(registered through the ``pytest11`` entry point as ``hive``).

Fixtures:

* ``hive_trace``: a ``hive_core.testing.Tracer``. ``hive_trace(graph, input)`` runs
  the graph with a fake clock and sequential ids and returns a
  ``hive_core.testing.Trace``; ``hive_trace.resume(payload)`` answers its interrupt.
* ``hive_determinism``: ``hive_core.testing.check_determinism``, seeded from
  ``--hive-seed`` when given.

With syrupy installed, ``assert hive_trace(graph, input) == snapshot`` stores the
trace as a readable ``__snapshots__/<test file>/<test>.trace`` file, and a failing
comparison starts by naming the first event that differs.

Nothing heavy is imported until a fixture or a trace comparison needs it, so the
plugin costs nothing in test sessions that do not use Hive. Disable it with
``-p no:hive``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._trace import Trace
    from ._tracer import Tracer

__all__ = [
    "hive_determinism",
    "hive_trace",
    "pytest_addoption",
    "pytest_assertrepr_compare",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hive", "Hive golden traces")
    group.addoption(
        "--hive-seed",
        type=int,
        default=None,
        metavar="SEED",
        help="seed for hive_determinism's shuffled runs (default: a random seed, "
        "reported when a check fails)",
    )


@pytest.fixture
def hive_trace() -> Iterator[Tracer]:
    """Run compiled graphs and get their ``Trace``: ``hive_trace(graph, input)``."""
    from ._tracer import Tracer

    with Tracer() as tracer:
        yield tracer


@pytest.fixture
def hive_determinism(request: pytest.FixtureRequest) -> Callable[..., Trace]:
    """``hive_determinism(graph, input, runs=5, seed=None)``: rerun with shuffled
    task completion order; fail on the first differing event."""
    from ._determinism import check_determinism

    seed: int | None = request.config.getoption("hive_seed")
    if seed is None:
        return check_determinism
    return functools.partial(check_determinism, seed=seed)


@pytest.hookimpl(wrapper=True)
def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: Any, right: Any
) -> Generator[None, list[list[str] | None], list[list[str] | None]]:
    """Put an explanation naming the first diverging event before the others when a
    trace is compared with a trace or a snapshot (pytest shows the first one)."""
    try:
        results = yield
    except Exception:
        mine = _explain(config, op, left, right)
        if mine is None:
            raise
        return [mine]
    mine = _explain(config, op, left, right)
    return results if mine is None else [mine, *results]


def _explain(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    module = sys.modules.get("hive_core.testing")
    if module is None or op != "==":
        return None
    trace_type = module.Trace
    if isinstance(left, trace_type) and isinstance(right, trace_type):
        found = module.diff_traces(left, right)
        if found is None:
            return None
        return ["Trace == Trace", *found.render().splitlines()]
    syrupy = sys.modules.get("syrupy.assertion")
    if syrupy is None or not isinstance(left, trace_type):
        return None
    if not isinstance(right, syrupy.SnapshotAssertion):
        return None
    from ._snapshot import explain

    return explain(
        right,
        diff_mode=str(getattr(config.option, "diff_mode", "detailed")),
        colors=not getattr(config.option, "no_colors", False),
    )
