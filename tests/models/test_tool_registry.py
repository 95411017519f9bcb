"""Tools as plain functions: schemas from type hints, validated JSON invocation."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from typing import Annotated, Any, Literal

import msgspec
import pytest

from hive_core import DefinitionError
from hive_core.models import (
    ToolArgumentsInvalidError,
    ToolCall,
    ToolProvider,
    ToolRegistry,
    UnknownToolError,
)


class Location(msgspec.Struct, frozen=True):
    city: str
    country: str = "FR"


def call(name: str, args: str, id: str = "c1") -> ToolCall:
    return ToolCall(id=id, name=name, arguments_json=args)


def invoke(registry: ToolRegistry, name: str, args: str) -> str:
    return asyncio.run(registry.invoke(call(name, args))).content


class TestDefinitions:
    def test_schema_comes_from_type_hints(self) -> None:
        registry = ToolRegistry()

        @registry.tool
        def weather(
            city: Annotated[str, msgspec.Meta(description="City name")],
            unit: Literal["c", "f"] = "c",
        ) -> str:
            """Current weather in a city."""
            return city

        (definition,) = registry.definitions()
        assert definition.name == "weather"
        assert definition.description == "Current weather in a city."
        assert json.loads(definition.parameters_json_schema) == {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"enum": ["c", "f"], "default": "c"},
            },
            "required": ["city"],
        }

    def test_schema_string_is_canonical(self) -> None:
        def f(b: int, a: str) -> str:
            return a

        schema = ToolRegistry([f]).definitions()[0].parameters_json_schema
        assert schema == json.dumps(
            json.loads(schema), sort_keys=True, separators=(",", ":")
        )

    def test_nested_structs_keep_their_defs(self) -> None:
        def where(loc: Location) -> str:
            return loc.city

        schema = json.loads(
            ToolRegistry([where]).definitions()[0].parameters_json_schema
        )
        assert schema["properties"]["loc"] == {"$ref": "#/$defs/Location"}
        assert schema["$defs"]["Location"]["required"] == ["city"]

    def test_no_parameters_gives_an_empty_object_schema(self) -> None:
        def now() -> str:
            return "noon"

        schema = json.loads(ToolRegistry([now]).definitions()[0].parameters_json_schema)
        assert schema["properties"] == {}
        assert invoke(ToolRegistry([now]), "now", "") == "noon"

    def test_listing_is_sorted_by_name(self) -> None:
        def zeta() -> None: ...
        def alpha() -> None: ...
        def Beta() -> None: ...

        names = [d.name for d in ToolRegistry([zeta, alpha, Beta]).definitions()]
        assert names == ["Beta", "alpha", "zeta"]

    def test_name_and_description_overrides(self) -> None:
        registry = ToolRegistry()

        @registry.tool(name="sum2", description="Adds.")
        def add(a: int, b: int) -> int:
            return a + b

        assert registry.definitions()[0].name == "sum2"
        assert registry.definitions()[0].description == "Adds."
        assert add(1, 2) == 3  # the decorator returns the function unchanged

    def test_registry_is_a_tool_provider(self) -> None:
        assert isinstance(ToolRegistry(), ToolProvider)


class TestDefinitionErrors:
    def test_missing_type_hint(self) -> None:
        def bad(x):  # type: ignore[no-untyped-def]
            return x

        with pytest.raises(
            DefinitionError, match="Parameter `x` of tool `bad` has no type hint"
        ):
            ToolRegistry([bad])

    def test_var_args(self) -> None:
        def bad(*args: int) -> int:
            return 0

        with pytest.raises(DefinitionError, match=r"\*args"):
            ToolRegistry([bad])

    def test_duplicate_name(self) -> None:
        def dup() -> None: ...

        registry = ToolRegistry([dup])
        with pytest.raises(DefinitionError, match="registered twice"):
            registry.add(dup)

    def test_bad_name(self) -> None:
        with pytest.raises(DefinitionError, match="must be 1 to 64 ASCII letters"):
            ToolRegistry().add(lambda: None, name="has space")

    def test_blocking_async_is_refused(self) -> None:
        async def fetch() -> str:
            return ""

        with pytest.raises(DefinitionError, match="blocking=True"):
            ToolRegistry().add(fetch, blocking=True)


class TestInvoke:
    def test_arguments_are_validated_and_converted(self) -> None:
        def where(loc: Location, times: int = 1) -> str:
            return f"{loc.city},{loc.country}" * times

        registry = ToolRegistry([where])
        assert invoke(registry, "where", '{"loc": {"city": "Lyon"}}') == "Lyon,FR"

    @pytest.mark.parametrize(
        ("args", "reason"),
        [
            ('{"a": "x", "b": 1}', "Expected `int`, got `str` - at `$.a`"),
            ('{"a": 1}', "Object missing required field `b`"),
            ('{"a": 1, "b": 2, "c": 3}', "Object contains unknown field `c`"),
            ("{not json", "JSON is malformed"),
        ],
    )
    def test_invalid_arguments(self, args: str, reason: str) -> None:
        def add(a: int, b: int) -> int:
            return a + b

        with pytest.raises(ToolArgumentsInvalidError) as info:
            invoke(ToolRegistry([add]), "add", args)
        assert info.value.name == "add"
        assert info.value.call_id == "c1"
        assert reason in info.value.reason

    def test_unknown_tool(self) -> None:
        def add(a: int, b: int) -> int:
            return a + b

        with pytest.raises(UnknownToolError) as info:
            invoke(ToolRegistry([add]), "sub", "{}")
        assert (info.value.name, info.value.available) == ("sub", ("add",))
        assert str(info.value) == "Unknown tool `sub`; the registry has `add`"

    def test_async_tools_are_awaited(self) -> None:
        async def slow(x: str) -> str:
            await asyncio.sleep(0)
            return x.upper()

        assert invoke(ToolRegistry([slow]), "slow", '{"x": "hi"}') == "HI"

    def test_blocking_tools_run_in_a_thread(self) -> None:
        seen: list[bool] = []

        def blocking() -> str:
            seen.append(threading.current_thread() is threading.main_thread())
            return "ok"

        registry = ToolRegistry()
        registry.add(blocking, blocking=True)
        assert invoke(registry, "blocking", "{}") == "ok"
        assert seen == [False]

    def test_sync_tools_run_inline(self) -> None:
        seen: list[bool] = []

        def inline() -> str:
            seen.append(threading.current_thread() is threading.main_thread())
            return "ok"

        invoke(ToolRegistry([inline]), "inline", "{}")
        assert seen == [True]

    def test_positional_only_parameters(self) -> None:
        def pos(a: int, /, b: int) -> int:
            return a - b

        assert invoke(ToolRegistry([pos]), "pos", '{"a": 5, "b": 2}') == "3"

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("plain", "plain"),
            (None, ""),
            ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
            (2.5, "2.5"),
        ],
    )
    def test_results_become_text(self, value: Any, text: str) -> None:
        def give() -> Any:
            return value

        assert invoke(ToolRegistry([give]), "give", "{}") == text


def test_errors_pickle_round_trip() -> None:
    err = ToolArgumentsInvalidError("add", call_id="c1", reason="bad")
    back = pickle.loads(pickle.dumps(err))
    assert (back.name, back.call_id, back.reason, str(back)) == (
        "add",
        "c1",
        "bad",
        str(err),
    )
