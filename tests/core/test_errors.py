"""The error tree: one root, stable codes, docstrings, attributes and pickling."""

from __future__ import annotations

import inspect
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import hive_core
from hive_core import errors
from hive_core.errors import HiveError, Problem

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TASK = "9f" * 32

# Every error class with a representative instance and the attributes it must keep.
EXAMPLES: dict[type[HiveError], tuple[Callable[[], HiveError], dict[str, Any]]] = {
    errors.HiveError: (lambda: errors.HiveError("something broke"), {}),
    errors.DefinitionError: (
        lambda: errors.DefinitionError("bad channel", subject="messages"),
        {"subject": "messages"},
    ),
    errors.CompilationError: (
        lambda: errors.CompilationError(
            [
                Problem(code="start-empty", message="The start list is empty"),
                Problem(
                    code="unknown-edge-endpoint",
                    message="Edge `A` -> `B` names unknown node `B`",
                    subject="B",
                    details={"from": "A", "to": "B"},
                ),
            ]
        ),
        {
            "problems": (
                Problem(code="start-empty", message="The start list is empty"),
                Problem(
                    code="unknown-edge-endpoint",
                    message="Edge `A` -> `B` names unknown node `B`",
                    subject="B",
                    details={"from": "A", "to": "B"},
                ),
            )
        },
    ),
    errors.RunError: (lambda: errors.RunError("run failed"), {}),
    errors.InvalidRunOptionsError: (
        lambda: errors.InvalidRunOptionsError(
            "max_steps must be >= 0", option="max_steps"
        ),
        {"option": "max_steps"},
    ),
    errors.UnknownChannelError: (
        lambda: errors.UnknownChannelError("draft", node="write", step=3),
        {"channel_id": "draft", "node": "write", "step": 3},
    ),
    errors.ScopeMismatchError: (
        lambda: errors.ScopeMismatchError(
            "draft", expected="global", actual="task-local"
        ),
        {"channel_id": "draft", "expected": "global", "actual": "task-local"},
    ),
    errors.ChannelTypeMismatchError: (
        lambda: errors.ChannelTypeMismatchError(
            "count", expected="int", actual="str", node="inc", step=2
        ),
        {
            "channel_id": "count",
            "expected": "int",
            "actual": "str",
            "node": "inc",
            "step": 2,
        },
    ),
    errors.UpdatePolicyViolationError: (
        lambda: errors.UpdatePolicyViolationError(
            "topic", policy="single", write_count=2, step=1
        ),
        {"channel_id": "topic", "policy": "single", "write_count": 2, "step": 1},
    ),
    errors.TaskLocalWriteNotAllowedError: (
        lambda: errors.TaskLocalWriteNotAllowedError("scratch"),
        {"channel_id": "scratch"},
    ),
    errors.UnknownNodeError: (
        lambda: errors.UnknownNodeError("ghost", step=4),
        {"node_id": "ghost", "step": 4},
    ),
    errors.IndexOutOfRangeError: (
        lambda: errors.IndexOutOfRangeError("step index", 2**32),
        {"what": "step index", "value": 2**32},
    ),
    errors.CodecError: (
        lambda: errors.CodecError(
            "draft", codec_id="json", operation="encode", reason="unsupported type"
        ),
        {
            "channel_id": "draft",
            "codec_id": "json",
            "operation": "encode",
            "reason": "unsupported type",
        },
    ),
    errors.NodeError: (
        lambda: errors.NodeError(
            "fetch", step=5, task_id=TASK, attempts=3, cause="TimeoutError('slow')"
        ),
        {"node_id": "fetch", "step": 5, "task_id": TASK, "attempts": 3},
    ),
    errors.ReducerError: (
        lambda: errors.ReducerError("total", step=2, cause="OverflowError()"),
        {"channel_id": "total", "step": 2},
    ),
    errors.ChannelValueTypeError: (
        lambda: errors.ChannelValueTypeError(
            "tags", path="$[0]", expected="str", actual="int", node="n", step=1
        ),
        {"channel_id": "tags", "path": "$[0]", "node": "n", "step": 1},
    ),
    errors.InterruptPayloadTypeError: (
        lambda: errors.InterruptPayloadTypeError(
            "ask", path="$", expected="str", actual="object", step=2
        ),
        {"node": "ask", "path": "$", "step": 2},
    ),
    errors.RouterError: (
        lambda: errors.RouterError("plan", step=1, cause="KeyError('x')"),
        {"node_id": "plan", "step": 1},
    ),
    errors.CheckpointError: (lambda: errors.CheckpointError("store failed"), {}),
    errors.CheckpointStoreMissingError: (
        lambda: errors.CheckpointStoreMissingError("resume"),
        {"operation": "resume"},
    ),
    errors.CheckpointVersionMismatchError: (
        lambda: errors.CheckpointVersionMismatchError(
            expected_schema="a" * 64,
            expected_graph="b" * 64,
            found_schema="c" * 64,
            found_graph="d" * 64,
        ),
        {
            "expected_schema": "a" * 64,
            "expected_graph": "b" * 64,
            "found_schema": "c" * 64,
            "found_graph": "d" * 64,
        },
    ),
    errors.CheckpointCorruptError: (
        lambda: errors.CheckpointCorruptError(
            "frontier", checkpoint_id="e" * 64, reason="wrong length"
        ),
        {"field": "frontier", "checkpoint_id": "e" * 64, "reason": "wrong length"},
    ),
    errors.CheckpointDecodeError: (
        lambda: errors.CheckpointDecodeError(
            "messages", checkpoint_id="f" * 64, reason="expected array"
        ),
        {"subject": "messages", "checkpoint_id": "f" * 64, "reason": "expected array"},
    ),
    errors.CheckpointEncodeError: (
        lambda: errors.CheckpointEncodeError("blob", reason="not JSON"),
        {"channel_id": "blob", "reason": "not JSON"},
    ),
    errors.CheckpointNotFoundError: (
        lambda: errors.CheckpointNotFoundError("thread-1", "0" * 64),
        {"thread_id": "thread-1", "checkpoint_id": "0" * 64},
    ),
    errors.ThreadExistsError: (
        lambda: errors.ThreadExistsError("thread-2"),
        {"thread_id": "thread-2"},
    ),
    errors.ResumeError: (lambda: errors.ResumeError("resume failed"), {}),
    errors.InterruptPendingError: (
        lambda: errors.InterruptPendingError("thread-1", "1" * 64),
        {"thread_id": "thread-1", "interrupt_id": "1" * 64},
    ),
    errors.NoCheckpointToResumeError: (
        lambda: errors.NoCheckpointToResumeError("thread-1"),
        {"thread_id": "thread-1"},
    ),
    errors.NoInterruptToResumeError: (
        lambda: errors.NoInterruptToResumeError("thread-1"),
        {"thread_id": "thread-1"},
    ),
    errors.ResumeInterruptMismatchError: (
        lambda: errors.ResumeInterruptMismatchError(expected="2" * 64, found="3" * 64),
        {"expected": "2" * 64, "found": "3" * 64},
    ),
    errors.ResumePayloadError: (
        lambda: errors.ResumePayloadError(expected="bool", reason="got str"),
        {"expected": "bool", "reason": "got str"},
    ),
    errors.HiveInternalError: (
        lambda: errors.HiveInternalError("frontier and barriers disagree"),
        {},
    ),
}


def error_classes() -> list[type[HiveError]]:
    """Every HiveError subclass defined in ``hive_core.errors``, root included."""
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, HiveError) and cls.__module__ == errors.__name__
    ]


CLASSES = sorted(EXAMPLES, key=lambda c: c.__name__)


class TestTree:
    def test_every_error_class_has_an_example(self) -> None:
        assert {c.__name__ for c in error_classes()} == {c.__name__ for c in EXAMPLES}

    def test_every_error_class_is_exported(self) -> None:
        for cls in error_classes():
            assert cls.__name__ in errors.__all__
            assert getattr(hive_core, cls.__name__) is cls

    @pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
    def test_has_a_kebab_case_code(self, cls: type[HiveError]) -> None:
        assert "code" in vars(cls), "each class declares its own code"
        assert KEBAB.match(cls.code), cls.code

    def test_codes_are_unique(self) -> None:
        codes = [cls.code for cls in error_classes()]
        assert len(codes) == len(set(codes))

    @pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
    def test_has_its_own_docstring(self, cls: type[HiveError]) -> None:
        doc = vars(cls).get("__doc__")
        assert doc
        assert doc.strip()

    @pytest.mark.parametrize(
        ("cls", "builtin"),
        [
            (errors.DefinitionError, TypeError),
            (errors.CompilationError, ValueError),
            (errors.InvalidRunOptionsError, ValueError),
            (errors.UnknownChannelError, LookupError),
            (errors.ScopeMismatchError, TypeError),
            (errors.ChannelTypeMismatchError, TypeError),
            (errors.UpdatePolicyViolationError, ValueError),
            (errors.TaskLocalWriteNotAllowedError, ValueError),
            (errors.UnknownNodeError, LookupError),
            (errors.IndexOutOfRangeError, OverflowError),
            (errors.CodecError, ValueError),
            (errors.CheckpointNotFoundError, LookupError),
            (errors.ResumePayloadError, TypeError),
        ],
        ids=lambda x: x.__name__,
    )
    def test_also_subclasses_the_builtin_callers_expect(
        self, cls: type[HiveError], builtin: type[Exception]
    ) -> None:
        assert issubclass(cls, builtin)

    @pytest.mark.parametrize(
        ("cls", "parent"),
        [
            (errors.NodeError, errors.RunError),
            (errors.ReducerError, errors.RunError),
            (errors.RouterError, errors.RunError),
            (errors.UnknownChannelError, errors.RunError),
            (errors.CheckpointDecodeError, errors.CheckpointError),
            (errors.InterruptPendingError, errors.ResumeError),
            (errors.ResumeError, errors.CheckpointError),
        ],
        ids=lambda x: x.__name__,
    )
    def test_phase_parents(self, cls: type[HiveError], parent: type[HiveError]) -> None:
        assert issubclass(cls, parent)


class TestInstances:
    @pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
    def test_keeps_structured_attributes(self, cls: type[HiveError]) -> None:
        make, attributes = EXAMPLES[cls]
        err = make()
        assert type(err) is cls
        for name, value in attributes.items():
            assert getattr(err, name) == value

    @pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
    def test_survives_a_pickle_round_trip(self, cls: type[HiveError]) -> None:
        make, attributes = EXAMPLES[cls]
        err = make()
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is cls
        assert str(copy) == str(err)
        assert copy.args == err.args
        assert vars(copy) == vars(err)
        for name, value in attributes.items():
            assert getattr(copy, name) == value

    @pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
    def test_message(self, cls: type[HiveError], snapshot: SnapshotAssertion) -> None:
        make, _ = EXAMPLES[cls]
        assert str(make()) == snapshot

    def test_compilation_error_codes(self) -> None:
        make, _ = EXAMPLES[errors.CompilationError]
        err = make()
        assert isinstance(err, errors.CompilationError)
        assert err.codes == ("start-empty", "unknown-edge-endpoint")

    def test_location_suffix_is_optional(self) -> None:
        assert str(errors.UnknownChannelError("x")) == (
            "Unknown channel `x`: the schema declares no such channel"
        )

    def test_problem_defaults(self) -> None:
        problem = Problem(code="start-empty", message="m")
        assert problem.subject == ""
        assert problem.details == {}

    def test_problem_is_frozen(self) -> None:
        problem = Problem(code="start-empty", message="m")
        with pytest.raises(AttributeError):
            problem.code = "other"  # type: ignore[misc]
