"""Input and external writes: the synthetic single writer outside any step.

A run's input and ``apply_external_writes`` go through the commit's own value check
and reduction (``_commit.py``), with the writer named as the culprit of a rejected
write; only the rules particular to outside writes live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import (
    TaskLocalWriteNotAllowedError,
    UnknownChannelError,
    UpdatePolicyViolationError,
    WritesArgumentError,
)
from ..graph._compiled import CompiledGraph
from ..state._channels import Scope, Write
from ._commit import check_write, reduce_writes

__all__ = [
    "EXTERNAL_WRITER",
    "INPUT_WRITER",
    "apply_input_writes",
    "check_writes_argument",
]

INPUT_WRITER = "<input>"
EXTERNAL_WRITER = "<external writes>"
"""How input and external writes are named as the culprit of a rejected write."""


def check_writes_argument(writes: object, operation: str = "writes") -> None:
    """Raise ``WritesArgumentError`` unless ``writes`` is a list (or tuple) of
    ``Write``: checked before anything runs, so nothing changes."""
    if type(writes) is not list and type(writes) is not tuple:
        single = isinstance(writes, Write)
        raise WritesArgumentError(
            operation,
            expected="a list of Write",
            actual="a single Write" if single else type(writes).__name__,
        )
    for i, w in enumerate(writes):
        if not isinstance(w, Write):
            raise WritesArgumentError(
                f"{operation}[{i}]", expected="a Write", actual=type(w).__name__
            )


def apply_input_writes(
    graph: CompiledGraph,
    values: Mapping[str, Any],
    writes: Sequence[Write[Any]],
    *,
    writer: str,
    step: int,
) -> tuple[Mapping[str, Any], list[tuple[str, Any]]]:
    """The synthetic single writer for input and external writes (not a step).

    Only the rules particular to outside writes live here (a task-local channel is
    refused before its type is checked); the value check and reduction are the
    commit's own, with ``writer`` named as the culprit.
    """
    by_id = graph.schema.by_id
    grouped: dict[str, list[Any]] = {}
    for w in writes:
        ch = w.channel
        cid = ch if isinstance(ch, str) else ch.id
        spec = by_id.get(cid)
        if spec is None:
            raise UnknownChannelError(cid)
        if spec.scope is Scope.TASK_LOCAL:
            raise TaskLocalWriteNotAllowedError(cid)
        check_write(by_id, cid, w.value, writer, step)  # the commit's own check
        grouped.setdefault(cid, []).append(w.value)
    order = sorted(grouped)
    for cid in order:
        if by_id[cid].is_single and len(grouped[cid]) > 1:
            raise UpdatePolicyViolationError(
                cid, policy="single", write_count=len(grouped[cid])
            )
    if not grouped:
        return values, []
    out = dict(values)
    written = []
    for cid in order:
        out[cid] = reduced = reduce_writes(by_id[cid], values[cid], grouped[cid], None)
        written.append((cid, reduced))
    return out, written
