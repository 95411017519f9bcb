"""Tools as plain Python functions: definitions from type hints, validated invocation.

```python
registry = ToolRegistry()

@registry.tool
def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    \"\"\"Current weather in a city.\"\"\"
    ...
```

The parameter schema is ``msgspec.json.schema`` of a Struct generated from the
signature, and a call's JSON arguments are decoded into that Struct, so what the
model is told and what the tool accepts can never drift apart.

A tool that needs the run's services (a recall tool needs ``memory_store``) declares
a parameter annotated ``ToolContext`` (or ``Environment``): it is found once, at
registration, left out of the schema, and filled at each call from the environment
the provider was bound to with :func:`bind_environment` (the prebuilt agent and
``ModelTurn`` bind the run's). See ``docs/agents.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol, overload, runtime_checkable

import attrs
import msgspec

from ..environment import Environment
from ..errors import DefinitionError
from ..state._codecs import canonical_json
from ._chat import ToolCall, ToolDefinition, ToolResult
from ._errors import (
    ToolArgumentsInvalidError,
    ToolContextMissingError,
    UnknownToolError,
)
from ._protocols import ToolProvider

__all__ = [
    "Tool",
    "ToolContext",
    "ToolProvider",
    "ToolRegistry",
    "bind_environment",
    "build_tool",
    "tool_result_text",
]

_EMPTY = inspect.Parameter.empty
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@runtime_checkable
class _BindsEnvironment(Protocol):
    def with_environment(self, environment: Environment) -> ToolProvider: ...


def bind_environment(tools: ToolProvider, environment: Environment) -> ToolProvider:
    """``tools`` with ``environment`` handed to every tool that declares a
    ``ToolContext`` or ``Environment`` parameter.

    Providers that can bind (``ToolRegistry``, cassette wrappers) return a bound
    view; any other provider is returned unchanged.
    """
    if isinstance(tools, _BindsEnvironment):
        return tools.with_environment(environment)
    return tools


@attrs.frozen(kw_only=True)
class ToolContext:
    """What a tool can ask for besides its arguments: declare a parameter annotated
    ``ToolContext`` (any name) and it receives this at each call."""

    environment: Environment
    """The run's services: ``memory_store``, ``clock``, ``extras``, ..."""
    call: ToolCall
    """The call being run (its id, name and raw arguments)."""


Injected = Literal["context", "environment"]


def _injected(hint: object) -> Injected | None:
    if hint is ToolContext:
        return "context"
    if hint is Environment:
        return "environment"
    return None


def tool_result_text(value: object) -> str:
    """A tool's return value as text: ``str`` as is, ``None`` as ``""``, anything
    else as canonical JSON (sorted keys)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return canonical_json(value).decode("utf-8")


@attrs.frozen(kw_only=True, eq=False)
class Tool:
    """One registered function with its definition and argument struct."""

    fn: Callable[..., Any]
    definition: ToolDefinition
    arguments: type[msgspec.Struct]
    positional: tuple[str, ...]
    """Positional-only parameters, passed positionally in order."""
    keyword: tuple[str, ...]
    blocking: bool = False
    """Run a sync function in a worker thread instead of inline."""
    injected: tuple[tuple[str, Injected], ...] = ()
    """Parameters filled from the environment, not from the call's arguments
    (annotated ``ToolContext`` or ``Environment``); also in ``positional`` or
    ``keyword``."""

    @property
    def name(self) -> str:
        return self.definition.name

    async def __call__(
        self, call: ToolCall, environment: Environment | None = None
    ) -> ToolResult:
        """Run ``call``; ``environment`` fills the injected parameters.

        Raises:
            ToolArgumentsInvalidError: the arguments do not match the parameters.
            ToolContextMissingError: the tool needs an environment and got none.
        """
        raw = call.arguments_json.strip() or "{}"
        try:
            args = msgspec.json.decode(raw, type=self.arguments)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ToolArgumentsInvalidError(
                self.name, call_id=call.id, reason=str(exc)
            ) from exc
        values = {n: getattr(args, n) for n in self.arguments.__struct_fields__}
        if self.injected:
            if environment is None:
                raise ToolContextMissingError(self.name, call_id=call.id)
            context = ToolContext(environment=environment, call=call)
            for name, kind in self.injected:
                values[name] = context if kind == "context" else environment
        pos = [values[n] for n in self.positional]
        kw = {n: values[n] for n in self.keyword}
        if self.blocking:
            value = await asyncio.to_thread(self.fn, *pos, **kw)
        else:
            value = self.fn(*pos, **kw)
            if inspect.isawaitable(value):
                value = await value
        return ToolResult(tool_call_id=call.id, content=tool_result_text(value))


def _schema_for(struct: type[msgspec.Struct], name: str) -> str:
    raw = msgspec.json.schema(struct)
    defs: dict[str, Any] = dict(raw.get("$defs", {}))
    ref = raw.get("$ref", "")
    key = ref.rsplit("/", 1)[-1]
    root: dict[str, Any] = dict(defs.pop(key, raw))
    root.pop("title", None)
    root.setdefault("properties", {})
    if defs:
        root["$defs"] = defs
    return canonical_json(root).decode("utf-8")


def build_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
) -> Tool:
    """Read ``fn``'s signature into a ``Tool`` (raises ``DefinitionError``)."""
    tool_name: str = name or str(getattr(fn, "__name__", ""))
    if not _TOOL_NAME.fullmatch(tool_name):
        raise DefinitionError(
            f"Tool name {tool_name!r} must be 1 to 64 ASCII letters, digits, `_` or "
            "`-` (what chat-completions servers accept)",
            subject=tool_name or None,
        )
    if blocking and inspect.iscoroutinefunction(fn):
        raise DefinitionError(
            f"Tool `{tool_name}` is async; blocking=True is only for sync functions",
            subject=tool_name,
        )
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise DefinitionError(
            f"Cannot resolve the type hints of tool `{tool_name}`: {exc}",
            subject=tool_name,
        ) from exc
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    positional: list[str] = []
    keyword: list[str] = []
    injected: list[tuple[str, Injected]] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(
                f"Tool `{tool_name}` has *{param.name}; tools need named parameters "
                "so their JSON schema can list them",
                subject=tool_name,
            )
        if param.name not in hints:
            raise DefinitionError(
                f"Parameter `{param.name}` of tool `{tool_name}` has no type hint\n\n"
                f"Incorrect: def {tool_name}({param.name}): ...\n"
                f"Correct:   def {tool_name}({param.name}: str): ...",
                subject=tool_name,
            )
        hint = hints[param.name]
        (positional if param.kind is param.POSITIONAL_ONLY else keyword).append(
            param.name
        )
        kind = _injected(hint)
        if kind is not None:
            injected.append((param.name, kind))
        elif param.default is _EMPTY:
            fields.append((param.name, hint))
        else:
            fields.append((param.name, hint, param.default))
    try:
        struct = msgspec.defstruct(
            tool_name, fields, kw_only=True, forbid_unknown_fields=True, frozen=True
        )
        schema = _schema_for(struct, tool_name)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            f"Tool `{tool_name}` has parameters msgspec cannot describe: {exc}",
            subject=tool_name,
        ) from exc
    doc = description if description is not None else inspect.getdoc(fn) or ""
    return Tool(
        fn=fn,
        definition=ToolDefinition(
            name=tool_name, description=doc.strip(), parameters_json_schema=schema
        ),
        arguments=struct,
        positional=tuple(positional),
        keyword=tuple(keyword),
        blocking=blocking,
        injected=tuple(injected),
    )


F = typing.TypeVar("F", bound=Callable[..., Any])


class ToolRegistry:
    """Named tools backed by plain functions, sync or async.

    ``definitions()`` lists them sorted by name; ``invoke(call)`` validates the
    call's JSON arguments against the function's type hints and runs it. Sync
    functions run inline (deterministic, no thread) unless added with
    ``blocking=True``.
    """

    def __init__(self, functions: Iterable[Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for fn in functions:
            self.add(fn)

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        blocking: bool = False,
    ) -> Tool:
        """Register ``fn``; the name defaults to ``fn.__name__`` and the description
        to its docstring. Annotate parameters with
        ``Annotated[str, msgspec.Meta(description=...)]`` to describe them."""
        tool = build_tool(fn, name=name, description=description, blocking=blocking)
        if tool.name in self._tools:
            raise DefinitionError(
                f"Tool `{tool.name}` is registered twice; pass name=... to one of them",
                subject=tool.name,
            )
        self._tools[tool.name] = tool
        return tool

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        blocking: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        blocking: bool = False,
    ) -> Any:
        """Decorator form of ``add``; returns the function unchanged."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add(f, name=name, description=description, blocking=blocking)
            return f

        return register(fn) if fn is not None else register

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """Every tool's definition, sorted by name (code-point order)."""
        return tuple(self._tools[n].definition for n in sorted(self._tools))

    async def invoke(
        self, call: ToolCall, *, environment: Environment | None = None
    ) -> ToolResult:
        """Validate ``call.arguments_json`` and run the tool; ``environment`` is
        what tools declaring a ``ToolContext``/``Environment`` parameter receive.

        Raises:
            UnknownToolError: no tool has that name.
            ToolArgumentsInvalidError: the arguments do not match the parameters.
            ToolContextMissingError: the tool needs an environment and got none.
        """
        tool = self._tools.get(call.name)
        if tool is None:
            raise UnknownToolError(call.name, available=tuple(sorted(self._tools)))
        return await tool(call, environment)

    def with_environment(self, environment: Environment) -> ToolProvider:
        """This registry as a provider whose tools see ``environment`` (a view:
        tools added later are seen too)."""
        return _BoundRegistry(self, environment)

    def __repr__(self) -> str:
        return f"ToolRegistry({sorted(self._tools)})"


class _BoundRegistry:
    """A ``ToolRegistry`` bound to one run's environment."""

    __slots__ = ("_environment", "_registry")

    def __init__(self, registry: ToolRegistry, environment: Environment) -> None:
        self._registry = registry
        self._environment = environment

    def definitions(self) -> tuple[ToolDefinition, ...]:
        return self._registry.definitions()

    async def invoke(self, call: ToolCall) -> ToolResult:
        return await self._registry.invoke(call, environment=self._environment)

    def with_environment(self, environment: Environment) -> ToolProvider:
        return _BoundRegistry(self._registry, environment)

    def __repr__(self) -> str:
        return f"{self._registry!r}.with_environment(...)"
