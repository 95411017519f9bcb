"""The adapter's bounded reading, unit by unit: SSE splitting with size limits and
``Retry-After`` in both forms (the HTTP behaviour is in test_openai_limits.py)."""

from __future__ import annotations

import pytest

from hive_core.models import Limits, ModelResponseTooLargeError, Retries
from hive_core.models._bounded_io import SSEParser, retry_after_seconds

URL = "http://h/v1/chat/completions"


def parse(*chunks: bytes, limits: Limits | None = None) -> list[str]:
    parser = SSEParser(limits or Limits(), URL)
    events: list[str] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


class TestSSEParser:
    def test_events_lines_and_comments(self) -> None:
        stream = b": keep-alive\n\ndata: a\nevent: x\ndata:b\n\ndata\n\nid: 3\n\n"
        assert parse(stream) == ["a\nb", ""]

    @pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
    def test_every_line_ending(self, eol: bytes) -> None:
        assert parse(b"data: one" + eol + eol + b"data: two" + eol + eol) == [
            "one",
            "two",
        ]

    def test_chunk_boundaries_anywhere(self) -> None:
        """Split byte by byte (a CRLF across two chunks counts once)."""
        stream = b"data: he\r\ndata: llo\r\n\r\ndata: \xc3\xa9\r\n\r\n"
        pieces = [stream[i : i + 1] for i in range(len(stream))]
        assert parse(*pieces) == ["he\nllo", "\u00e9"]

    def test_an_unterminated_last_event_counts(self) -> None:
        assert parse(b"data: a\n\ndata: tail") == ["a", "tail"]

    def test_a_line_at_the_limit_passes_one_byte_more_fails(self) -> None:
        limits = Limits(max_sse_line_bytes=10)
        assert parse(b"data: abcd\n\n", limits=limits) == ["abcd"]
        with pytest.raises(ModelResponseTooLargeError) as info:
            parse(b"data: abc", b"de\n\n", limits=limits)
        assert (info.value.limit, info.value.value) == ("Limits.max_sse_line_bytes", 10)

    def test_a_line_is_refused_before_it_is_buffered(self) -> None:
        parser = SSEParser(Limits(max_sse_line_bytes=10), URL)
        with pytest.raises(ModelResponseTooLargeError):
            parser.feed(b"data: " + b"x" * 1_000_000)
        assert len(parser._line) == 0

    def test_event_limit_counts_all_data_lines(self) -> None:
        limits = Limits(max_sse_event_bytes=8)
        assert parse(b"data: abc\ndata: def\n\n", limits=limits) == ["abc\ndef"]
        with pytest.raises(ModelResponseTooLargeError) as info:
            parse(b"data: abc\ndata: def\ndata: g\n\n", limits=limits)
        assert info.value.limit == "Limits.max_sse_event_bytes"
        # the count starts again with each event
        assert parse(b"data: abc\ndata: def\n\n" * 3, limits=limits) == ["abc\ndef"] * 3


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5)],
    )
    def test_delay_seconds(self, value: str, seconds: float) -> None:
        assert retry_after_seconds(value) == seconds

    @pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon", "", "Mon, 99 Foo"])
    def test_unreadable_is_none(self, value: str) -> None:
        assert retry_after_seconds(value) is None

    def test_http_date_forms(self) -> None:
        now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
        assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
        assert retry_after_seconds("Wednesday, 21-Oct-15 07:29:00 GMT", now=now) == 60
        assert retry_after_seconds("Wed Oct 21 07:28:05 2015", now=now) == 5.0
        assert retry_after_seconds("Tue, 20 Oct 2015 07:28:00 GMT", now=now) == 0.0

    def test_retries_delay_caps_and_falls_back(self) -> None:
        retries = Retries(initial_delay=1.0, max_retry_after=60.0)
        now = 1445412480.0
        assert retries.delay(1, "Thu, 22 Oct 2015 07:28:00 GMT", now=now) == 60.0
        assert retries.delay(1, "Wed, 21 Oct 2015 07:28:02 GMT", now=now) == 2.0
        assert retries.delay(2, "garbage") == 2.0


def test_defaults_are_documented_values() -> None:
    from hive_core.models import Timeouts

    limits = Limits()
    assert (
        limits.max_response_bytes,
        limits.max_sse_line_bytes,
        limits.max_sse_event_bytes,
        limits.max_error_body_bytes,
    ) == (32 * 2**20, 2**20, 4 * 2**20, 64 * 2**10)
    assert Timeouts().deadline == 600.0
    assert Retries().budget == 60.0
