"""Input and external writes: the synthetic single writer outside any step.

A run's input and ``apply_external_writes`` go through the commit's own value check
and reduction (``_commit.py``), with the writer named as the culprit of a rejected
write; only the rules particular to outside writes live here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import (
    InvalidRunOptionsError,
    TaskLocalWriteNotAllowedError,
    UnknownChannelError,
    UpdatePolicyViolationError,
    WritesArgumentError,
)
from ..graph._compiled import CompiledGraph
from ..state._channels import Channel, Scope, Write
from ._commit import channel_id, check_write, reduce_writes

__all__ = [
    "EXTERNAL_WRITER",
    "INPUT_WRITER",
    "apply_input_pairs",
    "apply_input_writes",
    "check_writes_argument",
    "mapped_pairs",
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
    return apply_input_pairs(
        graph, values, [(w.channel, w.value) for w in writes], writer, step
    )


def apply_input_pairs(
    graph: CompiledGraph,
    values: Mapping[str, Any],
    pairs: Iterable[tuple[object, Any]],
    writer: str,
    step: int,
) -> tuple[Mapping[str, Any], list[tuple[str, Any]]]:
    """``apply_input_writes`` of (channel or id, value) pairs: a run's input
    mapping goes here as it is, without a ``Write`` per key when the schema maps
    input the default way (``Schema.input_writes``)."""
    by_id = graph.schema.by_id
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        if not isinstance(key, str | Channel):
            raise _not_a_channel(key, writer)
        cid = channel_id(key)
        spec = by_id.get(cid)
        if spec is None:
            raise UnknownChannelError(cid)
        if spec.scope is Scope.TASK_LOCAL:
            raise TaskLocalWriteNotAllowedError(cid)
        check_write(by_id, cid, value, writer, step)  # the commit's own check
        if cid in grouped:
            grouped[cid].append(value)
        else:
            grouped[cid] = [value]
    if not grouped:
        return values, []
    order = sorted(grouped) if len(grouped) > 1 else list(grouped)
    for cid in order:
        if by_id[cid].is_single and len(grouped[cid]) > 1:
            raise UpdatePolicyViolationError(
                cid, policy="single", write_count=len(grouped[cid])
            )
    out = dict(values)
    written = []
    for cid in order:
        out[cid] = reduced = reduce_writes(by_id[cid], values[cid], grouped[cid], None)
        written.append((cid, reduced))
    return out, written


def mapped_pairs(mapped: object) -> list[tuple[object, Any]]:
    """The (channel, value) pairs of what ``Schema.input_writes`` returned: a list
    or tuple of ``Write`` (any other iterable is read once into a list).

    Raises:
        WritesArgumentError: it is not, naming ``Schema.input_writes``.
    """
    if not isinstance(mapped, list | tuple) and isinstance(mapped, Iterable):
        mapped = list(mapped)  # a generator, say
    check_writes_argument(mapped, "Schema.input_writes")
    assert isinstance(mapped, list | tuple)
    return [(w.channel, w.value) for w in mapped]


def _not_a_channel(key: object, writer: str) -> Exception:
    """A write keyed by something that is neither a channel nor a channel id."""
    actual = f"{type(key).__name__} {key!r}"[:120]
    if writer == INPUT_WRITER:
        return InvalidRunOptionsError(
            f"Input key {actual} is not a channel or channel id; key the input "
            "mapping by a Schema channel (State.n) or its id ('n')",
            option="input",
        )
    return UnknownChannelError(repr(key)[:120])
