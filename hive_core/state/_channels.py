"""Channel declarations: the typed keys of a schema.

A ``Channel[T]`` is both the spec (scope, reducer, policy, codec, persistence) and the
key a node uses to read (``view.get(Chat.messages)``) and write
(``Write(Chat.messages, [...])``), so a type checker follows the value type end to end.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar, final, get_args, get_origin

import msgspec
from typing_extensions import TypeForm

from .. import reducers
from ..errors import DefinitionError
from ._codecs import Codec, JSONCodec

__all__ = [
    "DEFAULT_CODEC",
    "Channel",
    "ReadKey",
    "Persistence",
    "Scope",
    "UpdatePolicy",
    "Write",
    "channel",
    "type_name",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class ReadKey(Protocol[T_co]):
    """What a read needs of a key: its value type, covariantly.

    Reads take a ``ReadKey`` rather than a ``Channel`` so that
    ``enumerate(view.get(Chat.messages))`` type-checks: mypy infers a read's type from
    its context, and an invariant ``Channel[list[str]]`` would not fit the
    ``Iterable[str]`` that ``enumerate`` asks for. Writes keep the invariant
    ``Channel``, so a wrong-typed write is still a type error.
    """

    def __hive_read__(self) -> T_co: ...


class Scope(enum.Enum):
    """Where a channel's value lives: one shared value, or one per task."""

    GLOBAL = "global"
    TASK_LOCAL = "task_local"


class UpdatePolicy(enum.Enum):
    """How many writes one commit may carry for a channel."""

    SINGLE = "single"
    MULTI = "multi"


class Persistence(enum.Enum):
    """Whether a channel's value is saved in checkpoints, kept in memory, or reset."""

    CHECKPOINTED = "checkpointed"
    UNTRACKED = "untracked"
    EPHEMERAL = "ephemeral"


class _DefaultCodec(enum.Enum):
    DEFAULT = "DEFAULT"


DEFAULT_CODEC: Literal[_DefaultCodec.DEFAULT] = _DefaultCodec.DEFAULT
"""Sentinel: use a ``JSONCodec`` over the declared type (``codec=None`` means none)."""

_IMMUTABLE_INITIALS = (int, float, str, bytes, bool, tuple, frozenset, type(None))
_ZERO_ARG_TYPES = (list, dict, set, frozenset, tuple, int, float, str, bytes, bool)
_NO_CHECK: tuple[type, ...] = ()


def type_name(tp: object) -> str:
    """A readable name for a declared type, used in error messages."""
    if isinstance(tp, type) and get_origin(tp) is None:
        return tp.__qualname__ if tp.__module__ != "builtins" else tp.__name__
    return repr(tp).replace("typing.", "")


def _runtime_types(tp: object) -> tuple[type, ...]:
    """The classes ``isinstance`` checks a written value against; () means anything."""
    if tp is Any or tp is object:
        return _NO_CHECK
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        out: list[type] = []
        for arg in get_args(tp):
            sub = _runtime_types(arg)
            if not sub:
                return _NO_CHECK
            out.extend(sub)
        return tuple(out)
    if origin is Literal:
        return tuple(sorted({type(a) for a in get_args(tp)}, key=lambda c: c.__name__))
    if origin is typing.Annotated:
        return _runtime_types(get_args(tp)[0])
    if tp is None or tp is type(None):
        return (type(None),)
    if tp is float:
        return (float, int)  # PEP 484: an int is acceptable where a float is declared
    if origin is not None:
        return (origin,) if isinstance(origin, type) else _NO_CHECK
    if isinstance(tp, type):
        return (tp,)
    return _NO_CHECK


def _default_initial(tp: object) -> Callable[[], Any] | None:
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return (lambda: None) if type(None) in get_args(tp) else None
    base = origin if origin is not None else tp
    if base in _ZERO_ARG_TYPES:
        return typing.cast("Callable[[], Any]", base)
    return None


@final
class Channel(Generic[T]):
    """One channel of a schema; also the typed key used to read and write it.

    Build it with ``channel(...)``. Its ``id`` is the attribute name it is assigned to
    in a ``Schema`` subclass unless given explicitly.
    """

    __slots__ = (
        "_id",
        "check_types",
        "codec",
        "initial",
        "is_ephemeral",
        "is_global",
        "is_single",
        "persistence",
        "reducer",
        "scope",
        "update",
        "value_type",
    )

    def __init__(
        self,
        *,
        id: str | None,
        value_type: object,
        scope: Scope,
        reducer: Callable[[T, T], T],
        update: UpdatePolicy,
        initial: Callable[[], T],
        codec: Codec[T] | None,
        persistence: Persistence,
    ) -> None:
        self._id = id
        self.value_type = value_type
        self.scope = scope
        self.reducer = reducer
        self.update = update
        self.initial = initial
        self.codec = codec
        self.persistence = persistence
        # a coercing reducer takes looser writes; the commit checks its result
        self.check_types = (
            () if reducers.is_coercing(reducer) else _runtime_types(value_type)
        )
        # plain booleans: enum member access costs ~190 ns on 3.11's hot path
        self.is_global = scope is Scope.GLOBAL
        self.is_single = update is UpdatePolicy.SINGLE
        self.is_ephemeral = persistence is Persistence.EPHEMERAL

    @property
    def id(self) -> str:
        """The channel id; unique within a schema."""
        if self._id is None:
            raise DefinitionError(
                "This channel has no id yet: assign it to a Schema class attribute or "
                "pass id=...\n\n"
                "Incorrect: messages = channel(list[str])  # at module level\n"
                "Correct:   class Chat(Schema):\n"
                "               messages = channel(list[str])"
            )
        return self._id

    @property
    def is_task_local(self) -> bool:
        return not self.is_global

    def __hive_read__(self) -> T:
        """Static-typing hook for ``ReadKey``; reads never call it."""
        raise TypeError("__hive_read__ exists for type checkers only")

    def __set_name__(self, owner: type, name: str) -> None:
        if self._id is None:
            self._id = name

    def accepts(self, value: object) -> bool:
        """Whether ``value`` passes the channel's runtime type check."""
        return not self.check_types or isinstance(value, self.check_types)

    @property
    def type_name(self) -> str:
        return type_name(self.value_type)

    def __repr__(self) -> str:
        return f"Channel({self._id!r}, {self.type_name}, {self.scope.value})"


def channel(
    value_type: TypeForm[T],
    *,
    id: str | None = None,
    scope: Scope | Literal["global", "task_local"] = Scope.GLOBAL,
    reducer: Callable[[T, T], T] | None = None,
    update: UpdatePolicy | Literal["single", "multi"] = UpdatePolicy.SINGLE,
    initial: Callable[[], T] | T | None = None,
    codec: Codec[T] | _DefaultCodec | None = DEFAULT_CODEC,
    persistence: Persistence
    | Literal["checkpointed", "untracked", "ephemeral"] = Persistence.CHECKPOINTED,
) -> Channel[T]:
    """Declare a channel.

    ``value_type`` is a ``TypeForm`` (PEP 747, from typing-extensions), not a
    ``type``: unions, optionals, ``Literal`` and ``Annotated`` are type expressions
    but not classes, so ``channel(int | None)`` gives a ``Channel[int | None]``
    under ``mypy --strict`` (``docs/concepts/schema-and-channels.md``).

    Args:
        value_type: The declared Python type; every write is checked against its
            runtime class (``list`` for ``list[str]``).
        id: The channel id; defaults to the attribute name in a ``Schema`` class.
        scope: ``"global"`` (one shared value) or ``"task_local"`` (per task).
        reducer: How writes fold into the value; defaults to last-write-wins.
        update: ``"single"`` allows one write per commit, ``"multi"`` any number.
        initial: A zero-argument factory, or an immutable value. Defaults to the
            type's empty value (``[]``, ``0``, ``""``, ``None`` for optionals).
        codec: Defaults to ``JSONCodec(value_type)``; ``None`` declares no codec.
        persistence: ``"checkpointed"``, ``"untracked"`` or ``"ephemeral"``.
    """
    factory: Callable[[], T]
    if initial is None:  # checked first: None is also an immutable value
        found = _default_initial(value_type)
        if found is None:
            raise DefinitionError(
                f"channel({type_name(value_type)}) needs an initial value factory\n\n"
                f"Incorrect: channel({type_name(value_type)})\n"
                f"Correct:   channel({type_name(value_type)}, initial=lambda: ...)",
                subject=id,
            )
        factory = found
    elif isinstance(initial, _IMMUTABLE_INITIALS) and not callable(initial):
        frozen_value: Any = initial
        factory = lambda: frozen_value  # noqa: E731
    elif callable(initial):
        factory = initial
    else:
        raise DefinitionError(
            f"initial={initial!r} is mutable and would be shared between runs; pass "
            "a factory instead\n\n"
            "Incorrect: channel(list[str], initial=[])\n"
            "Correct:   channel(list[str], initial=list)",
            subject=id,
        )
    resolved_codec: Codec[T] | None
    if codec is DEFAULT_CODEC:
        resolved_codec = JSONCodec(value_type)
    else:
        resolved_codec = codec
    try:
        return Channel(
            id=id,
            value_type=value_type,
            scope=Scope(scope),
            reducer=reducer if reducer is not None else reducers.last_write_wins,
            update=UpdatePolicy(update),
            initial=factory,
            codec=resolved_codec,
            persistence=Persistence(persistence),
        )
    except ValueError as exc:
        raise DefinitionError(
            f"Invalid channel declaration: {exc}", subject=id
        ) from None


class Write(msgspec.Struct, Generic[T], frozen=True, array_like=True):
    """One write of ``value`` to ``channel``; its position in a node's output list is
    its emission index, which orders it within the task."""

    channel: Channel[T] | str
    """The channel key (or, for hand-built graphs, the channel id)."""
    value: T
    """The update handed to the channel's reducer."""

    @property
    def channel_id(self) -> str:
        ch = self.channel
        return ch if isinstance(ch, str) else ch.id
