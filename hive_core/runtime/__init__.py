"""The interpreter: plan → execute → commit, one superstep at a time."""

from __future__ import annotations

from .runtime import IdSource, RandomIds, RunHandle, Runtime

__all__ = ["IdSource", "RandomIds", "RunHandle", "Runtime"]
