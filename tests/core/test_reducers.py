"""The standard reducers: behaviour, algebraic laws, purity and determinism."""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_core import channel, reducers

ints = st.integers(min_value=-(10**6), max_value=10**6)
int_lists = st.lists(ints, max_size=8)
maybe_int_lists = st.none() | int_lists
int_sets = st.frozensets(ints, max_size=8)
keys = st.text(alphabet="abcdefgé+:", min_size=1, max_size=3)
int_dicts = st.dictionaries(keys, ints, max_size=6)


def lww_merge(current: dict[str, int], update: dict[str, int]) -> dict[str, int]:
    return reducers.dict_merge(reducers.last_write_wins)(current, update)


def sum_merge(current: dict[str, int], update: dict[str, int]) -> dict[str, int]:
    return reducers.dict_merge(reducers.sum)(current, update)


# (name, reducer, strategy for values): every case is associative.
ASSOCIATIVE: list[tuple[str, Callable[[Any, Any], Any], st.SearchStrategy[Any]]] = [
    ("last_write_wins", reducers.last_write_wins, ints),
    ("append", reducers.append, int_lists),
    ("append_non_nil", reducers.append_non_nil, maybe_int_lists),
    ("set_union", reducers.set_union, int_sets),
    ("sum", reducers.sum, ints),
    ("min", reducers.min, ints),
    ("max", reducers.max, ints),
    ("dict_merge(last_write_wins)", lww_merge, int_dicts),
    ("dict_merge(sum)", sum_merge, int_dicts),
    ("binary_op(add)", reducers.binary_op(operator.add), ints),
]


class TestLastWriteWins:
    def test_returns_the_update(self) -> None:
        assert reducers.last_write_wins(1, 2) == 2

    def test_returns_the_update_object_itself(self) -> None:
        update = [1]
        assert reducers.last_write_wins([0], update) is update

    def test_is_the_default_reducer_of_a_channel(self) -> None:
        assert channel(int, id="x").reducer is reducers.last_write_wins


class TestAppend:
    def test_concatenates_current_then_update(self) -> None:
        assert reducers.append([1, 2], [3]) == [1, 2, 3]

    def test_returns_a_new_list(self) -> None:
        current = [1]
        result = reducers.append(current, [])
        assert result == [1]
        assert result is not current

    def test_empty_on_both_sides(self) -> None:
        assert reducers.append([], []) == []


class TestAppendNonNil:
    def test_both_none_gives_none(self) -> None:
        assert reducers.append_non_nil(None, None) is None

    def test_none_current_takes_a_copy_of_the_update(self) -> None:
        update = [1, 2]
        result = reducers.append_non_nil(None, update)
        assert result == [1, 2]
        assert result is not update

    def test_none_update_keeps_current(self) -> None:
        assert reducers.append_non_nil([1], None) == [1]

    def test_concatenates_when_both_present(self) -> None:
        assert reducers.append_non_nil([1], [2, 3]) == [1, 2, 3]

    def test_empty_list_is_not_none(self) -> None:
        assert reducers.append_non_nil(None, []) == []


class TestSetUnion:
    def test_unions_both_sides(self) -> None:
        result = reducers.set_union(frozenset({1, 2}), frozenset({2, 3}))
        assert result == frozenset({1, 2, 3})

    def test_result_is_frozen(self) -> None:
        assert isinstance(reducers.set_union(frozenset(), frozenset({1})), frozenset)


class TestDictMerge:
    def test_inserts_new_keys_and_keeps_old_ones(self) -> None:
        merge: Callable[[dict[str, int], dict[str, int]], dict[str, int]]
        merge = reducers.dict_merge()
        assert merge({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}

    def test_default_value_reducer_is_last_write_wins(self) -> None:
        merge: Callable[[dict[str, int], dict[str, int]], dict[str, int]]
        merge = reducers.dict_merge()
        assert merge({"a": 1}, {"a": 2}) == {"a": 2}

    def test_combines_shared_keys_with_the_value_reducer(self) -> None:
        merge = reducers.dict_merge(reducers.sum)
        assert merge({"a": 1, "b": 5}, {"a": 2}) == {"a": 3, "b": 5}

    def test_value_reducer_gets_current_then_update(self) -> None:
        merge = reducers.dict_merge(reducers.append)
        assert merge({"k": [1]}, {"k": [2]}) == {"k": [1, 2]}

    def test_visits_update_keys_in_sorted_order(self) -> None:
        seen: list[str] = []

        def record(current: str, update: str) -> str:
            seen.append(update)
            return update

        merge = reducers.dict_merge(record)
        current = {"b": "", "a": "", "é": "", "c": ""}
        merge(current, {"é": "é", "c": "c", "a": "a", "b": "b"})
        assert seen == ["a", "b", "c", "é"]

    def test_new_keys_are_inserted_in_sorted_order(self) -> None:
        merge: Callable[[dict[str, int], dict[str, int]], dict[str, int]]
        merge = reducers.dict_merge()
        result = merge({"z": 0}, {"c": 1, "a": 2, "b": 3})
        assert list(result) == ["z", "a", "b", "c"]

    def test_returns_a_new_dict(self) -> None:
        current = {"a": 1}
        merge: Callable[[dict[str, int], dict[str, int]], dict[str, int]]
        merge = reducers.dict_merge()
        assert merge(current, {}) is not current

    def test_is_named_for_error_messages(self) -> None:
        assert reducers.dict_merge().__name__ == "dict_merge"

    def test_value_reducer_error_propagates(self) -> None:
        def boom(current: int, update: int) -> int:
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            reducers.dict_merge(boom)({"a": 1}, {"a": 2})


class TestNumeric:
    def test_sum_adds(self) -> None:
        assert reducers.sum(2, 3) == 5
        assert reducers.sum(0.5, 1) == 1.5

    def test_min_keeps_the_smaller(self) -> None:
        assert reducers.min(2, 3) == 2
        assert reducers.min(3, 2) == 2

    def test_max_keeps_the_larger(self) -> None:
        assert reducers.max(2, 3) == 3
        assert reducers.max(3, 2) == 3


class TestBinaryOp:
    def test_calls_op_with_current_then_update(self) -> None:
        sub = reducers.binary_op(operator.sub)
        assert sub(10, 3) == 7

    def test_is_named_after_the_op(self) -> None:
        assert reducers.binary_op(operator.mul).__name__ == "binary_op(mul)"

    def test_error_from_op_propagates(self) -> None:
        div = reducers.binary_op(operator.truediv)
        with pytest.raises(ZeroDivisionError):
            div(1, 0)


class TestLaws:
    """Algebraic laws, checked with hypothesis over every reducer they hold for."""

    @pytest.mark.parametrize(
        ("reducer", "values"),
        [pytest.param(r, s, id=name) for name, r, s in ASSOCIATIVE],
    )
    @given(data=st.data())
    def test_associative(
        self,
        reducer: Callable[[Any, Any], Any],
        values: st.SearchStrategy[Any],
        data: st.DataObject,
    ) -> None:
        a, b, c = (data.draw(values) for _ in range(3))
        assert reducer(reducer(a, b), c) == reducer(a, reducer(b, c))

    @pytest.mark.parametrize(
        ("reducer", "values"),
        [pytest.param(r, s, id=name) for name, r, s in ASSOCIATIVE],
    )
    @given(data=st.data())
    def test_deterministic(
        self,
        reducer: Callable[[Any, Any], Any],
        values: st.SearchStrategy[Any],
        data: st.DataObject,
    ) -> None:
        a, b = data.draw(values), data.draw(values)
        first, second = reducer(a, b), reducer(copy.deepcopy(a), copy.deepcopy(b))
        assert first == second
        if isinstance(first, dict):  # same key order too, not only equal
            assert list(first.items()) == list(second.items())

    @pytest.mark.parametrize(
        ("reducer", "values"),
        [pytest.param(r, s, id=name) for name, r, s in ASSOCIATIVE],
    )
    @given(data=st.data())
    def test_pure_arguments_not_mutated(
        self,
        reducer: Callable[[Any, Any], Any],
        values: st.SearchStrategy[Any],
        data: st.DataObject,
    ) -> None:
        a, b = data.draw(values), data.draw(values)
        a_before, b_before = copy.deepcopy(a), copy.deepcopy(b)
        reducer(a, b)
        assert a == a_before
        assert b == b_before


# (name, channel declaration, reducer, values): the channel's initial value is the
# reducer's identity on both sides.
IDENTITY: list[tuple[str, Callable[[], Any], Callable[[Any, Any], Any], Any]] = [
    (
        "append",
        lambda: channel(list[int], id="x"),
        reducers.append,
        int_lists,
    ),
    (
        "append_non_nil",
        lambda: channel(list[int] | None, id="x"),
        reducers.append_non_nil,
        maybe_int_lists,
    ),
    (
        "set_union",
        lambda: channel(frozenset[int], id="x"),
        reducers.set_union,
        int_sets,
    ),
    ("sum", lambda: channel(int, id="x"), reducers.sum, ints),
    (
        "min",
        lambda: channel(float, id="x", initial=math.inf),
        reducers.min,
        ints,
    ),
    (
        "max",
        lambda: channel(float, id="x", initial=-math.inf),
        reducers.max,
        ints,
    ),
    (
        "dict_merge(last_write_wins)",
        lambda: channel(dict[str, int], id="x"),
        lww_merge,
        int_dicts,
    ),
    ("dict_merge(sum)", lambda: channel(dict[str, int], id="x"), sum_merge, int_dicts),
]


class TestIdentityWithInitialValue:
    @pytest.mark.parametrize(
        ("declare", "reducer", "values"),
        [pytest.param(d, r, s, id=name) for name, d, r, s in IDENTITY],
    )
    @given(data=st.data())
    def test_initial_value_is_an_identity(
        self,
        declare: Callable[[], Any],
        reducer: Callable[[Any, Any], Any],
        values: st.SearchStrategy[Any],
        data: st.DataObject,
    ) -> None:
        initial = declare().initial()
        x = data.draw(values)
        assert reducer(initial, x) == x
        assert reducer(x, initial) == x

    @given(x=ints)
    def test_last_write_wins_is_a_left_identity_for_the_initial_value(
        self, x: int
    ) -> None:
        initial = channel(int, id="x").initial()
        assert reducers.last_write_wins(initial, x) == x

    @given(xs=st.lists(int_lists, max_size=5))
    def test_folding_appends_from_the_initial_value_concatenates(
        self, xs: list[list[int]]
    ) -> None:
        value = channel(list[int], id="x").initial()
        for update in xs:
            value = reducers.append(value, update)
        assert value == [item for update in xs for item in update]
