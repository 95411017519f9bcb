"""Messages as users write them: strings, role tuples, dicts, ChatMessage objects,
coerced by ``messages_reducer`` with deterministic (HMSGD1) ids."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_core import (
    CheckpointPolicy,
    InMemoryCheckpointStore,
    JSONCodec,
    ReducerError,
    RunOptions,
    Runtime,
    Schema,
    channel,
)
from hive_core.models import (
    ChatMessage,
    MessageFormatError,
    ToolCall,
    derived_message_id,
    messages_channel,
    messages_reducer,
)
from hive_dsl import AgentState, Effects, Workflow, Write

CODEC: JSONCodec[list[ChatMessage]] = JSONCodec(list[ChatMessage])


def contents(msgs: list[ChatMessage]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in msgs]


class TestForms:
    def test_a_string_is_a_user_message(self) -> None:
        (msg,) = messages_reducer([], ["hi"])
        assert (msg.role, msg.content, msg.op) == ("user", "hi", None)
        assert msg.id.startswith("msg:")

    def test_a_bare_item_is_one_message(self) -> None:
        assert contents(messages_reducer([], "hi")) == [("user", "hi")]
        assert contents(messages_reducer([], ("assistant", "yo"))) == [
            ("assistant", "yo")
        ]
        assert contents(messages_reducer([], {"role": "system", "content": "s"})) == [
            ("system", "s")
        ]

    @pytest.mark.parametrize(
        ("role", "expected"),
        [
            ("user", "user"),
            ("human", "user"),
            ("assistant", "assistant"),
            ("ai", "assistant"),
            ("system", "system"),
            ("developer", "system"),
        ],
    )
    def test_role_tuples_and_their_langchain_aliases(
        self, role: str, expected: str
    ) -> None:
        assert contents(messages_reducer([], [(role, "text")])) == [(expected, "text")]

    def test_a_tool_tuple_answers_a_call_and_takes_its_tool_id(self) -> None:
        (msg,) = messages_reducer([], [("tool", "5", "c1")])
        assert (msg.id, msg.role, msg.tool_call_id, msg.content) == (
            "tool:c1",
            "tool",
            "c1",
            "5",
        )

    def test_dict_with_every_optional_key(self) -> None:
        (msg,) = messages_reducer(
            [],
            [
                {
                    "id": "m1",
                    "role": "assistant",
                    "content": None,
                    "name": "bot",
                    "tool_calls": [
                        {  # OpenAI's spelling
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a": 1}'},
                        },
                        {
                            "id": "c2",
                            "name": "add",
                            "args": {"b": 2, "a": 1},
                        },  # LangGraph
                        ToolCall(id="c3", name="add", arguments_json="{}"),
                    ],
                }
            ],
        )
        assert msg == ChatMessage(
            id="m1",
            role="assistant",
            content="",
            name="bot",
            tool_calls=(
                ToolCall(id="c1", name="add", arguments_json='{"a": 1}'),
                ToolCall(id="c2", name="add", arguments_json='{"a":1,"b":2}'),
                ToolCall(id="c3", name="add", arguments_json="{}"),
            ),
        )

    def test_dict_tool_message_and_langchain_type_key(self) -> None:
        out = messages_reducer(
            [],
            [
                {"type": "human", "content": [{"type": "text", "text": "a"}, "b"]},
                {"role": "tool", "content": "r", "tool_call_id": "c9", "name": "add"},
            ],
        )
        assert contents(out) == [("user", "ab"), ("tool", "r")]
        assert (out[1].id, out[1].name) == ("tool:c9", "add")

    def test_chat_messages_pass_through_unchanged(self) -> None:
        msg = ChatMessage.user("u1", "hi")
        assert messages_reducer([], [msg])[0] is msg
        assert messages_reducer([], (msg,)) == [msg]
        assert messages_reducer([], msg) == [msg]

    def test_mixed_list_with_operations(self) -> None:
        current = messages_reducer([], ["old", ChatMessage.user("keep", "k")])
        out = messages_reducer(
            current,
            [
                ChatMessage.remove("keep"),
                "a",
                ("assistant", "b"),
                {"role": "user", "content": "c"},
            ],
        )
        assert contents(out) == [
            ("user", "old"),
            ("user", "a"),
            ("assistant", "b"),
            ("user", "c"),
        ]
        cleared = messages_reducer(out, ["gone", ChatMessage.remove_all(), "fresh"])
        assert contents(cleared) == [("user", "fresh")]

    def test_a_dict_with_an_id_replaces_by_id(self) -> None:
        out = messages_reducer(
            [ChatMessage.user("m1", "old")],
            [{"id": "m1", "role": "user", "content": "new"}],
        )
        assert out == [ChatMessage.user("m1", "new")]


class TestIds:
    def test_the_id_rule_hmsgd1(self) -> None:
        (first, second) = messages_reducer([], ["hi", ("assistant", "yo")])
        body = msgspec.json.encode(ChatMessage(id="", role="user", content="hi"))
        expected = hashlib.sha256(
            b"HMSGD1" + struct.pack(">I", 0) + struct.pack(">I", 0) + body
        ).hexdigest()
        assert first.id == "msg:" + expected
        assert second.id == derived_message_id(
            first.id, 1, ChatMessage(id="", role="assistant", content="yo")
        )

    def test_the_same_text_twice_gives_two_messages(self) -> None:
        out = messages_reducer([], ["hi", "hi"])
        assert contents(out) == [("user", "hi"), ("user", "hi")]
        assert out[0].id != out[1].id
        again = messages_reducer(out, ["hi"])
        assert len({m.id for m in again}) == 3

    def test_ids_do_not_depend_on_how_the_update_was_split(self) -> None:
        whole = messages_reducer([], ["a", "b", "c"])
        split = messages_reducer(
            messages_reducer([], ["a"]),
            [("user", "b"), {"role": "user", "content": "c"}],
        )
        assert whole == split

    def test_a_taken_derived_id_is_skipped_so_the_message_is_appended(self) -> None:
        last = ChatMessage.user("L", "l")
        taken = derived_message_id(
            "L", 2, ChatMessage(id="", role="user", content="hi")
        )
        current = [ChatMessage.user(taken, "someone else's"), last]
        out = messages_reducer(current, ["hi"])
        assert contents(out) == [
            ("user", "someone else's"),
            ("user", "l"),
            ("user", "hi"),
        ]
        assert out[2].id == derived_message_id(
            "L", 1 << 31, ChatMessage(id="", role="user", content="hi")
        )


BAD: list[tuple[Any, str]] = [
    (42, "type int is none of the accepted message forms"),
    (("wizard", "x"), "role 'wizard' is not one of"),
    (("user",), "a tuple must be (role, text)"),
    (("tool", "x"), "a tool message answers a call"),
    (("user", "x", "y"), "only ('tool', text, tool_call_id) has three parts"),
    ({"content": "x"}, "a message dict needs a 'role'"),
    ({"role": "user", "content": "x", "extra": 1}, "unknown key(s) extra"),
    ({"role": "user", "tool_calls": [{"id": "c", "name": "n"}]}, "only assistant"),
    ({"role": "tool", "content": "x"}, "a tool message needs a tool_call_id"),
    ({"role": "assistant", "tool_calls": [{"name": "n"}]}, "has no id"),
    ({"role": "user", "content": [{"type": "image_url"}]}, "is not text"),
    ({"role": "user", "content": 3}, "content must be text, got int"),
    ({"role": "user", "id": 3}, "id must be a string, got int"),
]


class TestBadInput:
    @pytest.mark.parametrize(("item", "reason"), BAD)
    def test_typed_error_naming_the_item(self, item: Any, reason: str) -> None:
        with pytest.raises(MessageFormatError) as info:
            messages_reducer([], ["fine", item])
        err = info.value
        assert err.code == "message-format"
        assert err.index == 1
        assert reason in err.reason
        assert repr(item)[:60] in str(err)

    def test_through_the_runtime_the_reducer_error_names_the_channel(self) -> None:
        class Chat(Schema):
            messages = messages_channel()

        wf = Workflow(Chat)

        @wf.node(start=True)
        def talk(ctx: object) -> Effects:
            return Effects(Write(Chat.messages, [("assistant", "ok"), 3.5]))

        with pytest.raises(ReducerError) as info:
            Runtime(wf.compile()).run_sync("t", {Chat.messages: "hi"})
        assert info.value.channel_id == "messages"
        assert "Reducer of channel `messages`" in str(info.value)
        assert "Item #1 of a messages update, 3.5" in str(info.value)
        assert isinstance(info.value.__cause__, MessageFormatError)


class TestMessagesChannel:
    def test_same_schema_version_as_the_list_declaration(self) -> None:
        class Old(Schema):
            messages = channel(
                list[ChatMessage],
                reducer=messages_reducer,
                update="multi",
                initial=list,
            )

        class New(Schema):
            messages = messages_channel()

        assert Old.spec().version == New.spec().version

    def test_a_checkpoint_of_the_old_declaration_resumes_in_the_new(self) -> None:
        store = InMemoryCheckpointStore()

        class Old(Schema):
            messages = channel(
                list[ChatMessage],
                reducer=messages_reducer,
                update="multi",
                initial=list,
            )

        class New(Schema):
            messages = messages_channel()

        def graph(schema: type[Schema]) -> Any:
            wf = Workflow(schema, name="chat")

            @wf.node(start=True)
            def echo(ctx: object) -> Effects:
                return Effects(Write(schema.messages, [("assistant", "echo")]))  # type: ignore[attr-defined]

            return wf.compile()

        every = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
        Runtime(graph(Old), checkpoint_store=store).run_sync(
            "t", {Old.messages: [ChatMessage.user("u1", "hi")]}, every
        )
        snap = Runtime(graph(New), checkpoint_store=store).run_sync(
            "t", {New.messages: "again"}, every
        )
        assert contents(snap.get(New.messages)) == [
            ("user", "hi"),
            ("assistant", "echo"),
            ("user", "again"),
            ("assistant", "echo"),
        ]

    def test_bare_forms_reach_the_reducer(self) -> None:
        class Chat(Schema):
            messages = messages_channel()

        wf = Workflow(Chat)

        @wf.node(start=True)
        def reply(ctx: object) -> Effects:
            return Effects(Write(Chat.messages, ("assistant", "hello")))

        out = Runtime(wf.compile()).run_sync("t", {Chat.messages: "hi"})
        assert contents(out.get(Chat.messages)) == [
            ("user", "hi"),
            ("assistant", "hello"),
        ]


# ------------------------------------------------------------------ properties

roles = st.sampled_from(["user", "human", "assistant", "ai", "system"])
texts = st.text(max_size=12)
call_ids = st.text(alphabet="abc123", min_size=1, max_size=4)
items = st.one_of(
    texts,
    st.tuples(roles, texts),
    st.tuples(st.just("tool"), texts, call_ids),
    st.builds(lambda r, c: {"role": r, "content": c}, roles, texts),
    st.builds(
        lambda c, cid: {
            "role": "assistant",
            "content": c,
            "tool_calls": [{"id": cid, "name": "add", "args": {"a": 1}}],
        },
        texts,
        call_ids,
    ),
    st.builds(lambda i, c: ChatMessage.user(f"given:{i}", c), st.integers(0, 3), texts),
)
updates = st.lists(items, max_size=8)


@given(st.lists(updates, min_size=1, max_size=4))
def test_coercion_is_deterministic(batches: list[list[Any]]) -> None:
    def fold() -> list[ChatMessage]:
        value: list[ChatMessage] = []
        for batch in batches:
            value = messages_reducer(value, list(batch))
        return value

    first, second = fold(), fold()
    assert first == second
    assert CODEC.encode(first) == CODEC.encode(second)
    assert len({m.id for m in first}) == len(first)


@given(updates)
def test_coerced_messages_round_trip_through_the_channel_codec(
    batch: list[Any],
) -> None:
    value = messages_reducer([], batch)
    codec = AgentState.messages.codec
    assert codec is not None
    assert codec.decode(codec.encode(value)) == value
    assert messages_channel().codec.decode(CODEC.encode(value)) == value  # type: ignore[union-attr]
