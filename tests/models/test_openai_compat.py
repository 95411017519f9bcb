"""The OpenAI-compatible adapter over real HTTP, against a scripted local server.

The server is ``http.server`` in a thread on 127.0.0.1 speaking just enough of the
chat-completions protocol: each test queues the replies it wants (JSON, SSE events,
an error status, a stall) and reads back the requests the adapter sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest

from hive_core.models import (
    ChatMessage,
    ChatRequest,
    Final,
    ModelConnectionError,
    ModelHTTPError,
    ModelResponseInvalidError,
    ModelStreamInvalidError,
    ModelTimeoutError,
    OpenAICompatClient,
    Retries,
    StreamChunk,
    Timeouts,
    Token,
    ToolCall,
    ToolDefinition,
)
from hive_core.testing import FakeClock

Reply = Callable[[BaseHTTPRequestHandler], None]


@attrs.define
class FakeServer:
    """Replies are consumed one per request; requests are recorded."""

    url: str
    replies: deque[Reply] = attrs.field(factory=deque)
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    headers: list[dict[str, str]] = attrs.field(factory=list)
    release: threading.Event = attrs.field(factory=threading.Event)


def json_reply(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Reply:
    def reply(h: BaseHTTPRequestHandler) -> None:
        raw = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(raw)

    return reply


def sse_reply(events: list[str], *, stall: threading.Event | None = None) -> Reply:
    """Send ``data: <event>`` blocks; with ``stall``, hang (open) until released."""

    def reply(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for ev in events:
            h.wfile.write(f"data: {ev}\n\n".encode())
            h.wfile.flush()
        if stall is not None:
            stall.wait(5)

    return reply


def chunk(
    delta: dict[str, Any], finish: str | None = None, id: str = "chatcmpl-1"
) -> str:
    return json.dumps(
        {
            "id": id,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeServer]:
    state: dict[str, FakeServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server = state["s"]
            length = int(self.headers.get("Content-Length", "0"))
            server.requests.append(json.loads(self.rfile.read(length)))
            server.headers.append({k.lower(): v for k, v in self.headers.items()})
            server.replies.popleft()(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state["s"] = FakeServer(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state["s"]
    state["s"].release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(_server: FakeServer) -> Iterator[FakeServer]:
    _server.replies.clear()
    _server.requests.clear()
    _server.headers.clear()
    _server.release.clear()
    yield _server
    _server.release.set()
    assert not _server.replies, "a queued reply was never requested"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(server: FakeServer, clock: FakeClock) -> OpenAICompatClient:
    return OpenAICompatClient(
        base_url=server.url,
        api_key="sk-test",
        timeouts=Timeouts(connect=1.0, read=0.3, write=1.0, pool=1.0),
        clock=clock,
    )


REQUEST = ChatRequest(
    model="small-model",
    messages=(ChatMessage.system("s", "be brief"), ChatMessage.user("u", "hi")),
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(
    client: OpenAICompatClient, request: ChatRequest
) -> list[StreamChunk]:
    return [c async for c in client.stream(request)]


class TestComplete:
    def test_plain_reply(self, server: FakeServer, client: OpenAICompatClient) -> None:
        server.replies.append(
            json_reply(completion({"role": "assistant", "content": "hello"}))
        )
        response = run(client.complete(REQUEST))
        assert response.message == ChatMessage.assistant("chatcmpl-9", "hello")
        assert response.finish_reason == "stop"
        assert server.requests == [
            {
                "model": "small-model",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                ],
                "stream": False,
            }
        ]
        assert server.headers[0]["authorization"] == "Bearer sk-test"

    def test_tool_calls_and_tool_definitions(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(
            json_reply(
                completion(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {
                                    "name": "add",
                                    "arguments": '{"a":1,"b":2}',
                                },
                            }
                        ],
                    },
                    finish="tool_calls",
                )
            )
        )
        call = ToolCall(id="call_0", name="add", arguments_json='{"a":0,"b":0}')
        request = ChatRequest(
            model="m",
            messages=(
                ChatMessage.user("u", "add"),
                ChatMessage.assistant("a", "", (call,)),
                ChatMessage.tool(call, "0"),
            ),
            tools=(
                ToolDefinition(
                    name="add",
                    description="Add.",
                    parameters_json_schema='{"type":"object","properties":{}}',
                ),
            ),
            temperature=0.0,
            max_tokens=50,
        )
        response = run(client.complete(request))
        assert response.message.tool_calls == (
            ToolCall(id="call_1", name="add", arguments_json='{"a":1,"b":2}'),
        )
        assert response.message.content == ""
        sent = server.requests[0]
        assert sent["messages"][1] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a":0,"b":0}'},
                }
            ],
        }
        assert sent["messages"][2] == {
            "role": "tool",
            "content": "0",
            "tool_call_id": "call_0",
        }
        assert sent["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "description": "Add.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ]
        assert (sent["temperature"], sent["max_tokens"]) == (0.0, 50)

    def test_not_a_completion(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(json_reply({"unexpected": True}))
        with pytest.raises(
            ModelResponseInvalidError, match="missing or mistyped field"
        ):
            run(client.complete(REQUEST))


class TestStream:
    def test_tokens_then_final(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(
            sse_reply(
                [
                    chunk({"role": "assistant", "content": ""}),
                    chunk({"content": "Hel"}),
                    chunk({"content": "lo"}),
                    chunk({}, finish="stop"),
                    "[DONE]",
                ]
            )
        )
        chunks = run(collect(client, REQUEST))
        assert chunks[:2] == [Token("Hel"), Token("lo")]
        assert isinstance(chunks[2], Final)
        assert len(chunks) == 3
        final = chunks[2].response
        assert final.message == ChatMessage.assistant("chatcmpl-1", "Hello")
        assert final.finish_reason == "stop"
        assert server.requests[0]["stream"] is True
        assert server.headers[0]["accept"] == "text/event-stream"

    def test_streamed_tool_call_fragments_are_assembled_by_index(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        def frag(index: int, **fields: Any) -> dict[str, Any]:
            return {"tool_calls": [{"index": index, **fields}]}

        server.replies.append(
            sse_reply(
                [
                    chunk({"role": "assistant", "content": None}),
                    chunk(
                        frag(
                            0,
                            id="call_a",
                            type="function",
                            function={"name": "add", "arguments": ""},
                        )
                    ),
                    chunk(frag(0, function={"arguments": '{"a": '})),
                    chunk(
                        frag(
                            1,
                            id="call_b",
                            type="function",
                            function={"name": "lookup", "arguments": '{"key"'},
                        )
                    ),
                    chunk(frag(0, function={"arguments": '1, "b": 2}'})),
                    chunk(frag(1, function={"arguments": ': "x"}'})),
                    chunk({}, finish="tool_calls"),
                    "[DONE]",
                ]
            )
        )
        chunks = run(collect(client, REQUEST))
        assert len(chunks) == 1
        final = chunks[0]
        assert isinstance(final, Final)
        assert final.response.message.tool_calls == (
            ToolCall(id="call_a", name="add", arguments_json='{"a": 1, "b": 2}'),
            ToolCall(id="call_b", name="lookup", arguments_json='{"key": "x"}'),
        )
        assert final.response.finish_reason == "tool_calls"

    def test_malformed_event_is_an_invalid_stream(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(sse_reply([chunk({"content": "a"}), "{not json"]))
        with pytest.raises(ModelStreamInvalidError, match="event is not JSON"):
            run(collect(client, REQUEST))

    def test_stream_ending_early_is_invalid(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(sse_reply([chunk({"content": "a"})]))
        with pytest.raises(ModelStreamInvalidError, match=r"ended before \[DONE\]"):
            run(collect(client, REQUEST))

    def test_error_event_mid_stream(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(
            sse_reply([json.dumps({"error": {"message": "overloaded"}})])
        )
        with pytest.raises(ModelStreamInvalidError, match="overloaded"):
            run(collect(client, REQUEST))

    def test_a_stalled_stream_times_out(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        """Tokens arrive, then the server goes silent with the connection open: the
        read timeout (0.3 s here) ends the wait with a typed error."""
        server.replies.append(
            sse_reply([chunk({"content": "partial"})], stall=server.release)
        )
        got: list[StreamChunk] = []

        async def consume() -> None:
            async for c in client.stream(REQUEST):
                got.append(c)

        with pytest.raises(ModelTimeoutError) as info:
            run(consume())
        assert got == [Token("partial")]
        assert info.value.phase == "waiting for the next stream event"
        assert info.value.seconds == 0.3
        assert info.value.code == "model-timeout"

    def test_json_answer_to_a_stream_request(
        self, server: FakeServer, client: OpenAICompatClient
    ) -> None:
        server.replies.append(
            json_reply(completion({"role": "assistant", "content": "whole"}))
        )
        chunks = run(collect(client, REQUEST))
        assert chunks[0] == Token("whole")
        assert isinstance(chunks[1], Final)


class TestErrorsAndRetries:
    def test_http_error_is_typed_and_not_retried(
        self, server: FakeServer, client: OpenAICompatClient, clock: FakeClock
    ) -> None:
        server.replies.append(
            json_reply({"error": {"message": "unknown model"}}, status=400)
        )
        with pytest.raises(ModelHTTPError) as info:
            run(client.complete(REQUEST))
        assert info.value.status == 400
        assert "unknown model" in info.value.body
        assert info.value.attempts == 1
        assert clock.sleeps == []

    def test_429_then_success_is_retried_with_backoff(
        self, server: FakeServer, client: OpenAICompatClient, clock: FakeClock
    ) -> None:
        server.replies.append(
            json_reply({"error": {"message": "slow down"}}, status=429)
        )
        server.replies.append(
            json_reply({"error": {"message": "still busy"}}, status=503)
        )
        server.replies.append(
            json_reply(completion({"role": "assistant", "content": "ok"}))
        )
        response = run(client.complete(REQUEST))
        assert response.message.content == "ok"
        assert clock.sleeps == [0.5, 1.0]
        assert len(server.requests) == 3

    def test_retry_after_header_is_honoured(
        self, server: FakeServer, client: OpenAICompatClient, clock: FakeClock
    ) -> None:
        server.replies.append(json_reply({}, status=429, headers={"Retry-After": "3"}))
        server.replies.append(
            sse_reply([chunk({"content": "x"}, finish="stop"), "[DONE]"])
        )
        chunks = run(collect(client, REQUEST))
        assert chunks[0] == Token("x")
        assert clock.sleeps == [3.0]

    def test_retries_run_out(self, server: FakeServer, clock: FakeClock) -> None:
        client = OpenAICompatClient(
            base_url=server.url, retries=Retries(max_retries=1), clock=clock
        )
        server.replies.append(json_reply({}, status=500))
        server.replies.append(json_reply({"detail": "boom"}, status=502))
        with pytest.raises(ModelHTTPError) as info:
            run(client.complete(REQUEST))
        assert (info.value.status, info.value.attempts) == (502, 2)
        assert str(info.value).startswith(
            f"Model server `{server.url}/chat/completions` answered HTTP 502 after 2 attempts"
        )

    def test_connection_errors_are_retried_then_typed(self, clock: FakeClock) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = OpenAICompatClient(base_url=f"http://127.0.0.1:{port}/v1", clock=clock)
        with pytest.raises(ModelConnectionError) as info:
            run(client.complete(REQUEST))
        assert info.value.attempts == 3
        assert clock.sleeps == [0.5, 1.0]


class TestConfiguration:
    def test_base_url_and_key_from_the_environment(
        self, server: FakeServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        client = OpenAICompatClient()
        assert client.url == server.url + "/chat/completions"
        server.replies.append(
            json_reply(completion({"role": "assistant", "content": "hi"}))
        )
        run(client.complete(REQUEST))
        assert server.headers[0]["authorization"] == "Bearer sk-env"

    def test_no_key_sends_no_authorization(
        self, server: FakeServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        server.replies.append(
            json_reply(completion({"role": "assistant", "content": "hi"}))
        )
        run(OpenAICompatClient(base_url=server.url).complete(REQUEST))
        assert "authorization" not in server.headers[0]

    def test_backoff_delays_are_capped(self) -> None:
        retries = Retries(initial_delay=1.0, factor=3.0, max_delay=5.0)
        assert [retries.delay(n) for n in (1, 2, 3)] == [1.0, 3.0, 5.0]
        assert retries.delay(1, "not-a-number") == 1.0
        assert retries.delay(1, "120") == 60.0


def test_importing_hive_core_does_not_import_httpx() -> None:
    import subprocess

    code = "import sys, hive_core, hive_core.models; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
