"""Request bodies of the LangGraph Platform API subset, as frozen msgspec structs.

Fields Hive does not use are accepted and ignored (clients always send some);
fields that would change the meaning of a run and that Hive does not implement are
refused by the routes with ``server-unsupported`` (``docs/http-api.md``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AssistantSearch",
    "CheckpointRef",
    "Command",
    "HistoryRequest",
    "RunCreate",
    "StateAtRequest",
    "ThreadCreate",
    "ThreadPatch",
    "ThreadSearch",
    "UpdateState",
]


Count = Annotated[int, msgspec.Meta(ge=0)]
"""A limit or an offset: a whole number, never negative (a 422 otherwise)."""


class _Body(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Command(_Body, frozen=True, kw_only=True):
    resume: Any = None
    update: Any = None
    goto: Any = None


class RunCreate(_Body, frozen=True, kw_only=True):
    assistant_id: str
    input: Any = None
    command: Command | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = (
        "enqueue"
    )
    if_not_exists: Literal["create", "reject"] = "reject"
    interrupt_before: str | list[str] | None = None
    interrupt_after: str | list[str] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    after_seconds: int | None = None
    webhook: str | None = None
    stream_subgraphs: bool = False


class ThreadCreate(_Body, frozen=True, kw_only=True):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: list[Any] | None = None


class ThreadPatch(_Body, frozen=True, kw_only=True):
    metadata: dict[str, Any] = {}


class ThreadSearch(_Body, frozen=True, kw_only=True):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: Count = 10
    offset: Count = 0
    sort_by: Literal["thread_id", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    values: Any = None
    select: list[str] | None = None
    extract: dict[str, str] | None = None


class AssistantSearch(_Body, frozen=True, kw_only=True):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: Count = 10
    offset: Count = 0


class CheckpointRef(_Body, frozen=True, kw_only=True):
    checkpoint_id: str | None = None
    thread_id: str | None = None
    checkpoint_ns: str = ""


class UpdateState(_Body, frozen=True, kw_only=True):
    values: dict[str, Any] | None = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: CheckpointRef | None = None


class HistoryRequest(_Body, frozen=True, kw_only=True):
    limit: Count = 10
    before: CheckpointRef | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None


class StateAtRequest(_Body, frozen=True, kw_only=True):
    checkpoint: CheckpointRef
    subgraphs: bool = False
