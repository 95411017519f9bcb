"""Registers the fixtures of ``store_support`` for this directory."""

from __future__ import annotations

from .store_support import backend, open_sqlite, sqlite_path

__all__ = ["backend", "open_sqlite", "sqlite_path"]
