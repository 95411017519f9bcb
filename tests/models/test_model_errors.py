"""The model errors: codes, docstrings, attributes, messages and pickling."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core.errors import HiveError, RunError
from hive_core.models import _errors as errors

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

EXAMPLES: dict[type[HiveError], tuple[Callable[[], HiveError], dict[str, Any]]] = {
    errors.ModelError: (lambda: errors.ModelError("model failed"), {}),
    errors.ModelClientMissingError: (
        lambda: errors.ModelClientMissingError(where="ModelTurn `answer`"),
        {"where": "ModelTurn `answer`"},
    ),
    errors.ToolRegistryMissingError: (
        lambda: errors.ToolRegistryMissingError(tool_names=("add", "lookup")),
        {"tool_names": ("add", "lookup")},
    ),
    errors.ModelStreamInvalidError: (
        lambda: errors.ModelStreamInvalidError(
            "a second final chunk arrived", model="m"
        ),
        {"reason": "a second final chunk arrived", "model": "m"},
    ),
    errors.ModelResponseInvalidError: (
        lambda: errors.ModelResponseInvalidError("not JSON", body="<html>" + "x" * 400),
        {"reason": "not JSON", "body": "<html>" + "x" * 291 + "..."},
    ),
    errors.ModelToolLoopLimitError: (
        lambda: errors.ModelToolLoopLimitError(8),
        {"max_model_invocations": 8},
    ),
    errors.ModelHTTPError: (
        lambda: errors.ModelHTTPError(
            503,
            body="overloaded",
            url="http://127.0.0.1:1/v1/chat/completions",
            attempts=3,
        ),
        {"status": 503, "body": "overloaded", "attempts": 3},
    ),
    errors.ModelTimeoutError: (
        lambda: errors.ModelTimeoutError(
            "waiting for the next stream event", seconds=0.3, url="http://h/v1"
        ),
        {"phase": "waiting for the next stream event", "seconds": 0.3},
    ),
    errors.ModelConnectionError: (
        lambda: errors.ModelConnectionError(
            "http://h/v1", reason="refused", attempts=3
        ),
        {"url": "http://h/v1", "reason": "refused", "attempts": 3},
    ),
    errors.ModelLimitError: (
        lambda: errors.ModelLimitError(
            "limit hit", limit="Limits.max_response_bytes", value=10, url="http://h"
        ),
        {"limit": "Limits.max_response_bytes", "value": 10, "url": "http://h"},
    ),
    errors.ModelResponseTooLargeError: (
        lambda: errors.ModelResponseTooLargeError(
            "an SSE line",
            limit="Limits.max_sse_line_bytes",
            value=1048576,
            url="http://h/v1/chat/completions",
        ),
        {"what": "an SSE line", "limit": "Limits.max_sse_line_bytes", "value": 1048576},
    ),
    errors.ModelDeadlineExceededError: (
        lambda: errors.ModelDeadlineExceededError(
            "waiting for the next stream event", value=30.0, url="http://h/v1"
        ),
        {
            "phase": "waiting for the next stream event",
            "limit": "Timeouts.deadline",
            "value": 30.0,
        },
    ),
    errors.ModelRetryBudgetExceededError: (
        lambda: errors.ModelRetryBudgetExceededError(
            value=10.0,
            spent=4.0,
            wanted=60.0,
            attempts=2,
            last="HTTP 429",
            url="http://h/v1",
        ),
        {
            "limit": "Retries.budget",
            "value": 10.0,
            "spent": 4.0,
            "wanted": 60.0,
            "attempts": 2,
            "last": "HTTP 429",
        },
    ),
    errors.ToolContextMissingError: (
        lambda: errors.ToolContextMissingError("recall", call_id="c1"),
        {"name": "recall", "call_id": "c1"},
    ),
    errors.UnknownToolError: (
        lambda: errors.UnknownToolError("sub", available=("add",)),
        {"name": "sub", "available": ("add",)},
    ),
    errors.ToolArgumentsInvalidError: (
        lambda: errors.ToolArgumentsInvalidError(
            "add", call_id="c1", reason="Expected `int`, got `str` - at `$.a`"
        ),
        {"name": "add", "call_id": "c1"},
    ),
    errors.InvalidMessagesUpdateError: (
        lambda: errors.InvalidMessagesUpdateError("m9", reason="not in the list"),
        {"message_id": "m9", "reason": "not in the list"},
    ),
    errors.MissingTaskLocalValueError: (
        lambda: errors.MissingTaskLocalValueError(
            "current_tool_call", node="tool_execute"
        ),
        {"channel_id": "current_tool_call", "node": "tool_execute"},
    ),
    errors.CassetteError: (lambda: errors.CassetteError("tape problem"), {}),
    errors.CassetteMismatchError: (
        lambda: errors.CassetteMismatchError(
            "tape.json",
            index=1,
            path="messages[1].content",
            expected="'hi'",
            got="'hello'",
        ),
        {
            "index": 1,
            "path": "messages[1].content",
            "expected": "'hi'",
            "got": "'hello'",
        },
    ),
    errors.CassetteExhaustedError: (
        lambda: errors.CassetteExhaustedError("tape.json", what="model request #3"),
        {"cassette": "tape.json", "what": "model request #3"},
    ),
    errors.CassetteFormatError: (
        lambda: errors.CassetteFormatError("tape.json", reason="format is 'x'"),
        {"cassette": "tape.json", "reason": "format is 'x'"},
    ),
    errors.MessageFormatError: (
        lambda: errors.MessageFormatError("42", index=1, reason="type int"),
        {"item": "42", "index": 1, "reason": "type int"},
    ),
    errors.LangChainError: (
        lambda: errors.LangChainError(
            "GenericFakeChatModel", phase="invoking the model", reason="StopIteration()"
        ),
        {"component": "GenericFakeChatModel", "phase": "invoking the model"},
    ),
    errors.CommandError: (
        lambda: errors.CommandError("command failed", argv=("make",)),
        {"argv": ("make",)},
    ),
    errors.CommandInvalidError: (
        lambda: errors.CommandInvalidError(
            "argv", reason="is one str, not a sequence of str", argv=("ls -l",)
        ),
        {"what": "argv", "reason": "is one str, not a sequence of str"},
    ),
    errors.CommandStartError: (
        lambda: errors.CommandStartError(
            argv=("./run.sh",), reason="Permission denied", errno=13
        ),
        {"argv": ("./run.sh",), "errno": 13},
    ),
    errors.CommandNotFoundError: (
        lambda: errors.CommandNotFoundError(argv=("pytest", "-q"), errno=2),
        {"argv": ("pytest", "-q"), "errno": 2},
    ),
}

CLASSES = [getattr(errors, name) for name in errors.__all__]


def test_every_class_has_an_example() -> None:
    assert set(EXAMPLES) == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
class TestEachError:
    def test_is_a_run_error_with_a_kebab_code_and_docstring(
        self, cls: type[HiveError]
    ) -> None:
        assert issubclass(cls, RunError)
        assert KEBAB.match(cls.code)
        assert cls.__doc__ and cls.__doc__.strip()

    def test_attributes_and_pickling(self, cls: type[HiveError]) -> None:
        make, attrs = EXAMPLES[cls]
        err = make()
        assert type(err) is cls
        for name, value in attrs.items():
            assert getattr(err, name) == value
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls
        assert str(back) == str(err)
        assert back.__dict__ == err.__dict__

    def test_message(self, cls: type[HiveError], snapshot: SnapshotAssertion) -> None:
        assert str(EXAMPLES[cls][0]()) == snapshot


def test_codes_are_unique_across_hive() -> None:
    import hive_core.memory  # noqa: F401 - load every error family

    seen: dict[str, str] = {}
    pending: list[type[HiveError]] = [HiveError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith("hive_core"):
            continue
        assert seen.setdefault(cls.code, cls.__name__) == cls.__name__, cls.code


def test_builtin_bases() -> None:
    assert issubclass(errors.ModelTimeoutError, TimeoutError)
    assert issubclass(errors.ModelDeadlineExceededError, TimeoutError)
    assert issubclass(errors.ModelConnectionError, ConnectionError)
    assert issubclass(errors.UnknownToolError, LookupError)
    assert issubclass(errors.ToolArgumentsInvalidError, ValueError)
