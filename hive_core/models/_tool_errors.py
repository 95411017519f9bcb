"""What happens when a tool call fails: end the run, or tell the model.

LangGraph's ``ToolNode(handle_tool_errors=...)`` in Hive's terms. A call can fail
three ways the model can fix by itself: it names a tool that does not exist
(``UnknownToolError``), its arguments do not validate
(``ToolArgumentsInvalidError``), or the tool raises. The policy decides:

* ``"raise"`` (the default): the exception propagates and the node fails, so a
  broken tool is never hidden from whoever runs the graph;
* ``"return"``: the error becomes the call's tool message
  (:func:`tool_error_message`) and the loop goes on, so the model sees it and can
  retry or answer;
* a function ``(call, error) -> str``: its text becomes the tool message; it may
  re-raise to end the run for errors it does not want the model to see.

Either way ``tool_invocation_finished`` reports ``success=False``. Only
``Exception`` is handled: cancellation always propagates. See
``docs/agents.md#tool-errors-the-model-can-see``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

from ..errors import DefinitionError
from ._chat import ToolCall

__all__ = [
    "ToolErrorHandler",
    "ToolErrors",
    "check_tool_errors",
    "tool_error_message",
    "tool_error_text",
]

ToolErrorHandler: TypeAlias = Callable[[ToolCall, Exception], str]
"""Formats a failed call's error as the text the model sees."""

ToolErrors: TypeAlias = "Literal['raise', 'return'] | ToolErrorHandler"
"""The tool error policy: ``"raise"``, ``"return"`` or a formatting function."""


def tool_error_message(call: ToolCall, error: Exception) -> str:
    """The text ``"return"`` sends the model: the tool, the error's class and its
    message, and a request to fix the call. Deterministic: no addresses, no
    traceback."""
    return (
        f"Error: the call to tool `{call.name}` failed with "
        f"{type(error).__name__}: {error}\n"
        "Fix the call (tool name and arguments) and try again, or answer without it."
    )


def check_tool_errors(policy: object, *, where: str) -> None:
    """Refuse a policy that is neither ``"raise"``, ``"return"`` nor callable."""
    if policy in ("raise", "return") or (
        callable(policy) and not isinstance(policy, str)
    ):
        return
    raise DefinitionError(
        f"{where}: tool_errors={policy!r} is not a tool error policy\n\n"
        "Fix: pass 'raise' (end the run), 'return' (the model sees the error) or a "
        "function (call, error) -> str"
    )


def tool_error_text(
    policy: Literal["return"] | ToolErrorHandler, call: ToolCall, error: Exception
) -> str:
    """The tool message for a failed call under a policy that does not raise (a
    handler may still raise, which ends the run with its exception)."""
    if policy == "return":
        return tool_error_message(call, error)
    if isinstance(policy, str):  # pragma: no cover - refused by check_tool_errors
        raise DefinitionError(f"tool_errors={policy!r} is not a tool error policy")
    text = policy(call, error)
    if not isinstance(text, str):
        raise DefinitionError(
            f"The tool error handler returned {type(text).__name__}, not str, for "
            f"the call to `{call.name}`\n\nFix: return the text the model should see"
        ) from error
    return text
