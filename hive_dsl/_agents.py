"""A prebuilt tool-calling agent: LangGraph's ``create_react_agent``, deterministic,
with tool approval built in.

```python
graph = tool_calling_agent(model="gpt-4o-mini", tools=registry, approval="always")
runtime = Runtime(
    graph,
    environment=Environment(model=OpenAICompatClient()),
    checkpoint_store=InMemoryCheckpointStore(),  # the approval interrupt needs one
)
outcome = await runtime.invoke("t1", "What is 2 + 3?")
if outcome.is_interrupted:  # payload: ToolApprovalRequired(calls=(...))
    outcome = await runtime.resume("t1", outcome.interrupt.id, ToolApproval(True))
print(outcome.get(AgentState.final_answer))
```

The graph (docs/agents.md, "The prebuilt tool-calling agent"):

* ``pre_model`` compacts ``messages`` into ``llm_input_messages`` (never changing
  ``messages``);
* ``model`` sends them (tools sorted by name) to the model, appends the reply to
  ``messages``, sets ``pending_tool_calls``, and sets ``final_answer`` when the reply
  asks for no tools; a branch goes on to ``tools`` if calls are pending, else ends;
* ``tools`` sorts the calls by (name, id) and applies the approval policy: when
  approval is needed and not yet given it interrupts with
  ``ToolApprovalRequired(calls)`` and runs itself again on resume; approved (or no
  approval needed), it clears the pending calls and spawns one ``tool_execute``
  task per call with the call in the task-local ``current_tool_call``; rejected, it
  answers each call with a "rejected" tool message, appends a fixed system message
  and goes back to the model;
* ``tool_execute`` runs its call and appends the tool message; then ``pre_model``
  runs again (once, however many tools ran), so compaction sees the tool results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeAlias, final

import attrs
import msgspec

from hive_core import (
    END,
    CompiledGraph,
    InputContext,
    NodeInput,
    Schema,
    Write,
    channel,
)
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    Compaction,
    MissingTaskLocalValueError,
    ModelClient,
    RoutingHints,
    ToolCall,
    ToolErrors,
    ToolProvider,
    ToolRegistry,
    ToolRegistryMissingError,
    bind_environment,
    call_model,
    check_tool_errors,
    compact_messages,
    invoke_tool,
    message_id,
    messages_reducer,
    resolve_client,
)

from ._builders import Branch
from ._effects import Effects, End, GoTo, Interrupt, SpawnEach
from ._workflow import NodeRef, Workflow

__all__ = [
    "REJECTED_SYSTEM_MESSAGE",
    "REJECTED_TOOL_MESSAGE",
    "AgentState",
    "AllowList",
    "Approval",
    "ToolApproval",
    "ToolApprovalRequired",
    "needs_approval",
    "tool_calling_agent",
]

REJECTED_SYSTEM_MESSAGE = (
    "The user rejected the requested tool calls. Do not call them again; answer "
    "with what you have, or ask the user how to proceed."
)
"""The fixed system message appended when tool calls are rejected."""

REJECTED_TOOL_MESSAGE = "Rejected by the user; the tool did not run."
"""The answer to each rejected call (chat servers need one reply per call)."""


class ToolApprovalRequired(msgspec.Struct, frozen=True, kw_only=True):
    """The interrupt payload: the calls waiting for approval, sorted by (name, id)."""

    calls: tuple[ToolCall, ...]


class ToolApproval(msgspec.Struct, frozen=True):
    """The resume payload: run the pending calls (``True``) or reject them."""

    approved: bool


def _name_set(names: Iterable[str]) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError(f"AllowList takes a list of tool names, got the str {names!r}")
    return frozenset(names)


@final
@attrs.frozen
class AllowList:
    """Approval policy: calls to these tools run without asking; a batch with any
    other tool needs approval (the whole batch)."""

    names: frozenset[str] = attrs.field(converter=_name_set)


Approval: TypeAlias = "Literal['never', 'always'] | AllowList"


def needs_approval(policy: Approval, calls: Sequence[ToolCall]) -> bool:
    """Whether ``calls`` must be approved before they run under ``policy``."""
    if isinstance(policy, AllowList):
        return any(c.name not in policy.names for c in calls)
    return policy == "always" and bool(calls)


def _to_messages(item: object, ctx: InputContext, index: int) -> ChatMessage:
    if isinstance(item, ChatMessage):
        return item
    if isinstance(item, str):
        mid = message_id("user", run_id=ctx.run_id, step=ctx.step_index, index=index)
        return ChatMessage.user(mid, item)
    raise TypeError(
        f"agent input items must be str or ChatMessage, got {type(item).__name__}"
    )


class AgentState(Schema):
    """The prebuilt agent's channels.

    Input: a ``str`` (one user message, with a deterministic HMSG1 id), a
    ``ChatMessage``, a list of either, or a ``{channel: value}`` dict.
    """

    messages = channel(
        list[ChatMessage], reducer=messages_reducer, update="multi", initial=list
    )
    """The conversation (LangGraph's ``add_messages`` semantics, strict)."""
    pending_tool_calls = channel(list[ToolCall], initial=list)
    """The last reply's tool calls, until ``tools`` handles them."""
    final_answer = channel(str | None)
    """The text of the last reply that asked for no tools."""
    llm_input_messages = channel(
        list[ChatMessage], persistence="untracked", initial=list
    )
    """What the model sees next: ``messages`` after compaction."""
    current_tool_call = channel(ToolCall | None, scope="task_local")
    """The call a ``tool_execute`` task runs."""

    interrupt_payload = ToolApprovalRequired
    resume_payload = ToolApproval

    @classmethod
    def input_writes(cls, input: object, ctx: InputContext) -> Sequence[Write[Any]]:
        if isinstance(input, str | ChatMessage):
            return [Write(cls.messages, [_to_messages(input, ctx, 0)])]
        if isinstance(input, list | tuple):
            msgs = [_to_messages(item, ctx, i) for i, item in enumerate(input)]
            return [Write(cls.messages, msgs)]
        return super().input_writes(input, ctx)


def _tools_of(
    tools: ToolProvider | Iterable[Callable[..., Any]] | None,
) -> ToolProvider | None:
    if tools is None or isinstance(tools, ToolProvider):
        return tools
    return ToolRegistry(tools)


def _env_tools(ctx: NodeInput, tools: ToolProvider | None) -> ToolProvider | None:
    if tools is not None:
        return tools
    found = ctx.environment.tools
    if found is None or isinstance(found, ToolProvider):
        return found
    raise TypeError(
        f"environment.tools is a {type(found).__name__}, which lacks definitions() "
        "and invoke(call)"
    )


def _model_request(
    ctx: NodeInput,
    model: str,
    provider: ToolProvider | None,
    system_prompt: str | None,
) -> ChatRequest:
    """What the model node sends: the (compacted) input, the system prompt first,
    and the available tools' definitions by name."""
    llm_input: list[ChatMessage] = ctx.store.get(AgentState.llm_input_messages)
    msgs = list(llm_input)
    if system_prompt is not None:
        msgs.insert(0, ChatMessage.system("system:prompt", system_prompt))
    available = _env_tools(ctx, provider)
    definitions = (
        tuple(sorted(available.definitions(), key=lambda d: d.name))
        if available is not None
        else ()
    )
    return ChatRequest(model=model, messages=tuple(msgs), tools=definitions)


def _reply_effects(ctx: NodeInput, message: ChatMessage) -> Effects:
    """Store the reply (with a deterministic id) and its tool calls; a reply that
    asks for no tools is the final answer."""
    S = AgentState
    reply = msgspec.structs.replace(
        message,
        id=message_id(
            "assistant", run_id=ctx.run_id, step=ctx.step, task_id=ctx.task_id
        ),
    )
    fx = Effects(
        Write(S.messages, [reply]),
        Write(S.pending_tool_calls, list(reply.tool_calls)),
    )
    if not reply.tool_calls:
        fx.add(Write(S.final_answer, reply.content))
    return fx


def _tools_effects(
    ctx: NodeInput, approval: Approval, pre_model: NodeRef, tool_execute: NodeRef
) -> Effects:
    """Run the pending calls (one ``tool_execute`` task each), after asking for
    approval when the policy says so; a rejection goes back to the model."""
    S = AgentState
    pending: list[ToolCall] = ctx.store.get(S.pending_tool_calls)
    calls = sorted(pending, key=lambda c: (c.name, c.id))
    if not calls:
        return Effects(End())
    if needs_approval(approval, calls):
        resume = ctx.resume
        if resume is None or resume.node != ctx.node_id:
            return Effects(
                Interrupt(ToolApprovalRequired(calls=tuple(calls))),
                GoTo(ctx.node_id),
            )
        answer = msgspec.convert(resume.payload, ToolApproval, from_attributes=True)
        if not answer.approved:
            rejected = [ChatMessage.tool(c, REJECTED_TOOL_MESSAGE) for c in calls]
            note = ChatMessage.system(
                message_id(
                    "system", run_id=ctx.run_id, step=ctx.step, task_id=ctx.task_id
                ),
                REJECTED_SYSTEM_MESSAGE,
            )
            return Effects(
                Write(S.pending_tool_calls, []),
                Write(S.messages, [*rejected, note]),
                GoTo(pre_model),
            )
    return Effects(
        Write(S.pending_tool_calls, []),
        SpawnEach(calls, tool_execute, local=lambda c: {S.current_tool_call: c}),
        End(),
    )


def tool_calling_agent(
    *,
    model: str,
    tools: ToolProvider | Iterable[Callable[..., Any]] | None = None,
    client: ModelClient | None = None,
    approval: Approval = "never",
    system_prompt: str | None = None,
    compaction: Compaction | None = None,
    mode: Literal["complete", "stream"] = "stream",
    hints: RoutingHints | None = None,
    tool_errors: ToolErrors = "raise",
) -> CompiledGraph:
    """Build the agent graph over ``AgentState``.

    Args:
        model: The model name sent in every request.
        tools: A provider (``ToolRegistry``) or plain functions; ``None`` uses
            ``environment.tools`` at run time (and no tools if that is unset).
        client: The model client; ``None`` uses the environment's router, then
            ``environment.model``.
        approval: ``"never"``, ``"always"`` or ``AllowList([...])``. Anything but
            ``"never"`` can interrupt, so the runtime needs a checkpoint store.
        system_prompt: Prepended to every request (not stored in ``messages``).
        compaction: Trims what the model sees; ``None`` sends everything.
        mode: ``"stream"`` emits ``model_token`` events; ``"complete"`` does not.
        hints: Routing hints for the environment's router.
        tool_errors: A failing tool call (the tool raised, invalid arguments, an
            unknown tool name): ``"raise"`` fails the ``tool_execute`` node,
            ``"return"`` answers the call with the error (``tool_error_message``)
            so the model sees it, a function ``(call, error) -> str`` chooses the
            text (``docs/agents.md#tool-errors-the-model-can-see``).
    """
    provider = _tools_of(tools)
    _check_options(approval, tool_errors)
    S = AgentState
    wf = Workflow(S, name="tool_calling_agent")

    @wf.node(start=True)
    def pre_model(ctx: NodeInput) -> Effects:
        history: list[ChatMessage] = ctx.store.get(S.messages)
        return Effects(
            Write(S.llm_input_messages, compact_messages(history, compaction))
        )

    @wf.node(node_id="model")
    async def model_node(ctx: NodeInput) -> Effects:
        request = _model_request(ctx, model, provider, system_prompt)
        chosen = resolve_client(
            ctx.environment,
            request,
            client=client,
            hints=hints,
            where=f"Agent node `{ctx.node_id}`",
        )
        response = await call_model(request, chosen, mode, ctx.emit)
        return _reply_effects(ctx, response.message)

    @wf.node(node_id="tools")
    def tools_node(ctx: NodeInput) -> Effects:
        return _tools_effects(ctx, approval, pre_model, tool_execute)

    @wf.node
    async def tool_execute(ctx: NodeInput) -> Effects:
        call = ctx.store.get(S.current_tool_call)
        if call is None:
            raise MissingTaskLocalValueError(S.current_tool_call.id, node=ctx.node_id)
        available = _env_tools(ctx, provider)
        if available is None:
            raise ToolRegistryMissingError(tool_names=(call.name,))
        bound = bind_environment(available, ctx.environment)
        reply = await invoke_tool(call, bound, ctx.emit, on_error=tool_errors)
        return Effects(Write(S.messages, [reply]))

    _wire(wf, pre_model, model_node, tools_node, tool_execute)
    return wf.compile()


def _check_options(approval: Approval, tool_errors: ToolErrors) -> None:
    check_tool_errors(tool_errors, where="tool_calling_agent")
    if not (approval in ("never", "always") or isinstance(approval, AllowList)):
        raise ValueError(
            f"approval={approval!r}: expected 'never', 'always' or AllowList([...])"
        )


def _wire(
    wf: Workflow,
    pre_model: NodeRef,
    model_node: NodeRef,
    tools_node: NodeRef,
    tool_execute: NodeRef,
) -> None:
    """pre_model -> model -> (tools when calls are pending, else END); tool_execute
    -> pre_model (tools spawns tool_execute per call)."""
    wf.edge(pre_model, model_node)
    with Branch(wf, after=model_node) as branch:
        branch.case(
            "tool_calls",
            when=lambda view: bool(view.get(AgentState.pending_tool_calls)),
            then=tools_node,
        )
        branch.default(then=END)
    wf.edge(tool_execute, pre_model)
