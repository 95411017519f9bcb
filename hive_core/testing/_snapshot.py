"""syrupy support: traces snapshot as readable ``.trace`` files.

Imported only when syrupy is (``Trace.__eq__`` and the pytest plugin check
``sys.modules`` first), so Hive never depends on syrupy.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from syrupy.assertion import DiffMode, SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.terminal import disable_color
from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData

from ._trace_diff import diff_texts

__all__ = [
    "HiveTraceExtension",
    "compare_with_snapshot",
    "divergence_lines",
    "explain",
]


@runtime_checkable
class _Rendered(Protocol):
    """A ``Trace``, as far as snapshots go: its text. Typed by this protocol so this
    module does not import ``_trace`` (whose ``Trace.__eq__`` imports this one)."""

    def to_text(self) -> str: ...


class HiveTraceExtension(SingleFileSnapshotExtension):
    """One ``__snapshots__/<test file>/<test name>.trace`` file per snapshot, holding
    ``Trace.to_text()``; a mismatch first names the diverging event, then diffs."""

    file_extension = "trace"
    _write_mode = WriteMode.TEXT

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> str:
        if not isinstance(data, _Rendered):
            raise TypeError(
                f"HiveTraceExtension snapshots hive_core.testing.Trace values, got "
                f"{type(data).__name__}"
            )
        return data.to_text()

    def diff_lines(
        self, serialized_data: SerializableData, snapshot_data: SerializableData
    ) -> Iterator[str]:
        yield from divergence_lines(snapshot_data, serialized_data)
        yield from super().diff_lines(serialized_data, snapshot_data)


def divergence_lines(expected: object, actual: object) -> list[str]:
    """The first divergence between a stored and a received trace text."""
    if not isinstance(expected, str) or not isinstance(actual, str) or not expected:
        return []
    found = diff_texts(expected, actual)
    return found.render().splitlines() if found is not None else []


_discovered: dict[int, weakref.ref[SnapshotAssertion]] = {}
"""Assertions already paired with a trace-file sibling (by id: they are unhashable)."""


def compare_with_snapshot(trace: _Rendered, snapshot: SnapshotAssertion) -> bool:
    """``trace == snapshot`` through ``HiveTraceExtension`` (named snapshots too)."""
    if isinstance(snapshot.extension, HiveTraceExtension):
        return snapshot == trace
    key = id(snapshot)
    seen = _discovered.get(key)
    if seen is None or seen() is not snapshot:
        _discovered[key] = weakref.ref(snapshot, lambda _: _discovered.pop(key, None))
        # A sibling assertion with this extension makes syrupy discover the test
        # file's .trace files, so unused ones are reported and cleaned up as usual.
        snapshot.use_extension(HiveTraceExtension)
    return snapshot(extension_class=HiveTraceExtension) == trace


def explain(
    snapshot: SnapshotAssertion, *, diff_mode: str, colors: bool = True
) -> list[str] | None:
    """Assertion explanation for a failed ``trace == snapshot``: the first
    divergence, then syrupy's usual line diff (unless diffs are disabled)."""
    result = snapshot.executions.get(snapshot.num_executions - 1)
    if result is None or result.exception is not None or result.success:
        return None
    lines = [f"[+ received] == [- {result.snapshot_name}]"]
    received = result.asserted_data if result.asserted_data is not None else ""
    stored = result.recalled_data
    if stored is None:
        lines.append(
            f"Snapshot '{result.snapshot_name}' does not exist! "
            "Run pytest --snapshot-update to create it."
        )
        stored = ""
    lines += divergence_lines(stored, received)
    if diff_mode != DiffMode.DISABLED:
        extension = HiveTraceExtension()
        with contextlib.nullcontext() if colors else disable_color():
            lines += SingleFileSnapshotExtension.diff_lines(extension, received, stored)
    return lines
