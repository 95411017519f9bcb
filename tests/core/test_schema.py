"""Channels and schemas: both declaration styles, registry problems, HSV1, input."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

import pytest

from hive_core import (
    Channel,
    CompilationError,
    DefinitionError,
    InputContext,
    InvalidRunOptionsError,
    JSONCodec,
    Persistence,
    Schema,
    SchemaSpec,
    Scope,
    UpdatePolicy,
    Write,
    channel,
    reducers,
    schema_of,
)
from hive_core.state._schema import default_input_writes, resolve_schema

HSV1_GOLDEN = "76a2aa861605de05dad8d5c61c87aa45b56fa74a32c5986397e5cf025866b892"
CTX = InputContext(thread_id="t", run_id="r", step_index=0)


class IdCodec:
    """The smallest codec: an id plus canonical bytes for ints."""

    def __init__(self, id: str) -> None:
        self.id = id

    def encode(self, value: int, /) -> bytes:
        return str(value).encode()

    def decode(self, data: bytes, /) -> int:
        return int(data)


class Opaque:
    """A user type with no zero-argument default Hive knows of."""


def lp(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">I", len(raw)) + raw


class Chat(Schema):
    messages = channel(list[str], reducer=reducers.append, update="multi")
    topic = channel(str)
    scratch = channel(int, scope="task_local")


class TestSchemaSubclass:
    def test_ids_come_from_attribute_names(self) -> None:
        assert Chat.messages.id == "messages"
        assert Chat.topic.id == "topic"

    def test_class_attributes_are_the_channel_objects(self) -> None:
        assert isinstance(Chat.messages, Channel)
        assert Chat.spec().by_id["messages"] is Chat.messages

    def test_spec_lists_channels_sorted_by_id(self) -> None:
        assert [c.id for c in Chat.spec().channels] == ["messages", "scratch", "topic"]

    def test_spec_splits_global_and_task_local_ids(self) -> None:
        spec = Chat.spec()
        assert spec.global_ids == ("messages", "topic")
        assert spec.task_local_ids == ("scratch",)

    def test_spec_is_built_once_and_cached(self) -> None:
        assert Chat.spec() is Chat.spec()

    def test_spec_is_named_after_the_class(self) -> None:
        assert Chat.spec().name == "Chat"

    def test_explicit_id_overrides_the_attribute_name(self) -> None:
        class Renamed(Schema):
            attr = channel(int, id="wire-name")

        assert Renamed.attr.id == "wire-name"
        assert [c.id for c in Renamed.spec().channels] == ["wire-name"]

    def test_subclass_inherits_and_extends_channels(self) -> None:
        class Base(Schema):
            a = channel(int)

        class Derived(Base):
            b = channel(int)

        assert [c.id for c in Base.spec().channels] == ["a"]
        assert [c.id for c in Derived.spec().channels] == ["a", "b"]
        assert Derived.spec() is not Base.spec()

    def test_non_channel_attributes_are_ignored(self) -> None:
        class WithHelpers(Schema):
            a = channel(int)
            LIMIT = 3

            def helper(self) -> int:
                return 1

        assert [c.id for c in WithHelpers.spec().channels] == ["a"]

    def test_payload_types_are_carried_into_the_spec(self) -> None:
        class Approvals(Schema):
            interrupt_payload = str
            resume_payload = bool
            a = channel(int)

        spec = Approvals.spec()
        assert spec.interrupt_payload is str
        assert spec.resume_payload is bool

    def test_overridden_input_writes_is_used_by_the_spec(self) -> None:
        class Question(Schema):
            text = channel(str)

            @classmethod
            def input_writes(
                cls, input: object, ctx: InputContext
            ) -> Sequence[Write[Any]]:
                return [Write(cls.text, str(input))]

        writes = Question.spec().input_writes("hi", CTX)
        assert [(w.channel_id, w.value) for w in writes] == [("text", "hi")]


class TestSchemaOf:
    def test_channels_sorted_by_id(self) -> None:
        spec = schema_of([channel(int, id="b"), channel(int, id="a")])
        assert [c.id for c in spec.channels] == ["a", "b"]

    def test_sorting_uses_code_point_order(self) -> None:
        spec = schema_of([channel(int, id=i) for i in ["é", "a", "Z", "_"]])
        assert [c.id for c in spec.channels] == ["Z", "_", "a", "é"]

    def test_default_name(self) -> None:
        assert schema_of([]).name == "schema"

    def test_custom_input_writes(self) -> None:
        count = channel(int, id="count")

        def writes(input: object, ctx: InputContext) -> list[Write[Any]]:
            return [Write(count, ctx.step_index)]

        spec = schema_of([count], input_writes=writes)
        assert spec.input_writes(None, CTX) == [Write(count, 0)]

    def test_both_styles_give_the_same_version(self) -> None:
        class Pair(Schema):
            a = channel(int)
            b = channel(str, persistence="untracked")

        listed = schema_of(
            [channel(int, id="a"), channel(str, id="b", persistence="untracked")]
        )
        assert Pair.spec().version == listed.version


class TestResolveSchema:
    def test_accepts_a_schema_subclass(self) -> None:
        assert resolve_schema(Chat) is Chat.spec()

    def test_accepts_a_spec(self) -> None:
        spec = schema_of([])
        assert resolve_schema(spec) is spec

    def test_rejects_anything_else(self) -> None:
        with pytest.raises(TypeError, match="Schema subclass or a SchemaSpec"):
            resolve_schema(Chat())  # type: ignore[arg-type]


class TestChannelDeclaration:
    def test_defaults(self) -> None:
        ch = channel(int, id="x")
        assert ch.scope is Scope.GLOBAL
        assert ch.update is UpdatePolicy.SINGLE
        assert ch.persistence is Persistence.CHECKPOINTED
        assert ch.reducer is reducers.last_write_wins
        assert ch.value_type is int

    def test_literal_options_become_enums(self) -> None:
        ch = channel(
            int, id="x", scope="task_local", update="multi", persistence="ephemeral"
        )
        assert ch.scope is Scope.TASK_LOCAL
        assert ch.update is UpdatePolicy.MULTI
        assert ch.persistence is Persistence.EPHEMERAL
        assert ch.is_task_local

    def test_default_codec_is_json_over_the_declared_type(self) -> None:
        ch = channel(list[int], id="x")
        assert isinstance(ch.codec, JSONCodec)
        assert ch.codec.id == "json"
        assert ch.codec.decode(ch.codec.encode([1, 2])) == [1, 2]

    def test_codec_none_declares_no_codec(self) -> None:
        assert channel(int, id="x", codec=None).codec is None

    def test_custom_codec_is_kept(self) -> None:
        codec = IdCodec("int.v1")
        assert channel(int, id="x", codec=codec).codec is codec

    def test_type_check_uses_the_runtime_class(self) -> None:
        ch = channel(list[str], id="x")
        assert ch.accepts(["a"])
        assert ch.accepts([1])  # only the origin class is checked
        assert not ch.accepts(("a",))

    def test_float_channel_accepts_int(self) -> None:
        ch = channel(float, id="x")
        assert ch.accepts(1)
        assert not ch.accepts("1")

    def test_optional_channel_accepts_none(self) -> None:
        ch = channel(int | None, id="x")
        assert ch.accepts(None)
        assert ch.accepts(3)
        assert not ch.accepts("3")

    def test_object_channel_accepts_anything(self) -> None:
        ch = channel(object, id="x", initial=lambda: None)
        assert ch.accepts(object())

    def test_type_name_is_readable(self) -> None:
        assert channel(int, id="x").type_name == "int"
        assert channel(list[str], id="x").type_name == "list[str]"

    def test_repr_names_id_type_and_scope(self) -> None:
        assert repr(channel(int, id="x")) == "Channel('x', int, global)"

    def test_invalid_option_is_a_definition_error(self) -> None:
        with pytest.raises(DefinitionError) as info:
            channel(int, id="x", scope="everywhere")  # type: ignore[arg-type]
        assert info.value.code == "definition-error"
        assert info.value.subject == "x"
        assert "everywhere" in str(info.value)


class TestDefaultInitialValues:
    @pytest.mark.parametrize(
        ("value_type", "expected"),
        [
            (int, 0),
            (float, 0.0),
            (str, ""),
            (bytes, b""),
            (bool, False),
            (list[str], []),
            (dict[str, int], {}),
            (set[int], set()),
            (frozenset[int], frozenset()),
            (tuple[int, ...], ()),
            (int | None, None),
        ],
        ids=repr,
    )
    def test_empty_value_of_the_declared_type(
        self, value_type: Any, expected: object
    ) -> None:
        value = channel(value_type, id="x").initial()
        assert value == expected
        assert type(value) is type(expected)

    def test_mutable_defaults_are_fresh_each_call(self) -> None:
        ch = channel(list[str], id="x")
        assert ch.initial() is not ch.initial()

    def test_immutable_value_is_returned_as_is(self) -> None:
        assert channel(int, id="x", initial=5).initial() == 5
        assert channel(tuple[int, ...], id="x", initial=(1, 2)).initial() == (1, 2)

    def test_factory_is_called(self) -> None:
        assert channel(list[int], id="x", initial=lambda: [1]).initial() == [1]

    def test_class_as_factory(self) -> None:
        ch = channel(Opaque, id="x", initial=Opaque)
        assert isinstance(ch.initial(), Opaque)


class TestDefinitionErrors:
    def test_unknown_type_without_initial(self) -> None:
        with pytest.raises(DefinitionError) as info:
            channel(Opaque, id="thing")
        err = info.value
        assert err.code == "definition-error"
        assert err.subject == "thing"
        assert "channel(Opaque) needs an initial value factory" in str(err)
        assert "Correct:   channel(Opaque, initial=lambda: ...)" in str(err)

    def test_union_without_none_has_no_default(self) -> None:
        with pytest.raises(DefinitionError, match="needs an initial value factory"):
            channel(int | str, id="x")

    @pytest.mark.parametrize("initial", [[], {}, {1}], ids=["list", "dict", "set"])
    def test_mutable_initial_value(self, initial: object) -> None:
        with pytest.raises(DefinitionError) as info:
            channel(object, id="bad", initial=initial)
        err = info.value
        assert err.code == "definition-error"
        assert err.subject == "bad"
        assert "is mutable and would be shared between runs" in str(err)
        assert "Correct:   channel(list[str], initial=list)" in str(err)

    def test_unbound_channel_id(self) -> None:
        ch = channel(int)
        with pytest.raises(DefinitionError) as info:
            _ = ch.id
        err = info.value
        assert err.code == "definition-error"
        assert "This channel has no id yet" in str(err)
        assert "class Chat(Schema):" in str(err)

    def test_definition_error_is_also_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            channel(Opaque, id="x")


class TestRegistryProblems:
    def test_valid_schema_has_no_problems(self) -> None:
        spec = Chat.spec()
        assert spec.problems() == []
        spec.validate()

    def test_duplicate_ids_one_problem_per_id_sorted(self) -> None:
        spec = schema_of(
            [channel(int, id=i) for i in ["b", "a", "b", "c", "a", "a"]],
        )
        problems = spec.problems()
        assert [p.code for p in problems] == ["duplicate-channel-id"] * 2
        assert [p.subject for p in problems] == ["a", "b"]
        assert "declared 3 times" in problems[0].message
        assert "declared 2 times" in problems[1].message

    def test_task_local_untracked(self) -> None:
        spec = schema_of(
            [
                channel(int, id="z", scope="task_local", persistence="untracked"),
                channel(int, id="y", scope="task_local", persistence="untracked"),
                channel(int, id="ok", scope="task_local"),
            ]
        )
        problems = spec.problems()
        assert [(p.code, p.subject) for p in problems] == [
            ("task-local-untracked", "y"),
            ("task-local-untracked", "z"),
        ]
        assert "must be checkpointed" in problems[0].message

    def test_missing_codec_for_task_local_and_checkpointed_globals(self) -> None:
        spec = schema_of(
            [
                channel(int, id="local", scope="task_local", codec=None),
                channel(int, id="saved", codec=None),
                channel(int, id="untracked", persistence="untracked", codec=None),
                channel(int, id="ephemeral", persistence="ephemeral", codec=None),
            ]
        )
        problems = spec.problems()
        assert [(p.code, p.subject) for p in problems] == [
            ("missing-codec", "local"),
            ("missing-codec", "saved"),
        ]
        assert "task-local" in problems[0].message
        assert "global and checkpointed" in problems[1].message

    def test_kinds_are_listed_in_spec_order(self) -> None:
        spec = schema_of(
            [
                channel(int, id="a", codec=None),
                channel(int, id="b", scope="task_local", persistence="untracked"),
                channel(int, id="c"),
                channel(int, id="c"),
            ]
        )
        assert [(p.code, p.subject) for p in spec.problems()] == [
            ("duplicate-channel-id", "c"),
            ("task-local-untracked", "b"),
            ("missing-codec", "a"),
        ]

    def test_validate_raises_every_problem_at_once(self) -> None:
        spec = schema_of(
            [
                channel(int, id="a", codec=None),
                channel(int, id="b", scope="task_local", persistence="untracked"),
            ]
        )
        with pytest.raises(CompilationError) as info:
            spec.validate()
        assert info.value.codes == ("task-local-untracked", "missing-codec")
        assert [p.subject for p in info.value.problems] == ["b", "a"]


class TestSchemaVersion:
    def test_hsv1_golden(self) -> None:
        spec = schema_of(
            [
                channel(int, id="b", persistence="untracked", codec=None),
                channel(int, id="a", codec=IdCodec("int.v1")),
            ]
        )
        assert spec.version == HSV1_GOLDEN

    def test_hsv1_hand_computed(self) -> None:
        spec = schema_of(
            [
                channel(int, id="é", scope="task_local", update="multi"),
                channel(int, id="e", persistence="ephemeral", codec=None),
            ]
        )
        data = (
            b"HSV1C"
            + struct.pack(">I", 2)
            + lp("e")
            + bytes([0, 2, 0])
            + lp("")
            + lp("é")
            + bytes([1, 0, 1])
            + lp("json")
        )
        assert spec.version == hashlib.sha256(data).hexdigest()

    def test_empty_schema(self) -> None:
        data = b"HSV1C" + struct.pack(">I", 0)
        assert schema_of([]).version == hashlib.sha256(data).hexdigest()

    def test_independent_of_declaration_order(self) -> None:
        a, b = channel(int, id="a"), channel(str, id="b")
        assert schema_of([a, b]).version == schema_of([b, a]).version

    def test_value_type_does_not_enter_hsv1(self) -> None:
        as_int = schema_of([channel(int, id="a", codec=IdCodec("c"))])
        as_str = schema_of([channel(str, id="a", codec=IdCodec("c"))])
        assert as_int.version == as_str.version

    @pytest.mark.parametrize(
        "changed",
        [
            {"scope": "task_local"},
            {"persistence": "untracked"},
            {"update": "multi"},
            {"codec": IdCodec("int.v2")},
            {"id": "a2"},
        ],
        ids=["scope", "persistence", "update", "codec", "id"],
    )
    def test_every_hashed_field_changes_the_version(
        self, changed: dict[str, Any]
    ) -> None:
        base: dict[str, Any] = {"id": "a", "codec": IdCodec("int.v1")}
        before = schema_of([channel(int, **base)]).version
        after = schema_of([channel(int, **(base | changed))]).version
        assert before != after

    def test_version_is_a_spec_attribute(self) -> None:
        assert isinstance(Chat.spec(), SchemaSpec)
        assert len(Chat.spec().version) == 64


class TestDefaultInputWrites:
    def test_none_writes_nothing(self) -> None:
        assert tuple(default_input_writes(None, CTX)) == ()

    def test_dict_keyed_by_channel(self) -> None:
        writes = default_input_writes({Chat.topic: "t", Chat.messages: ["m"]}, CTX)
        assert [(w.channel_id, w.value) for w in writes] == [
            ("topic", "t"),
            ("messages", ["m"]),
        ]
        assert writes[0].channel is Chat.topic

    def test_dict_keyed_by_id(self) -> None:
        writes = default_input_writes({"topic": "t"}, CTX)
        assert [(w.channel_id, w.value) for w in writes] == [("topic", "t")]

    def test_one_write_per_key_in_dict_order(self) -> None:
        writes = default_input_writes({"b": 1, "a": 2}, CTX)
        assert [w.channel_id for w in writes] == ["b", "a"]

    @pytest.mark.parametrize("bad", ["text", 3, ["topic"]], ids=["str", "int", "list"])
    def test_non_dict_input_is_rejected(self, bad: object) -> None:
        with pytest.raises(InvalidRunOptionsError) as info:
            default_input_writes(bad, CTX)
        err = info.value
        assert err.code == "invalid-run-options"
        assert err.option == "input"
        assert type(bad).__name__ in str(err)

    def test_schema_subclass_uses_the_default(self) -> None:
        assert tuple(Chat.spec().input_writes(None, CTX)) == ()
        writes = Chat.spec().input_writes({"topic": "x"}, CTX)
        assert [w.channel_id for w in writes] == ["topic"]


class TestWrite:
    def test_channel_id_from_channel(self) -> None:
        assert Write(Chat.topic, "x").channel_id == "topic"

    def test_channel_id_from_string(self) -> None:
        assert Write("topic", "x").channel_id == "topic"

    def test_writes_are_frozen_and_comparable(self) -> None:
        w = Write(Chat.topic, "x")
        assert w == Write(Chat.topic, "x")
        with pytest.raises(AttributeError):
            w.value = "y"  # type: ignore[misc]
