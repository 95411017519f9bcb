"""Testing Hive workflows: fake clock and ids, node inputs, scripted services,
golden traces, trace files and diffs, and the determinism checker.

* ``FakeClock`` and ``SequentialIds``: the injectable clock and id source;
* ``node_input``: the ``NodeInput`` of one task, to unit-test a node function alone;
* ``ScriptedService``: a stand-in for a model, search or tool service;
* ``Tracer`` runs graphs and returns a ``Trace`` (the pytest ``hive_trace`` fixture
  is one); ``check_determinism`` reruns with completion order shuffled;
* ``save_trace``/``load_trace``/``diff_traces``: trace files outside pytest, also
  from a shell as ``python -m hive_core.testing diff a.jsonl b.jsonl``.

The pytest plugin (``hive_trace``, ``hive_determinism``) is registered through the
``pytest11`` entry point. See ``docs/testing.md``.
"""

from __future__ import annotations

from .._exports import public
from ._determinism import check_determinism, check_determinism_async
from ._errors import NondeterminismError, TraceFileError, UnexpectedCallError
from ._fakes import FakeClock, SequentialIds
from ._node_input import node_input
from ._scripted import ScriptedCall, ScriptedService
from ._trace import Trace, TraceDiff, diff_texts, diff_traces
from ._trace_files import load_trace, save_trace
from ._tracer import Tracer

__all__ = [
    "FakeClock",
    "NondeterminismError",
    "ScriptedCall",
    "ScriptedService",
    "SequentialIds",
    "Trace",
    "TraceDiff",
    "TraceFileError",
    "Tracer",
    "UnexpectedCallError",
    "check_determinism",
    "check_determinism_async",
    "diff_texts",
    "diff_traces",
    "load_trace",
    "node_input",
    "save_trace",
]

public(__name__, __all__, globals())
