"""Fixtures for the persistence tests."""

from __future__ import annotations

import pytest

from hive_core import CompiledGraph

from .tiny_workflow import SEEN, build_tiny


@pytest.fixture
def tiny() -> CompiledGraph:
    SEEN.clear()
    return build_tiny()
