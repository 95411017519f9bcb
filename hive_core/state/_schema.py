"""Schemas: the set of channels a graph reads and writes, plus its input mapping.

Two ways to declare one:

* a ``Schema`` subclass whose class attributes are channels (typed keys for mypy);
* ``schema_of([...])`` over a plain list of channels.

Both resolve to a ``SchemaSpec``, the form the compiler and the runtime use.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import msgspec

from ..errors import CompilationError, InvalidRunOptionsError, Problem
from ..ids import lp
from ._channels import Channel, Persistence, Scope, UpdatePolicy, Write

__all__ = ["InputContext", "InputWrites", "Schema", "SchemaSpec", "schema_of"]


class InputContext(msgspec.Struct, frozen=True, kw_only=True):
    """What an input mapping may know: where the run is, and the next step to run."""

    thread_id: str
    run_id: str
    step_index: int


InputWrites = Callable[[object, InputContext], Sequence[Write[Any]]]


def default_input_writes(input: object, ctx: InputContext) -> Sequence[Write[Any]]:
    """``None`` writes nothing; a mapping writes each key (channel or id) once."""
    if input is None:
        return ()
    if isinstance(input, Mapping):
        return [Write(key, value) for key, value in input.items()]
    raise InvalidRunOptionsError(
        f"Input of type {type(input).__name__} has no default mapping to writes; pass "
        "a dict of {channel: value}, or override Schema.input_writes",
        option="input",
    )


_SCOPE_BYTE = {Scope.GLOBAL: 0, Scope.TASK_LOCAL: 1}
_PERSISTENCE_BYTE = {
    Persistence.CHECKPOINTED: 0,
    Persistence.UNTRACKED: 1,
    Persistence.EPHEMERAL: 2,
}
_POLICY_BYTE = {UpdatePolicy.SINGLE: 0, UpdatePolicy.MULTI: 1}


@attrs.frozen(kw_only=True, eq=False)
class SchemaSpec:
    """A resolved schema: channels in sorted id order and the run-time hooks.

    Built once per schema; lookups by id are plain dict reads on the hot path.
    """

    name: str
    channels: tuple[Channel[Any], ...]
    """All channels, sorted by id (UTF-8 byte order equals code-point order)."""
    input_writes: InputWrites = default_input_writes
    interrupt_payload: Any = object
    resume_payload: Any = object
    by_id: Mapping[str, Channel[Any]] = attrs.field(init=False)
    global_ids: tuple[str, ...] = attrs.field(init=False)
    global_by_id: Mapping[str, Channel[Any]] = attrs.field(init=False)
    """The global channels by id: one lookup tells both that a channel is known
    and that it is global (the ``updates`` stream mode, ``_stream_data.py``)."""
    task_local_ids: tuple[str, ...] = attrs.field(init=False)
    version: str = attrs.field(init=False)
    """HSV1 schema version (lowercase hex SHA-256)."""

    def __attrs_post_init__(self) -> None:
        ordered = tuple(sorted(self.channels, key=lambda c: c.id))
        object.__setattr__(self, "channels", ordered)
        by_id: dict[str, Channel[Any]] = {}
        for ch in ordered:
            by_id.setdefault(ch.id, ch)
        object.__setattr__(self, "by_id", by_id)
        object.__setattr__(
            self,
            "global_ids",
            tuple(c.id for c in ordered if c.scope is Scope.GLOBAL),
        )
        object.__setattr__(
            self,
            "global_by_id",
            {cid: ch for cid, ch in by_id.items() if ch.scope is Scope.GLOBAL},
        )
        object.__setattr__(
            self,
            "task_local_ids",
            tuple(c.id for c in ordered if c.scope is Scope.TASK_LOCAL),
        )
        object.__setattr__(self, "version", schema_version(ordered))

    def problems(self) -> list[Problem]:
        """Registry problems, each kind listed in ascending channel id order."""
        out: list[Problem] = []
        seen: dict[str, int] = {}
        for ch in self.channels:
            seen[ch.id] = seen.get(ch.id, 0) + 1
        for cid in sorted(k for k, n in seen.items() if n > 1):
            out.append(
                Problem(
                    code="duplicate-channel-id",
                    message=f"Channel id `{cid}` is declared {seen[cid]} times",
                    subject=cid,
                )
            )
        for ch in self.channels:
            if ch.scope is Scope.TASK_LOCAL and ch.persistence is Persistence.UNTRACKED:
                out.append(
                    Problem(
                        code="task-local-untracked",
                        message=f"Channel `{ch.id}` is task-local and untracked; "
                        "task-local values travel with their task and must be "
                        "checkpointed",
                        subject=ch.id,
                    )
                )
        for ch in self.channels:
            needs = ch.scope is Scope.TASK_LOCAL or (
                ch.persistence is Persistence.CHECKPOINTED
            )
            if needs and ch.codec is None:
                out.append(
                    Problem(
                        code="missing-codec",
                        message=f"Channel `{ch.id}` needs a codec: it is "
                        + (
                            "task-local"
                            if ch.scope is Scope.TASK_LOCAL
                            else "global and checkpointed"
                        )
                        + "; drop codec=None or pass one",
                        subject=ch.id,
                    )
                )
        return out

    def validate(self) -> None:
        """Raise ``CompilationError`` listing every registry problem, if any."""
        found = self.problems()
        if found:
            raise CompilationError(found)


def schema_version(channels: Iterable[Channel[Any]]) -> str:
    """HSV1: tag, ``C``, channel count, then per sorted channel its fixed fields."""
    ordered = sorted(channels, key=lambda c: c.id)
    parts = [b"HSV1C", struct.pack(">I", len(ordered))]
    for ch in ordered:
        parts.append(lp(ch.id))
        parts.append(
            bytes(
                (
                    _SCOPE_BYTE[ch.scope],
                    _PERSISTENCE_BYTE[ch.persistence],
                    _POLICY_BYTE[ch.update],
                )
            )
        )
        parts.append(lp(ch.codec.id if ch.codec is not None else ""))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def schema_of(
    channels: Iterable[Channel[Any]],
    *,
    name: str = "schema",
    input_writes: InputWrites | None = None,
    interrupt_payload: Any = object,
    resume_payload: Any = object,
) -> SchemaSpec:
    """A schema from a plain list of channels (each built with an explicit id)."""
    return SchemaSpec(
        name=name,
        channels=tuple(channels),
        input_writes=input_writes or default_input_writes,
        interrupt_payload=interrupt_payload,
        resume_payload=resume_payload,
    )


class Schema:
    """Base class for declaring a schema with typed channel attributes.

    ```python
    class Chat(Schema):
        messages = channel(list[str], reducer=reducers.append, update="multi")
        topic = channel(str)
    ```

    Override ``input_writes`` to map a custom input type, and set
    ``interrupt_payload`` / ``resume_payload`` to declare the payload types.
    """

    interrupt_payload: ClassVar[Any] = object
    resume_payload: ClassVar[Any] = object
    __hive_spec__: ClassVar[SchemaSpec | None] = None

    @classmethod
    def input_writes(cls, input: object, ctx: InputContext) -> Sequence[Write[Any]]:
        """Map a run's input to writes; the default handles ``None`` and dicts."""
        return default_input_writes(input, ctx)

    @classmethod
    def spec(cls) -> SchemaSpec:
        """The resolved ``SchemaSpec`` (built once and cached on the class)."""
        cached = cls.__dict__.get("__hive_spec__")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        found: dict[str, Channel[Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Channel):
                    found[attr] = value
        spec = SchemaSpec(
            name=cls.__qualname__,
            channels=tuple(found.values()),
            input_writes=cls.input_writes,
            interrupt_payload=cls.interrupt_payload,
            resume_payload=cls.resume_payload,
        )
        cls.__hive_spec__ = spec
        return spec


def resolve_schema(schema: type[Schema] | SchemaSpec) -> SchemaSpec:
    """Accept either declaration style wherever a schema is expected."""
    if isinstance(schema, SchemaSpec):
        return schema
    if isinstance(schema, type) and issubclass(schema, Schema):  # type: ignore[redundant-expr]
        return schema.spec()
    raise TypeError(
        f"Expected a Schema subclass or a SchemaSpec, got {type(schema).__name__}"
    )
