"""The messages reducer, HMSG1 message ids and context compaction."""

from __future__ import annotations

import hashlib
import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_core.models import (
    REMOVE_ALL_ID,
    ChatMessage,
    Compaction,
    InvalidMessagesUpdateError,
    ToolCall,
    compact_messages,
    message_id,
    messages_reducer,
    tool_message_id,
)


def u(id: str, text: str = "") -> ChatMessage:
    return ChatMessage.user(id, text or id)


class TestMessagesReducer:
    def test_appends_new_ids_in_order(self) -> None:
        assert messages_reducer([u("a")], [u("b"), u("c")]) == [u("a"), u("b"), u("c")]

    def test_replaces_by_id_in_place(self) -> None:
        out = messages_reducer([u("a"), u("b")], [u("a", "new")])
        assert [(m.id, m.content) for m in out] == [("a", "new"), ("b", "b")]

    def test_remove_deletes_by_id(self) -> None:
        out = messages_reducer([u("a"), u("b")], [ChatMessage.remove("a")])
        assert out == [u("b")]

    def test_remove_of_a_message_added_in_the_same_update(self) -> None:
        out = messages_reducer([], [u("a"), u("b"), ChatMessage.remove("a")])
        assert out == [u("b")]

    def test_remove_of_unknown_id_raises(self) -> None:
        with pytest.raises(InvalidMessagesUpdateError) as info:
            messages_reducer([u("a")], [ChatMessage.remove("zzz")])
        assert info.value.message_id == "zzz"
        assert info.value.code == "invalid-messages-update"

    def test_remove_all_drops_everything_up_to_the_last_marker(self) -> None:
        update = [
            u("x"),
            ChatMessage.remove_all(),
            u("y"),
            ChatMessage.remove_all(),
            u("z"),
        ]
        assert messages_reducer([u("a"), u("b")], update) == [u("z")]

    def test_remove_all_marker_has_the_reserved_id(self) -> None:
        marker = ChatMessage.remove_all()
        assert (marker.id, marker.op) == (REMOVE_ALL_ID, "remove_all")

    def test_remove_all_then_nothing_empties_the_list(self) -> None:
        assert messages_reducer([u("a")], [ChatMessage.remove_all()]) == []

    def test_inputs_are_not_mutated(self) -> None:
        current = [u("a")]
        update = [u("a", "changed"), u("b")]
        messages_reducer(current, update)
        assert current == [u("a")]
        assert update == [u("a", "changed"), u("b")]

    @given(
        st.lists(st.sampled_from("abcde"), max_size=6),
        st.lists(st.sampled_from("abcdeXY"), max_size=6),
        st.lists(st.sampled_from("abcdeXYZ"), max_size=6),
    )
    def test_folding_two_updates_equals_folding_their_concatenation(
        self, base: list[str], first: list[str], second: list[str]
    ) -> None:
        """Without removals the reducer is associative over updates."""
        start = messages_reducer([], [u(i) for i in base])
        a = [u(i, i + "1") for i in first]
        b = [u(i, i + "2") for i in second]
        assert messages_reducer(messages_reducer(start, a), b) == messages_reducer(
            start, a + b
        )

    @given(st.lists(st.sampled_from(["a", "b", "c", "-a", "-b", "*"]), max_size=8))
    def test_output_has_only_normal_messages_with_unique_ids(
        self, ops: list[str]
    ) -> None:
        update: list[ChatMessage] = []
        for op in ops:
            if op == "*":
                update.append(ChatMessage.remove_all())
            elif op.startswith("-"):
                update.append(ChatMessage.remove(op[1:]))
            else:
                update.append(u(op))
        try:
            out = messages_reducer([u("a")], update)
        except InvalidMessagesUpdateError:
            return
        assert all(m.op is None for m in out)
        assert len({m.id for m in out}) == len(out)


RUN = uuid.UUID("00000000-0000-0001-0000-000000000001")


class TestMessageIds:
    def test_user_id_layout(self) -> None:
        raw = (
            b"HMSG1" + RUN.bytes + struct.pack(">I", 3) + b"user" + struct.pack(">I", 0)
        )
        assert message_id("user", run_id=RUN, step=3) == (
            "msg:" + hashlib.sha256(raw).hexdigest()
        )

    def test_assistant_id_layout(self) -> None:
        raw = (
            b"HMSG1"
            + RUN.bytes
            + struct.pack(">I", 2)
            + b"task-abc\x00"
            + b"assistant"
            + struct.pack(">I", 0)
        )
        got = message_id("assistant", run_id=str(RUN), step=2, task_id="task-abc")
        assert got == "msg:" + hashlib.sha256(raw).hexdigest()

    def test_ids_differ_by_role_step_task_and_index(self) -> None:
        ids = {
            message_id("assistant", run_id=RUN, step=1, task_id="t"),
            message_id("system", run_id=RUN, step=1, task_id="t"),
            message_id("assistant", run_id=RUN, step=2, task_id="t"),
            message_id("assistant", run_id=RUN, step=1, task_id="u"),
            message_id("assistant", run_id=RUN, step=1, task_id="t", index=1),
            message_id("user", run_id=RUN, step=1),
        }
        assert len(ids) == 6

    def test_role_and_task_must_agree(self) -> None:
        with pytest.raises(ValueError, match="no task_id"):
            message_id("user", run_id=RUN, step=0, task_id="t")
        with pytest.raises(ValueError, match="need the task_id"):
            message_id("assistant", run_id=RUN, step=0)

    def test_tool_message_id(self) -> None:
        call = ToolCall(id="call_1", name="add", arguments_json="{}")
        assert tool_message_id("call_1") == "tool:call_1"
        assert ChatMessage.tool(call, "3").id == "tool:call_1"


def sized(id: str, role: str, tokens: int) -> ChatMessage:
    return ChatMessage(id=id, role=role, content="x" * tokens)  # type: ignore[arg-type]


class TestCompaction:
    policy = Compaction(
        max_tokens=10, keep_last=2, count_tokens=lambda m: len(m.content)
    )

    def test_no_policy_or_fitting_conversation_is_unchanged(self) -> None:
        msgs = [sized("a", "user", 3), sized("b", "assistant", 3)]
        assert compact_messages(msgs, None) == msgs
        assert compact_messages(msgs, self.policy) == msgs

    def test_keeps_tail_prepends_greedily_and_keeps_the_system_message(self) -> None:
        msgs = [
            sized("sys", "system", 2),
            sized("u1", "user", 4),
            sized("a1", "assistant", 2),
            sized("u2", "user", 2),
            sized("a2", "assistant", 2),
        ]
        out = compact_messages(msgs, self.policy)
        # budget 10 - 2 (system) - 4 (tail) = 4: a1 fits (2), u1 (4) does not
        assert [m.id for m in out] == ["sys", "a1", "u2", "a2"]

    def test_tail_is_kept_even_over_budget(self) -> None:
        msgs = [
            sized("u1", "user", 1),
            sized("u2", "user", 8),
            sized("a", "assistant", 8),
        ]
        assert [m.id for m in compact_messages(msgs, self.policy)] == ["u2", "a"]

    def test_window_never_starts_with_orphaned_tool_messages(self) -> None:
        call = ToolCall(id="c", name="t", arguments_json="{}")
        msgs = [
            sized("u1", "user", 6),
            ChatMessage.assistant("a1", "", (call,)),
            ChatMessage.tool(call, "x" * 9),
            sized("u2", "user", 1),
            sized("a2", "assistant", 1),
        ]
        policy = Compaction(
            max_tokens=12, keep_last=3, count_tokens=lambda m: len(m.content) + 1
        )
        assert [m.id for m in compact_messages(msgs, policy)] == ["u2", "a2"]

    def test_the_input_is_not_mutated(self) -> None:
        msgs = [sized(str(i), "user", 5) for i in range(5)]
        before = list(msgs)
        compact_messages(msgs, self.policy)
        assert msgs == before
