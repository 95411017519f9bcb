"""The interpreter: plan → execute → commit, one superstep at a time."""

from __future__ import annotations

from .._exports import public as _public
from ._ids import DerivedIds
from ._runtime import IdSource, RandomIds, RunHandle, Runtime
from ._stream import StreamPart, StreamProjector, project_stream

__all__ = [
    "DerivedIds",
    "IdSource",
    "RandomIds",
    "RunHandle",
    "Runtime",
    "StreamPart",
    "StreamProjector",
    "project_stream",
]

_public(__name__, __all__, globals())
