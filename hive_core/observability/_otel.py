"""OpenTelemetry spans: run → step → task → model call / tool call.

Only ``opentelemetry-api`` is imported (the optional ``otel`` extra), when an
``OpenTelemetryObserver`` is built; the application installs an SDK and exporter.
Span names and attributes are deterministic (ids, step, node, model, provider);
message contents, tool arguments and results are recorded only with
``capture_payloads=True``. Model spans follow the GenAI semantic conventions
(``gen_ai.*``); see ``docs/observability.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._observe import RunInfo

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from ..models import ChatRequest, ChatResponse, ToolCall

__all__ = ["OpenTelemetryObserver"]

_SCOPE = "hive_core"


class OpenTelemetryObserver:
    """A ``RunObserver`` that records each run as a tree of spans.

    ``tracer_provider`` defaults to the global one (``opentelemetry.trace``); with
    no SDK installed every span is a no-op.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        capture_payloads: bool = False,
    ) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._tracer: Tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self.capture_payloads = capture_payloads

    def _child(
        self, parent: object, name: str, attrs: dict[str, Any], **kw: Any
    ) -> Span:
        ctx = None
        if parent is not None:
            ctx = self._trace.set_span_in_context(parent)  # type: ignore[arg-type]
        return self._tracer.start_span(name, context=ctx, attributes=attrs, **kw)

    def _end(self, span: object, error: BaseException | None) -> None:
        if span is None:
            return
        s: Span = span  # type: ignore[assignment]
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            s.set_attribute("error.type", type(error).__name__)
            s.set_status(Status(StatusCode.ERROR))
        s.end()

    # ----------------------------------------------------------------- runs

    def run_started(self, run: RunInfo) -> object:
        return self._child(
            None,
            "hive.run",
            {
                "hive.thread_id": run.thread_id,
                "hive.run_id": run.run_id,
                "hive.attempt_id": run.attempt_id,
                "hive.graph_version": run.graph_version,
            },
        )

    def run_ended(self, run: object, status: str, error: BaseException | None) -> None:
        if run is not None:
            run.set_attribute("hive.run.status", status)  # type: ignore[attr-defined]
        self._end(run, error)

    def step_started(self, run: object, step: int, nodes: Sequence[str]) -> object:
        attrs = {"hive.step": step, "hive.step.nodes": list(nodes)}
        return self._child(run, "hive.step", attrs)

    def step_ended(self, step: object, *, failed: bool) -> None:
        if failed and step is not None:
            from opentelemetry.trace import Status, StatusCode

            step.set_status(Status(StatusCode.ERROR))  # type: ignore[attr-defined]
        self._end(step, None)

    def task_started(
        self, step: object, node: str, ordinal: int, task_id: str
    ) -> object:
        attrs = {
            "hive.node": node,
            "hive.task.ordinal": ordinal,
            "hive.task_id": task_id,
        }
        return self._child(step, f"hive.task {node}", attrs)

    def task_retried(self, task: object, attempt: int) -> None:
        if task is not None:
            task.add_event("hive.task.retry", {"hive.task.attempt": attempt})  # type: ignore[attr-defined]

    def task_ended(
        self, task: object, error: BaseException | None, attempts: int
    ) -> None:
        if task is not None:
            task.set_attribute("hive.task.attempts", attempts)  # type: ignore[attr-defined]
        self._end(task, error)

    def checkpoint_saved(self, run: object, seconds: float, size_bytes: int) -> None:
        if run is not None:
            attrs = {"hive.checkpoint.size_bytes": size_bytes}
            run.add_event("hive.checkpoint.saved", attrs)  # type: ignore[attr-defined]

    # ---------------------------------------------------------- model, tools

    def model_call_started(
        self, task: object, provider: str, request: ChatRequest
    ) -> object:
        from opentelemetry.trace import SpanKind

        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": request.model,
        }
        if request.temperature is not None:
            attrs["gen_ai.request.temperature"] = request.temperature
        if request.max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = request.max_tokens
        if self.capture_payloads:
            attrs["gen_ai.input.messages"] = json.dumps(
                [{"role": m.role, "content": m.content} for m in request.messages]
            )
        name = f"chat {request.model}"
        return self._child(task, name, attrs, kind=SpanKind.CLIENT)

    def model_call_ended(
        self, call: object, response: ChatResponse | None, error: BaseException | None
    ) -> None:
        if call is not None and response is not None:
            span: Span = call  # type: ignore[assignment]
            if response.finish_reason is not None:
                span.set_attribute(
                    "gen_ai.response.finish_reasons", [response.finish_reason]
                )
            if response.usage is not None:
                span.set_attribute(
                    "gen_ai.usage.input_tokens", response.usage.input_tokens
                )
                span.set_attribute(
                    "gen_ai.usage.output_tokens", response.usage.output_tokens
                )
            if self.capture_payloads:
                out = {"role": "assistant", "content": response.message.content}
                span.set_attribute("gen_ai.output.messages", json.dumps([out]))
        self._end(call, error)

    def tool_call_started(self, task: object, call: ToolCall) -> object:
        from opentelemetry.trace import SpanKind

        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
        }
        if self.capture_payloads:
            attrs["gen_ai.tool.call.arguments"] = call.arguments_json
        name = f"execute_tool {call.name}"
        return self._child(task, name, attrs, kind=SpanKind.INTERNAL)

    def tool_call_ended(
        self, call: object, content: str | None, error: BaseException | None
    ) -> None:
        if call is not None and content is not None and self.capture_payloads:
            call.set_attribute("gen_ai.tool.call.result", content)  # type: ignore[attr-defined]
        self._end(call, error)
