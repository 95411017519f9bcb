"""A ``ModelClient`` for any server speaking the OpenAI chat-completions protocol.

OpenAI itself, vLLM, Ollama, llama.cpp's server, LM Studio and most gateways accept
the same ``POST {base_url}/chat/completions`` request and answer with the same JSON,
or with server-sent events when ``"stream": true``. This adapter speaks that protocol
over ``httpx`` (an optional extra: ``pip install 'hive-graph[openai]'``), imported
lazily so ``import hive_core`` never needs it.

What it handles: streamed text and streamed tool calls (argument fragments are
assembled by their ``index``), HTTP errors as ``ModelHTTPError`` with the status and
the start of the body, malformed streams as ``ModelStreamInvalidError``, connect
and read timeouts (a stream that stalls for longer than ``read`` seconds raises
``ModelTimeoutError``), and retries with exponential backoff on 429, 5xx and
connection errors, sleeping on an injectable clock.

It is bounded against a misbehaving server (see ``docs/agents.md``): bodies, SSE
lines and events are read incrementally up to ``Limits``, error bodies only up to
``Limits.max_error_body_bytes``, the whole call (streaming included) ends at
``Timeouts.deadline``, and the waits between retries never add up to more than
``Retries.budget``, whatever ``Retry-After`` asks for.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import msgspec

from ..environment import Clock, SystemClock
from ._bounded_io import (
    BodyReader,
    CallBudget,
    Limits,
    SSEParser,
    read_error_body,
    retry_after_seconds,
    server_time,
)
from ._chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Final,
    StreamChunk,
    Token,
    ToolCall,
)
from ._errors import (
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelResponseInvalidError,
    ModelStreamInvalidError,
    ModelTimeoutError,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "Limits",
    "OpenAICompatClient",
    "Retries",
    "Timeouts",
    "encode_request",
    "parse_completion",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"

_json_decoder = msgspec.json.Decoder()


@attrs.frozen(kw_only=True)
class Timeouts:
    """Seconds allowed for each phase of a request.

    ``read`` bounds the wait for *each* chunk of bytes, so a stream that stalls
    mid-way fails after ``read`` seconds of silence, however long it ran before;
    ``deadline`` bounds the whole call, so a stream that never stalls and never ends
    fails too.
    """

    connect: float = 10.0
    read: float = 60.0
    write: float = 30.0
    pool: float = 10.0
    deadline: float | None = 600.0
    """Seconds for the whole call on the client's clock: every attempt, the waits
    between them and every byte of the reply, streamed or not
    (``ModelDeadlineExceededError``); ``None`` for no overall limit."""


@attrs.frozen(kw_only=True)
class Retries:
    """Retry 429, 5xx and connection failures with exponential backoff (no jitter).

    The n-th retry waits ``min(max_delay, initial_delay * factor ** (n - 1))``
    seconds, or what a ``Retry-After`` header asks for, in seconds or as an HTTP
    date (at most ``max_retry_after``). Nothing is retried once a stream has
    started.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    budget: float | None = 60.0
    """Seconds all the waits of one call may add up to. A retry whose wait does not
    fit in what is left is not made: the call raises
    ``ModelRetryBudgetExceededError`` at once. ``None`` for no limit."""

    def delay(
        self, retry: int, retry_after: str | None = None, *, now: float | None = None
    ) -> float:
        """The wait before retry number ``retry`` (from 1). ``now`` (POSIX seconds)
        is what an HTTP-date ``Retry-After`` is measured from; default: this
        machine's time."""
        if retry_after is not None:
            asked = retry_after_seconds(retry_after, now=now)
            if asked is not None:
                return min(asked, self.max_retry_after)
        return min(self.max_delay, self.initial_delay * self.factor ** (retry - 1))


_SSL: list[Any] = []


def _ssl_context() -> Any:
    """One default SSL context per process: building one costs ~0.1 s."""
    if not _SSL:
        import httpx

        _SSL.append(httpx.create_ssl_context())
    return _SSL[0]


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _encode_message(m: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json},
            }
            for c in m.tool_calls
        ]
        if not m.content:
            out["content"] = None
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id or ""
    elif m.name:
        out["name"] = m.name
    return out


def encode_request(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The chat-completions JSON body for ``request`` (list operations dropped)."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_encode_message(m) for m in request.messages if m.op is None],
        "stream": stream,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": _json_decoder.decode(t.parameters_json_schema),
                },
            }
            for t in request.tools
        ]
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


def _str(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"{what} is {type(value).__name__}, expected a string")


def parse_completion(raw: bytes) -> ChatResponse:
    """A non-streamed chat-completions body as a ``ChatResponse``.

    Raises:
        ModelResponseInvalidError: the body is not a chat completion.
    """
    # only the start is ever shown; decoding all of a large body would double it
    text = raw[:2000].decode("utf-8", errors="replace")
    try:
        obj = _json_decoder.decode(raw)
        choice = obj["choices"][0]
        msg = choice["message"]
        calls = tuple(
            ToolCall(
                id=_str(c.get("id") or f"call_{i}", "tool_calls[].id"),
                name=_str(c["function"]["name"], "function.name"),
                arguments_json=_str(
                    c["function"].get("arguments") or "{}", "function.arguments"
                ),
            )
            for i, c in enumerate(msg.get("tool_calls") or ())
        )
        content = msg.get("content") or ""
        return ChatResponse(
            message=ChatMessage.assistant(
                _str(obj.get("id") or "assistant", "id"),
                _str(content, "message.content"),
                calls,
            ),
            finish_reason=choice.get("finish_reason"),
        )
    except msgspec.DecodeError as exc:
        raise ModelResponseInvalidError(f"not JSON ({exc})", body=text) from exc
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelResponseInvalidError(
            f"missing or mistyped field ({type(exc).__name__}: {exc})", body=text
        ) from exc


class _PartialCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class _StreamAssembler:
    """Turns chat-completion chunk events into tokens and one final response."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = ""
        self.content: list[str] = []
        self.calls: dict[int, _PartialCall] = {}
        self.finish_reason: str | None = None

    def invalid(self, reason: str) -> ModelStreamInvalidError:
        return ModelStreamInvalidError(reason, model=self.model)

    def feed(self, data: str) -> str:
        """Absorb one event; returns the text delta ("" if none)."""
        try:
            event = _json_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise self.invalid(f"event is not JSON: {data[:120]!r}") from exc
        if not isinstance(event, dict):
            raise self.invalid(f"event is not an object: {data[:120]!r}")
        if "error" in event:
            raise self.invalid(f"the server sent an error event: {data[:300]}")
        if not self.id and isinstance(event.get("id"), str):
            self.id = event["id"]
        choices = event.get("choices")
        if not isinstance(choices, list):
            raise self.invalid(f"event has no choices list: {data[:120]!r}")
        text = ""
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise self.invalid("choice delta is not an object")
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                self.content.append(piece)
                text += piece
            for frag in delta.get("tool_calls") or ():
                self._absorb_call(frag)
            if choice.get("finish_reason") is not None:
                self.finish_reason = str(choice["finish_reason"])
        return text

    def _absorb_call(self, frag: object) -> None:
        if not isinstance(frag, dict):
            raise self.invalid("a tool_calls fragment is not an object")
        index = frag.get("index")
        if not isinstance(index, int):
            # servers that omit the index send whole calls, one per fragment
            index = len(self.calls) if frag.get("id") else max(self.calls, default=0)
        call = self.calls.setdefault(index, _PartialCall())
        if isinstance(frag.get("id"), str) and frag["id"]:
            call.id = frag["id"]
        fn = frag.get("function") or {}
        if not isinstance(fn, dict):
            raise self.invalid("a tool call's function is not an object")
        if isinstance(fn.get("name"), str) and fn["name"]:
            call.name = fn["name"]
        if isinstance(fn.get("arguments"), str):
            call.arguments.append(fn["arguments"])

    def finish(self, saw_done: bool) -> ChatResponse:
        if not saw_done and self.finish_reason is None:
            raise self.invalid("the stream ended before [DONE] or a finish_reason")
        calls: list[ToolCall] = []
        for index in sorted(self.calls):
            part = self.calls[index]
            if not part.name:
                raise self.invalid(f"tool call at index {index} never got a name")
            calls.append(
                ToolCall(
                    id=part.id or f"call_{index}",
                    name=part.name,
                    arguments_json="".join(part.arguments) or "{}",
                )
            )
        return ChatResponse(
            message=ChatMessage.assistant(
                self.id or "assistant", "".join(self.content), tuple(calls)
            ),
            finish_reason=self.finish_reason,
        )


class OpenAICompatClient:
    """Chat completions over HTTP, streamed or not.

    Args:
        base_url: Up to and including ``/v1``; defaults to ``OPENAI_BASE_URL``, then
            ``https://api.openai.com/v1``.
        api_key: Sent as a bearer token; defaults to ``OPENAI_API_KEY``; local
            servers usually need none.
        timeouts: Connect/read/write/pool limits and the overall deadline, in
            seconds.
        retries: Backoff for 429, 5xx and connection errors, and the retry budget.
        limits: The most a call reads: body, SSE line, SSE event, error body.
        clock: What backoff sleeps on and the deadline is measured on
            (``FakeClock`` in tests).
        headers: Extra headers for every request.
        http_client: An ``httpx.AsyncClient`` to reuse (its pool, proxies, TLS
            settings; ``timeouts`` still apply per request); by default each call
            opens its own, so one client object works across event loops.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        retries: Retries | None = None,
        limits: Limits | None = None,
        clock: Clock | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        self.api_key = (
            api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        )
        self.timeouts = timeouts or Timeouts()
        self.retries = retries or Retries()
        self.limits = limits or Limits()
        self.clock: Clock = clock or SystemClock()
        self.headers = dict(headers or {})
        self._http_client = http_client

    @property
    def url(self) -> str:
        return self.base_url + "/chat/completions"

    def __repr__(self) -> str:
        return f"OpenAICompatClient(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ http

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http_client is not None:
            yield self._http_client
            return
        import httpx

        async with httpx.AsyncClient(verify=_ssl_context()) as http:
            yield http

    def _headers(self, stream: bool) -> dict[str, str]:
        out = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        out.update(self.headers)
        return out

    def _budget(self) -> CallBudget:
        return CallBudget(
            self.clock,
            deadline=self.timeouts.deadline,
            budget=self.retries.budget,
            url=self.url,
        )

    async def _open(
        self,
        http: httpx.AsyncClient,
        request: ChatRequest,
        stream: bool,
        call: CallBudget,
    ) -> httpx.Response:
        """Send with retries; returns a streaming response with status < 400."""
        import httpx

        content = msgspec.json.encode(encode_request(request, stream=stream))
        headers = self._headers(stream)
        t = self.timeouts
        timeout = httpx.Timeout(
            connect=t.connect, read=t.read, write=t.write, pool=t.pool
        )
        attempts = self.retries.max_retries + 1
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            server_now: float | None = None
            failure: ModelError
            try:
                req = http.build_request(
                    "POST", self.url, content=content, headers=headers, timeout=timeout
                )
                resp = await call.within(
                    functools.partial(http.send, req, stream=True),
                    "waiting for the response headers",
                )
            except httpx.ConnectTimeout as exc:
                failure = ModelTimeoutError(
                    "connecting", seconds=t.connect, url=self.url
                )
                if attempt >= attempts:
                    raise failure from exc
                last = f"connecting timed out after {t.connect:g}s"
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                reason = str(exc) or type(exc).__name__
                failure = ModelConnectionError(
                    self.url, reason=reason, attempts=attempt
                )
                if attempt >= attempts:
                    raise failure from exc
                last = f"could not connect ({reason})"
            except httpx.TimeoutException as exc:
                raise _timeout(exc, self, "waiting for the response headers") from exc
            else:
                if resp.status_code < 400:
                    return resp
                body, cut = await read_error_body(
                    resp, call, self.limits.max_error_body_bytes
                )
                failure = ModelHTTPError(
                    resp.status_code,
                    body=body,
                    url=self.url,
                    attempts=attempt,
                    body_limit=cut,
                )
                if not _retryable_status(resp.status_code) or attempt >= attempts:
                    raise failure
                retry_after = resp.headers.get("retry-after")
                server_now = server_time(resp.headers)
                last = f"HTTP {resp.status_code}"
            await call.wait_to_retry(
                self.retries.delay(attempt, retry_after, now=server_now),
                failure=failure,
                last=last,
                attempts=attempt,
            )

    def _reader(
        self,
        resp: httpx.Response,
        call: CallBudget,
        phase: str,
        broken: Callable[[str], ModelError],
    ) -> BodyReader:
        def failed(exc: Exception, phase: str) -> ModelError:
            import httpx

            if isinstance(exc, httpx.TimeoutException):
                return _timeout(exc, self, phase)
            return broken(f"the connection broke while {phase} ({exc})")

        return BodyReader(
            resp,
            call,
            phase=phase,
            limit=self.limits.max_response_bytes,
            failed=failed,
        )

    # ----------------------------------------------------------- ModelClient

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One non-streamed call."""
        call = self._budget()
        async with self._http() as http:
            resp = await self._open(http, request, stream=False, call=call)
            try:
                raw = await self._reader(
                    resp, call, "reading the response", ModelResponseInvalidError
                ).read_all()
            finally:
                await resp.aclose()
        return parse_completion(raw)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        """Tokens as they arrive, then one ``Final``."""
        call = self._budget()
        async with self._http() as http:
            resp = await self._open(http, request, stream=True, call=call)
            try:
                assembler = _StreamAssembler(request.model)
                ctype = resp.headers.get("content-type", "")
                if ctype.startswith("application/json"):
                    # a server that ignores "stream": answer with the whole reply
                    reader = self._reader(
                        resp, call, "reading the response", ModelResponseInvalidError
                    )
                    response = parse_completion(await reader.read_all())
                    if response.message.content:
                        yield Token(response.message.content)
                    yield Final(response)
                    return
                reader = self._reader(
                    resp, call, "waiting for the next stream event", assembler.invalid
                )
                saw_done = False
                async for data in _sse_data(reader, SSEParser(self.limits, self.url)):
                    if data.strip() == "[DONE]":
                        saw_done = True
                        break
                    text = assembler.feed(data)
                    if text:
                        yield Token(text)
                yield Final(assembler.finish(saw_done))
            finally:
                await resp.aclose()


def _timeout(
    exc: Exception, client: OpenAICompatClient, phase: str
) -> ModelTimeoutError:
    import httpx

    t = client.timeouts
    seconds: float | None
    if isinstance(exc, httpx.ConnectTimeout):
        phase, seconds = "connecting", t.connect
    elif isinstance(exc, httpx.WriteTimeout):
        phase, seconds = "sending the request", t.write
    elif isinstance(exc, httpx.PoolTimeout):
        phase, seconds = "waiting for a free connection", t.pool
    else:
        seconds = t.read
    return ModelTimeoutError(phase, seconds=seconds, url=client.url)


async def _sse_data(reader: BodyReader, parser: SSEParser) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event, read within the limits."""
    while (chunk := await reader.next()) is not None:
        for data in parser.feed(chunk):
            yield data
    for data in parser.close():
        yield data
