"""The OpenAI-compatible adapter against a misbehaving server: every limit holds.

The server is ``http.server`` in a thread on 127.0.0.1. Each reply below misbehaves
in one way (an oversize JSON body, one endless SSE line, an endless stream of tokens,
a huge error body, a huge ``Retry-After``) and every loop in it is bounded by a count
and a time, and stops when the client hangs up or the test ends. Each test checks the
typed error, that memory stayed far below the payload (``tracemalloc`` peak) and that
the call returned within its limit plus a margin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import tracemalloc
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
    Limits,
    ModelDeadlineExceededError,
    ModelHTTPError,
    ModelResponseTooLargeError,
    ModelRetryBudgetExceededError,
    OpenAICompatClient,
    Retries,
    StreamChunk,
    Timeouts,
    Token,
)
from hive_core.testing import FakeClock

Reply = Callable[[BaseHTTPRequestHandler, threading.Event], None]

PAYLOAD = 32 * 1024 * 1024
"""What an oversize reply would send: well above every limit used here."""
PIECE = b"x" * 65536
"""One write of filler, reused so the server allocates nothing per write."""
SERVER_SECONDS = 10.0
"""No server loop runs longer than this, whatever the client does."""
MARGIN = 2.0
"""Seconds a call may take beyond its limit on a loaded machine."""
REQUEST = ChatRequest(model="m", messages=(ChatMessage.user("u", "hi"),))
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


@attrs.define
class Server:
    url: str
    replies: deque[Reply] = attrs.field(factory=deque)
    requests: int = 0
    stop: threading.Event = attrs.field(factory=threading.Event)


def _filler(h: BaseHTTPRequestHandler, total: int, stop: threading.Event) -> None:
    """Write ``total`` bytes of filler until the client hangs up or time runs out."""
    until = time.monotonic() + SERVER_SECONDS
    for _ in range(total // len(PIECE) + 1):
        if stop.is_set() or time.monotonic() > until:
            return
        try:
            h.wfile.write(PIECE)
        except OSError:  # the client closed the connection: the limit worked
            return


def _head(
    h: BaseHTTPRequestHandler, status: int, ctype: str, **headers: str | int
) -> None:
    h.send_response_only(status)  # no automatic Date header: tests choose it
    h.send_header("Content-Type", ctype)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), str(value))
    h.end_headers()


def big_json(*, declared: bool) -> Reply:
    """A JSON body of PAYLOAD bytes, with or without a Content-Length."""

    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        extra = {"Content_Length": PAYLOAD} if declared else {}
        _head(h, 200, "application/json", **extra)
        h.wfile.write(b'{"id": "')
        _filler(h, PAYLOAD, stop)

    return reply


def one_long_line(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """An SSE stream whose first line never ends."""
    _head(h, 200, "text/event-stream")
    h.wfile.write(b"data: ")
    _filler(h, PAYLOAD, stop)


def many_data_lines(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """One SSE event that never ends: short data lines, no blank line."""
    _head(h, 200, "text/event-stream")
    line = b"data: " + b"y" * 1000 + b"\n"
    until = time.monotonic() + SERVER_SECONDS
    for _ in range(PAYLOAD // len(line)):
        if stop.is_set() or time.monotonic() > until:
            return
        try:
            h.wfile.write(line)
        except OSError:
            return


def _token(text: str) -> bytes:
    event = {"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def endless_tokens(every: float) -> Reply:
    """A token every ``every`` seconds, never a finish (at most 10 s, 5000 tokens)."""

    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(h, 200, "text/event-stream")
        until = time.monotonic() + SERVER_SECONDS
        for _ in range(5000):
            if time.monotonic() > until:
                return
            try:
                h.wfile.write(_token("t"))
                h.wfile.flush()
            except OSError:
                return
            if stop.wait(every):  # pacing only; the test never waits on it
                return

    return reply


def silent_after(data: bytes) -> Reply:
    """Send ``data`` (maybe nothing, not even headers), then hold the connection."""

    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if data:
            h.wfile.write(data)
            h.wfile.flush()
        stop.wait(SERVER_SECONDS)

    return reply


def big_error(status: int) -> Reply:
    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(h, status, "text/plain")
        h.wfile.write(b"overloaded: ")
        _filler(h, PAYLOAD, stop)

    return reply


def retry_after(value: str, *, date: str | None = None) -> Reply:
    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        raw = b'{"error": {"message": "slow down"}}'
        extra: dict[str, str | int] = {"Retry_After": value, "Content_Length": len(raw)}
        if date is not None:
            extra["Date"] = date
        _head(h, 429, "application/json", **extra)
        h.wfile.write(raw)

    return reply


def ok(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    raw = json.dumps(
        {"id": "c", "choices": [{"index": 0, "message": {"content": "fine"}}]}
    ).encode()
    _head(h, 200, "application/json", Content_Length=len(raw))
    h.wfile.write(raw)


@pytest.fixture(scope="module")
def _server() -> Iterator[Server]:
    state: dict[str, Server] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server = state["s"]
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.requests += 1
            server.replies.popleft()(self, server.stop)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state["s"] = Server(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state["s"]
    state["s"].stop.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(_server: Server) -> Iterator[Server]:
    _server.replies.clear()
    _server.requests = 0
    _server.stop.clear()
    yield _server
    _server.stop.set()  # ends any reply still running
    assert not _server.replies, "a queued reply was never requested"


def client_for(server: Server, **options: Any) -> OpenAICompatClient:
    options.setdefault("timeouts", Timeouts(connect=2.0, read=5.0, deadline=30.0))
    return OpenAICompatClient(base_url=server.url, **options)


async def collect(client: OpenAICompatClient) -> list[StreamChunk]:
    return [c async for c in client.stream(REQUEST)]


@attrs.define
class Measured:
    seconds: float = 0.0
    peak_bytes: int = 0


@contextlib.contextmanager
def measured() -> Iterator[Measured]:
    """Wall time and the peak of traced Python memory (server thread included)."""
    out = Measured()
    tracemalloc.start()
    start = time.monotonic()
    try:
        yield out
    finally:
        out.seconds = time.monotonic() - start
        out.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


BOUNDED = PAYLOAD // 8
"""Peak memory allowed while a PAYLOAD-sized reply is refused."""
SMALL = Limits(
    max_response_bytes=256 * 1024,
    max_sse_line_bytes=64 * 1024,
    max_sse_event_bytes=128 * 1024,
    max_error_body_bytes=4096,
)


class TestSizeLimits:
    @pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
    def test_oversize_json_body(self, server: Server, declared: bool) -> None:
        server.replies.append(big_json(declared=declared))
        client = client_for(server, limits=SMALL)
        with measured() as m, pytest.raises(ModelResponseTooLargeError) as info:
            asyncio.run(client.complete(REQUEST))
        err = info.value
        assert (err.limit, err.value, err.what) == (
            "Limits.max_response_bytes",
            256 * 1024,
            "a response body",
        )
        assert err.code == "model-response-too-large"
        assert "Limits.max_response_bytes=262144" in str(err)
        assert m.peak_bytes < BOUNDED
        assert m.seconds < MARGIN

    def test_oversize_json_answer_to_a_stream_request(self, server: Server) -> None:
        server.replies.append(big_json(declared=False))
        client = client_for(server, limits=SMALL)
        with measured() as m, pytest.raises(ModelResponseTooLargeError):
            asyncio.run(collect(client))
        assert m.peak_bytes < BOUNDED

    def test_oversize_sse_line(self, server: Server) -> None:
        server.replies.append(one_long_line)
        client = client_for(server, limits=SMALL)
        with measured() as m, pytest.raises(ModelResponseTooLargeError) as info:
            asyncio.run(collect(client))
        assert (info.value.limit, info.value.value, info.value.what) == (
            "Limits.max_sse_line_bytes",
            64 * 1024,
            "an SSE line",
        )
        assert m.peak_bytes < BOUNDED
        assert m.seconds < MARGIN

    def test_oversize_sse_event(self, server: Server) -> None:
        server.replies.append(many_data_lines)
        client = client_for(server, limits=SMALL)
        with measured() as m, pytest.raises(ModelResponseTooLargeError) as info:
            asyncio.run(collect(client))
        assert (info.value.limit, info.value.value) == (
            "Limits.max_sse_event_bytes",
            128 * 1024,
        )
        assert m.peak_bytes < BOUNDED

    def test_a_stream_counts_against_the_response_limit(self, server: Server) -> None:
        """Many small, valid events: the total is what gets too large."""
        server.replies.append(endless_tokens(every=0.0))
        client = client_for(server, limits=Limits(max_response_bytes=64 * 1024))
        got: list[StreamChunk] = []

        async def consume() -> None:
            async for c in client.stream(REQUEST):
                got.append(c)

        with pytest.raises(ModelResponseTooLargeError) as info:
            asyncio.run(consume())
        assert info.value.limit == "Limits.max_response_bytes"
        assert len(got) * len(_token("t")) <= 64 * 1024

    def test_huge_error_body_is_cut_on_every_retry(self, server: Server) -> None:
        server.replies.extend([big_error(503), big_error(503), big_error(500)])
        clock = FakeClock()
        client = client_for(server, limits=SMALL, clock=clock)
        with measured() as m, pytest.raises(ModelHTTPError) as info:
            asyncio.run(client.complete(REQUEST))
        err = info.value
        assert (err.status, err.attempts, err.body_limit) == (500, 3, 4096)
        assert len(err.body) == 4096
        assert err.body.startswith("overloaded: xxx")
        assert "(body cut at Limits.max_error_body_bytes=4096)" in str(err)
        assert server.requests == 3
        assert clock.sleeps == [0.5, 1.0]
        assert m.peak_bytes < BOUNDED
        assert m.seconds < MARGIN


class TestDeadline:
    def test_an_endless_stream_ends_at_the_deadline(self, server: Server) -> None:
        """A token every 2 ms keeps the read timeout happy forever; the deadline
        (on the real clock here) ends it."""
        server.replies.append(endless_tokens(every=0.002))
        client = client_for(
            server, timeouts=Timeouts(connect=2.0, read=5.0, deadline=0.5)
        )
        got: list[StreamChunk] = []

        async def consume() -> None:
            async for c in client.stream(REQUEST):
                got.append(c)

        with measured() as m, pytest.raises(ModelDeadlineExceededError) as info:
            asyncio.run(consume())
        err = info.value
        assert (err.limit, err.value) == ("Timeouts.deadline", 0.5)
        assert err.phase == "waiting for the next stream event"
        assert err.code == "model-deadline-exceeded"
        assert isinstance(err, TimeoutError)
        assert len(got) > 10 and all(isinstance(c, Token) for c in got)
        assert 0.45 <= m.seconds < 0.5 + MARGIN

    @pytest.mark.parametrize(
        ("sent", "phase"),
        [
            (b"", "waiting for the response headers"),
            (
                b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                + _token("t"),
                "waiting for the next stream event",
            ),
        ],
        ids=["before-headers", "mid-stream"],
    )
    def test_a_silent_server_is_cut_off_at_the_deadline(
        self, server: Server, sent: bytes, phase: str
    ) -> None:
        """The read timeout (5 s) is longer than the deadline (0.3 s): the wait
        itself is cut off."""
        server.replies.append(silent_after(sent))
        client = client_for(
            server, timeouts=Timeouts(connect=2.0, read=5.0, deadline=0.3)
        )
        with measured() as m, pytest.raises(ModelDeadlineExceededError) as info:
            asyncio.run(collect(client))
        assert info.value.phase == phase
        assert m.seconds < 0.3 + MARGIN

    def test_a_complete_call_reading_slowly_is_cut_off(self, server: Server) -> None:
        server.replies.append(
            silent_after(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{")
        )
        client = client_for(
            server, timeouts=Timeouts(connect=2.0, read=5.0, deadline=0.3)
        )
        with pytest.raises(ModelDeadlineExceededError) as info:
            asyncio.run(client.complete(REQUEST))
        assert info.value.phase == "reading the response"

    def test_a_retry_wait_past_the_deadline_is_not_started(
        self, server: Server
    ) -> None:
        """On the fake clock: 3 s slept, 2 s left, the next wait is 3 s."""
        server.replies.extend([retry_after("3"), retry_after("3")])
        clock = FakeClock()
        client = client_for(
            server, clock=clock, timeouts=Timeouts(read=5.0, deadline=5.0)
        )
        with pytest.raises(ModelDeadlineExceededError) as info:
            asyncio.run(client.complete(REQUEST))
        assert info.value.phase == "waiting 3s to retry after HTTP 429"
        assert clock.sleeps == [3.0]
        assert isinstance(info.value.__cause__, ModelHTTPError)


class TestRetryBudget:
    def test_huge_retry_after_seconds(self, server: Server) -> None:
        """``Retry-After: 100000`` used to mean 60 s per retry; now the call fails at
        once: the wait does not fit in the budget."""
        server.replies.append(retry_after("100000"))
        clock = FakeClock()
        client = client_for(server, clock=clock, retries=Retries(budget=10.0))
        with measured() as m, pytest.raises(ModelRetryBudgetExceededError) as info:
            asyncio.run(client.complete(REQUEST))
        err = info.value
        assert (err.limit, err.value, err.wanted, err.spent) == (
            "Retries.budget",
            10.0,
            60.0,  # Retries.max_retry_after still caps what is asked
            0.0,
        )
        assert (err.attempts, err.last) == (1, "HTTP 429")
        assert isinstance(err.__cause__, ModelHTTPError)
        assert err.__cause__.status == 429
        assert clock.sleeps == []
        assert server.requests == 1
        assert m.seconds < MARGIN

    def test_huge_retry_after_http_date(self, server: Server) -> None:
        """A date a day after the server's ``Date``: 86400 s, measured on the
        server's clock."""
        server.replies.append(retry_after("Thu, 22 Oct 2015 07:28:00 GMT", date=DATE))
        clock = FakeClock()
        retries = Retries(budget=10.0, max_retry_after=1e9)
        client = client_for(server, clock=clock, retries=retries)
        with pytest.raises(ModelRetryBudgetExceededError) as info:
            asyncio.run(client.complete(REQUEST))
        assert info.value.wanted == 86400.0
        assert clock.sleeps == []

    def test_http_date_retry_after_is_waited_for(self, server: Server) -> None:
        server.replies.extend(
            [retry_after("Wed, 21 Oct 2015 07:28:03 GMT", date=DATE), ok]
        )
        clock = FakeClock()
        response = asyncio.run(client_for(server, clock=clock).complete(REQUEST))
        assert response.message.content == "fine"
        assert clock.sleeps == [3.0]

    def test_a_past_date_without_a_server_date_means_now(self, server: Server) -> None:
        server.replies.extend([retry_after(DATE), ok])
        clock = FakeClock()
        asyncio.run(client_for(server, clock=clock).complete(REQUEST))
        assert clock.sleeps == [0.0]

    def test_the_budget_is_shared_by_all_retries(self, server: Server) -> None:
        server.replies.extend([retry_after("4")] * 3)
        clock = FakeClock()
        client = client_for(
            server, clock=clock, retries=Retries(max_retries=5, budget=10.0)
        )
        with pytest.raises(ModelRetryBudgetExceededError) as info:
            asyncio.run(client.complete(REQUEST))
        assert clock.sleeps == [4.0, 4.0]
        assert (info.value.spent, info.value.wanted, info.value.attempts) == (
            8.0,
            4.0,
            3,
        )
        assert "only 2s of Retries.budget=10s is left" in str(info.value)

    def test_no_budget_means_the_old_behaviour(self, server: Server) -> None:
        server.replies.extend([retry_after("100000"), ok])
        clock = FakeClock()
        client = client_for(
            server,
            clock=clock,
            retries=Retries(budget=None),
            timeouts=Timeouts(deadline=None),
        )
        asyncio.run(client.complete(REQUEST))
        assert clock.sleeps == [60.0]


def test_a_well_behaved_stream_is_unaffected(server: Server) -> None:
    """Limits exactly at a normal reply's sizes: it passes (CRLF line ends too)."""

    def reply(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(h, 200, "text/event-stream")
        h.wfile.write(_token("Hel").replace(b"\n", b"\r\n"))
        h.wfile.write(_token("lo") + b"data: [DONE]\n\n")

    server.replies.append(reply)
    longest_line = len(_token("Hel")) - 2
    limits = Limits(max_sse_line_bytes=longest_line, max_response_bytes=4096)
    chunks = asyncio.run(collect(client_for(server, limits=limits)))
    assert chunks[:2] == [Token("Hel"), Token("lo")]
    assert isinstance(chunks[2], Final)
    assert chunks[2].response.message.content == "Hello"
