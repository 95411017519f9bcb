"""Record and replay model calls and tool calls, so agent tests run offline.

```python
with Cassette("tests/cassettes/weather.json", mode="auto") as tape:
    env = Environment(model=tape.client(real_client), tools=tape.tools(registry))
    ...
```

``record`` calls through to the real client and tools and writes every request,
response, stream chunk and tool result to a readable JSON file (indented, stable key
order, so diffs review well). ``replay`` answers from the file and fails with
``CassetteMismatchError`` naming the first differing field when a request changed,
e.g. ``messages[1].content: expected 'hi', got 'hello'``. ``auto`` replays when the
file exists and records otherwise.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeAlias, TypeVar

import msgspec

from ..environment import Environment
from ..errors import HiveInternalError
from ._chat import (
    ChatRequest,
    ChatResponse,
    StreamChunk,
    ToolCall,
    ToolDefinition,
    ToolResult,
)
from ._client import ModelClient
from ._errors import CassetteExhaustedError, CassetteFormatError, CassetteMismatchError
from ._tools import ToolProvider, bind_environment

__all__ = [
    "CASSETTE_FORMAT",
    "Cassette",
    "CassetteData",
    "CassetteMode",
    "ModelInteraction",
    "ReplayedToolError",
    "ToolInteraction",
    "first_difference",
]

_T = TypeVar("_T")

CASSETTE_FORMAT = "hive-cassette/1"
CassetteMode: TypeAlias = Literal["replay", "record", "auto"]


class ModelInteraction(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One model call: the request, and the response or the streamed chunks."""

    mode: Literal["complete", "stream"]
    request: ChatRequest
    response: ChatResponse | None = None
    """For ``complete`` calls."""
    chunks: tuple[StreamChunk, ...] = ()
    """For ``stream`` calls: the tokens and the final chunk, as they came."""


class ToolInteraction(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One tool call and its result, or the error it raised."""

    call: ToolCall
    result: ToolResult | None = None
    error: str | None = None
    """``"TypeName: message"`` of the exception the tool raised."""


class CassetteData(msgspec.Struct, frozen=True, kw_only=True):
    """The file's content."""

    format: str = CASSETTE_FORMAT
    model_calls: tuple[ModelInteraction, ...] = ()
    tool_definitions: tuple[ToolDefinition, ...] = ()
    tool_calls: tuple[ToolInteraction, ...] = ()


class ReplayedToolError(RuntimeError):
    """Stands in for the exception a tool raised while the cassette was recorded."""

    def __init__(self, tool: str, error: str) -> None:
        self.tool = tool
        self.error = error
        super().__init__(f"tool `{tool}` failed when recorded: {error}")


def _plain(value: Any) -> Any:
    """Structs as dicts with *every* field (defaults included), tuples as lists."""
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        tag = type(value).__struct_config__.tag
        if isinstance(tag, str):
            out["type"] = tag
        for name in value.__struct_fields__:
            out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    if isinstance(value, dict):
        text = "{" + ", ".join(sorted(value)) + "}"
    elif isinstance(value, list):
        text = f"[{len(value)} items]"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def first_difference(
    expected: Any, got: Any, path: str = ""
) -> tuple[str, str, str] | None:
    """The first place two values differ, as ``(path, expected, got)``.

    Structs compare field by field in declaration order (``messages[1].content``);
    ``None`` means equal.
    """
    expected, got = _plain(expected), _plain(got)
    return _diff(expected, got, path)


def _diff(expected: Any, got: Any, path: str) -> tuple[str, str, str] | None:
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in list(expected) + [k for k in got if k not in expected]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in got:
                return sub, _show(expected[key]), "nothing"
            if key not in expected:
                return sub, "nothing", _show(got[key])
            found = _diff(expected[key], got[key], sub)
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for i, (e, g) in enumerate(zip(expected, got, strict=False)):
            found = _diff(e, g, f"{path}[{i}]")
            if found is not None:
                return found
        n = min(len(expected), len(got))
        if len(expected) != len(got):
            return (
                f"{path}[{n}]",
                _show(expected[n]) if n < len(expected) else "nothing",
                _show(got[n]) if n < len(got) else "nothing",
            )
        return None
    if type(expected) is not type(got) or expected != got:
        return path or "<root>", _show(expected), _show(got)
    return None


_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(CassetteData)


class Cassette:
    """A recording of model and tool calls, bound to one file.

    Args:
        path: The JSON file.
        mode: ``"replay"`` (the file must exist), ``"record"`` (start empty and
            write on ``save()``), or ``"auto"`` (replay if the file exists).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, mode: CassetteMode = "replay"
    ) -> None:
        self.path = Path(path)
        if mode == "auto":
            mode = "replay" if self.path.exists() else "record"
        self.mode: Literal["replay", "record"] = mode
        self._model: list[ModelInteraction | None] = []
        self._tools: list[ToolInteraction | None] = []
        self._definitions: tuple[ToolDefinition, ...] = ()
        self._model_used: list[bool] = []
        self._tools_used: list[bool] = []
        self._replayed = 0
        if mode == "replay":
            data = self.load(self.path)
            self._model = list(data.model_calls)
            self._tools = list(data.tool_calls)
            self._definitions = data.tool_definitions
            self._model_used = [False] * len(self._model)
            self._tools_used = [False] * len(self._tools)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> CassetteData:
        """Read and validate a cassette file."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise CassetteFormatError(str(path), reason=str(exc)) from exc
        try:
            data = _decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CassetteFormatError(str(path), reason=str(exc)) from exc
        if data.format != CASSETTE_FORMAT:
            raise CassetteFormatError(
                str(path),
                reason=f"format is {data.format!r}, expected {CASSETTE_FORMAT!r}",
            )
        return data

    @property
    def data(self) -> CassetteData:
        """What is recorded so far (or was loaded), in call order."""
        return CassetteData(
            model_calls=tuple(m for m in self._model if m is not None),
            tool_definitions=self._definitions,
            tool_calls=tuple(t for t in self._tools if t is not None),
        )

    def dumps(self) -> bytes:
        """The file's bytes: indented JSON with stable key order and a final
        newline; the same recording always gives the same bytes."""
        return msgspec.json.format(_encoder.encode(self.data), indent=2) + b"\n"

    def save(self) -> None:
        """Write the recording atomically (record mode only; replay is a no-op).

        The file gets the mode the umask gives a new file (usually 0644), like any
        file a user commits; ``mkstemp`` would make it private (0600).
        """
        if self.mode != "record":
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(self.path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.dumps())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def __enter__(self) -> Cassette:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.save()

    @property
    def all_played(self) -> bool:
        """In replay mode: whether every recorded call was used."""
        return all(self._model_used) and all(self._tools_used)

    # ------------------------------------------------------------- wrappers

    def client(self, inner: ModelClient | None = None) -> ModelClient:
        """A client that records ``inner``'s answers, or replays them."""
        if self.mode == "record" and inner is None:
            raise TypeError("Cassette.client() needs the real client to record")
        return _CassetteClient(self, inner)

    def tools(self, inner: ToolProvider | None = None) -> ToolProvider:
        """A tool provider that records ``inner``'s results, or replays them.

        In replay, definitions come from ``inner`` if given, else from the file.
        """
        if self.mode == "record":
            if inner is None:
                raise TypeError("Cassette.tools() needs the real tools to record")
            self._definitions = inner.definitions()
        return _CassetteTools(self, inner)

    # --------------------------------------------------------------- replay

    def _take_model(self, mode: str, request: ChatRequest) -> ModelInteraction:
        number = self._replayed
        self._replayed += 1
        first_unused: int | None = None
        for i, rec in enumerate(self._model):
            if self._model_used[i] or rec is None:
                continue
            if first_unused is None:
                first_unused = i
            if rec.mode == mode and rec.request == request:
                self._model_used[i] = True
                return rec
        if first_unused is None:
            raise CassetteExhaustedError(
                str(self.path), what=f"model request #{number + 1}"
            )
        rec = _real(self._model[first_unused])
        diff = first_difference(
            {**_plain(rec.request), "mode": rec.mode},
            {**_plain(request), "mode": mode},
        ) or ("<request>", "a recorded request", "an equal one")
        raise CassetteMismatchError(
            str(self.path),
            index=first_unused,
            path=diff[0],
            expected=diff[1],
            got=diff[2],
        )

    def _take_tool(self, call: ToolCall) -> ToolInteraction:
        candidates = [
            i
            for i, t in enumerate(self._tools)
            if t is not None and not self._tools_used[i]
        ]
        for pick in (
            [i for i in candidates if self._tools[i].call == call],  # type: ignore[union-attr]
            [i for i in candidates if self._tools[i].call.id == call.id],  # type: ignore[union-attr]
        ):
            if pick:
                rec = _real(self._tools[pick[0]])
                diff = first_difference(rec.call, call, "call")
                if diff is not None:
                    raise CassetteMismatchError(
                        str(self.path),
                        index=pick[0],
                        path=diff[0],
                        expected=diff[1],
                        got=diff[2],
                    )
                self._tools_used[pick[0]] = True
                return rec
        raise CassetteExhaustedError(
            str(self.path), what=f"tool call `{call.name}` (id `{call.id}`)"
        )

    # --------------------------------------------------------------- record

    def _reserve_model(self) -> int:
        self._model.append(None)
        return len(self._model) - 1

    def _reserve_tool(self) -> int:
        self._tools.append(None)
        return len(self._tools) - 1


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, exclusive temporary file next to ``path``, created with mode 0666 so
    the umask alone decides its permissions (without changing the process-wide
    umask, which other threads may rely on)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(path.parent / f".cassette-{secrets.token_hex(8)}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {path}")


def _real(inner: _T | None) -> _T:
    if inner is None:  # Cassette.client/tools refuse None in record mode
        raise HiveInternalError("a recording cassette lost its real client")
    return inner


class _CassetteClient:
    def __init__(self, tape: Cassette, inner: ModelClient | None) -> None:
        self._tape = tape
        self._inner = inner

    async def complete(self, request: ChatRequest) -> ChatResponse:
        tape = self._tape
        if tape.mode == "replay":
            rec = tape._take_model("complete", request)
            if rec.response is None:
                raise CassetteFormatError(
                    str(tape.path), reason="a complete call has no response"
                )
            return rec.response
        inner = _real(self._inner)
        slot = tape._reserve_model()
        response = await inner.complete(request)
        tape._model[slot] = ModelInteraction(
            mode="complete", request=request, response=response
        )
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        tape = self._tape
        if tape.mode == "replay":
            rec = tape._take_model("stream", request)
            for chunk in rec.chunks:
                yield chunk
            return
        inner = _real(self._inner)
        slot = tape._reserve_model()
        chunks: list[StreamChunk] = []
        async for chunk in inner.stream(request):
            chunks.append(chunk)
            yield chunk
        tape._model[slot] = ModelInteraction(
            mode="stream", request=request, chunks=tuple(chunks)
        )


class _CassetteTools:
    def __init__(self, tape: Cassette, inner: ToolProvider | None) -> None:
        self._tape = tape
        self._inner = inner

    def definitions(self) -> tuple[ToolDefinition, ...]:
        if self._inner is not None:
            return self._inner.definitions()
        return self._tape._definitions

    def with_environment(self, environment: Environment) -> ToolProvider:
        """Record through the real tools bound to ``environment`` (replay runs no
        tool, so it needs none)."""
        if self._inner is None:
            return self
        return _CassetteTools(self._tape, bind_environment(self._inner, environment))

    async def invoke(self, call: ToolCall) -> ToolResult:
        tape = self._tape
        if tape.mode == "replay":
            rec = tape._take_tool(call)
            if rec.error is not None or rec.result is None:
                raise ReplayedToolError(call.name, rec.error or "no result recorded")
            return rec.result
        inner = _real(self._inner)
        slot = tape._reserve_tool()
        try:
            result = await inner.invoke(call)
        except Exception as exc:
            tape._tools[slot] = ToolInteraction(
                call=call, error=f"{type(exc).__name__}: {exc}"
            )
            raise
        tape._tools[slot] = ToolInteraction(call=call, result=result)
        return result
