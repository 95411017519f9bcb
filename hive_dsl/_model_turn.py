"""``ModelTurn``: one model call (or a bounded tool loop) as a workflow node.

```python
answer = (
    ModelTurn("answer", model="gpt-4o-mini", messages=Chat.messages)
    .tools(registry)
    .agent_loop(ToolLoopConfig(max_model_invocations=4))
    .writes(to=Chat.answer)
    .writes_messages(to=Chat.messages)
    .register(wf, start=True)
)
```

Complete mode (the default) makes one call and runs no tools, even when tools are
listed: the model sees them, and the reply's tool calls are left to the graph. With
``.agent_loop(config)`` the node runs ``hive_core.models.run_tool_loop`` instead. The
client is ``client=`` if given, else the environment's router, else
``environment.model``. Assistant messages get deterministic HMSG1 ids (run, step,
task, index), so a turn's writes are the same on every run whatever the client
returns as ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeAlias, final

import attrs
import msgspec

from hive_core import Channel, NodeInput, RetryPolicy, StoreView
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelClient,
    RoutingHints,
    ToolLoopConfig,
    ToolProvider,
    ToolRegistry,
    bind_environment,
    call_model,
    message_id,
    resolve_client,
    run_tool_loop,
)

from ._effects import Effects, Write
from ._workflow import NodeDef, Workflow

__all__ = ["MessagesSource", "ModelTurn", "ToolsChoice", "content_of"]

MessagesSource: TypeAlias = (
    "Sequence[ChatMessage] | Channel[list[ChatMessage]] "
    "| Callable[[StoreView], Sequence[ChatMessage]]"
)
"""Fixed messages, a channel to read them from, or a function of the store view."""

ToolsChoice: TypeAlias = "Literal['none', 'environment'] | ToolProvider"
"""No tools, the environment's ``tools``, or an explicit provider."""


def content_of(response: ChatResponse) -> str:
    """The default transform of ``writes``: the reply's text."""
    return response.message.content


def _read_messages(source: MessagesSource, view: StoreView) -> tuple[ChatMessage, ...]:
    if isinstance(source, Channel):
        stored: list[ChatMessage] = view.get(source)
        return tuple(stored)
    if callable(source):
        return tuple(source(view))
    return tuple(source)


@final
@attrs.frozen
class ModelTurn:
    """A model call as a node; each builder method returns a new ``ModelTurn``.

    Args:
        id: The node id.
        model: The model name sent in every request.
        messages: Fixed messages, a ``list[ChatMessage]`` channel to read them from
            ("from store"), or a function of the store view.
        client: A client to use instead of the environment's router or model.
        hints: Routing hints handed to the environment's router.
        stream: In complete mode, stream tokens (emitted as ``model_token``).
    """

    id: str
    model: str = attrs.field(kw_only=True)
    messages: MessagesSource = attrs.field(kw_only=True, repr=False)
    client: ModelClient | None = attrs.field(kw_only=True, default=None, repr=False)
    hints: RoutingHints | None = attrs.field(kw_only=True, default=None)
    stream: bool = attrs.field(kw_only=True, default=False)
    tool_choice: ToolsChoice = attrs.field(kw_only=True, default="none")
    loop: ToolLoopConfig | None = attrs.field(kw_only=True, default=None)
    outputs: tuple[tuple[Channel[Any], Callable[[ChatResponse], Any]], ...] = (
        attrs.field(kw_only=True, default=())
    )
    message_outputs: tuple[Channel[list[ChatMessage]], ...] = attrs.field(
        kw_only=True, default=()
    )

    @property
    def __name__(self) -> str:  # the DSL's default node id
        return self.id

    # ---------------------------------------------------------------- builders

    def tools(
        self, tools: ToolsChoice | Iterable[Callable[..., Any]] | None
    ) -> ModelTurn:
        """The tools the model is offered: ``None``/``"none"``, ``"environment"``
        (``environment.tools`` at run time), a provider such as ``ToolRegistry``, or
        plain functions (wrapped in a new ``ToolRegistry``)."""
        choice: ToolsChoice
        if tools is None:
            choice = "none"
        elif isinstance(tools, str):
            if tools not in ("none", "environment"):
                raise ValueError(
                    f"tools={tools!r}: expected 'none', 'environment', a tool "
                    "provider or functions"
                )
            choice = tools
        elif isinstance(tools, ToolProvider):
            choice = tools
        else:
            choice = ToolRegistry(tools)
        return attrs.evolve(self, tool_choice=choice)

    def agent_loop(self, config: ToolLoopConfig | None = None) -> ModelTurn:
        """Run the bounded tool loop (default: complete calls, at most 8 model
        invocations, tools in emitted order)."""
        return attrs.evolve(
            self, loop=config if config is not None else ToolLoopConfig()
        )

    def writes(
        self,
        *,
        to: Channel[Any],
        transform: Callable[[ChatResponse], Any] = content_of,
    ) -> ModelTurn:
        """Write ``transform(final response)`` (default: its text) to ``to``."""
        return attrs.evolve(self, outputs=(*self.outputs, (to, transform)))

    def writes_messages(self, *, to: Channel[list[ChatMessage]]) -> ModelTurn:
        """Write the new messages to ``to``: the assistant reply in complete mode;
        every assistant and tool message in agent-loop mode."""
        return attrs.evolve(self, message_outputs=(*self.message_outputs, to))

    def register(
        self,
        wf: Workflow,
        *,
        start: bool = False,
        retry: RetryPolicy | None = None,
    ) -> NodeDef[[NodeInput], Any]:
        """Add this turn to ``wf`` as node ``self.id`` and return the node."""
        return wf.node(self, node_id=self.id, start=start, retry=retry)

    # ----------------------------------------------------------------- running

    def _provider(self, ctx: NodeInput) -> ToolProvider | None:
        choice = self.tool_choice
        if choice == "none":
            return None
        if choice == "environment":
            env_tools = ctx.environment.tools
            if env_tools is None:
                return None
            if not isinstance(env_tools, ToolProvider):
                raise TypeError(
                    f"environment.tools is a {type(env_tools).__name__}, which lacks "
                    "definitions() and invoke(call)"
                )
            return env_tools
        return choice

    async def __call__(self, ctx: NodeInput) -> Effects:
        provider = self._provider(ctx)
        if provider is not None:  # tools declaring a ToolContext see the run's
            provider = bind_environment(provider, ctx.environment)
        request = ChatRequest(
            model=self.model,
            messages=_read_messages(self.messages, ctx.store),
            tools=provider.definitions() if provider is not None else (),
        )
        client = resolve_client(
            ctx.environment,
            request,
            client=self.client,
            hints=self.hints,
            where=f"ModelTurn `{self.id}`",
        )

        def assistant_id(n: int) -> str:
            return message_id(
                "assistant",
                run_id=ctx.run_id,
                step=ctx.step,
                task_id=ctx.task_id,
                index=n,
            )

        if self.loop is None:
            mode: Literal["complete", "stream"] = (
                "stream" if self.stream else "complete"
            )
            raw = await call_model(request, client, mode, ctx.emit)
            message = msgspec.structs.replace(raw.message, id=assistant_id(0))
            response = ChatResponse(message=message, finish_reason=raw.finish_reason)
            new_messages: tuple[ChatMessage, ...] = (message,)
        else:
            result = await run_tool_loop(
                request,
                client,
                provider,
                self.loop,
                ctx.emit,
                assistant_ids=assistant_id,
            )
            response = result.response
            new_messages = result.appended
        fx = Effects()
        for channel, transform in self.outputs:
            fx.add(Write(channel, transform(response)))
        for channel in self.message_outputs:
            fx.add(Write(channel, list(new_messages)))
        return fx
