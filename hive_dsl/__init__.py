"""Hive DSL: workflows as decorated Python functions (lowered into hive_core)."""

from __future__ import annotations

__all__: list[str] = []
