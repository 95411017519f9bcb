"""Thread state at a committed boundary, and the per-step task records.

A ``ThreadState`` is replaced, never mutated, at each commit, so any published state
is a consistent boundary a checkpoint can be taken from.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, final

from ..graph._compiled import NodeSpec
from ..ids import _task_digest
from ..run_types import Interruption
from ..state._schema import SchemaSpec
from ..state._store import InitialCache, fingerprint

__all__ = ["EMPTY_LOCAL", "RunIds", "Seed", "Task", "ThreadState"]

EMPTY_LOCAL: Mapping[str, object] = {}


@final
class Seed:
    """A frontier entry: a node to run next, with its task-local overlay."""

    __slots__ = ("is_join", "local", "node", "spawned")

    def __init__(
        self,
        node: str,
        local: Mapping[str, object] = EMPTY_LOCAL,
        *,
        spawned: bool = False,
        is_join: bool = False,
    ) -> None:
        self.node = node
        self.local = local
        """Overlay values keyed by task-local channel id (only explicitly set ones)."""
        self.spawned = spawned
        """Provenance: ``True`` for spawn seeds, ``False`` for graph seeds."""
        self.is_join = is_join

    def __repr__(self) -> str:
        kind = "spawn" if self.spawned else ("join" if self.is_join else "graph")
        return f"Seed({self.node!r}, {kind}, {dict(self.local)!r})"


@final
class RunIds:
    """What the ids of an attempt's tasks are derived from, shared by its tasks.

    One object per attempt instead of four fields per task: a fan-out of a
    thousand tasks holds a thousand small tasks that point here, and a chain
    step builds no record of its own for them (``docs/performance.md``).
    """

    __slots__ = ("empty_fingerprint", "initial", "run_bytes", "schema")

    def __init__(
        self,
        run_bytes: bytes,
        schema: SchemaSpec,
        initial: InitialCache,
        empty_fingerprint: bytes,
    ) -> None:
        self.run_bytes = run_bytes
        self.schema = schema
        self.initial = initial
        self.empty_fingerprint = empty_fingerprint


@final
class Task:
    """One scheduled execution of a node in a step.

    The fingerprint and the task id are derived on first use: only events,
    interrupts, errors, reports and nodes that ask for the id need the HLF1 encode
    and the two SHA-256, so a run nobody watches skips them. Deriving them late
    gives the same bytes as deriving them at planning: an overlay, like every
    committed value, is never mutated once its seed exists (incremental saves
    rely on the same rule, ``docs/concepts/checkpoint-storage.md``), and every
    overlay value already passed its channel's codec round trip at the commit
    that spawned it.
    """

    __slots__ = ("_id", "_ids", "node", "ordinal", "seed", "spec", "step")

    def __init__(
        self, ordinal: int, seed: Seed, spec: NodeSpec, ids: RunIds, step: int
    ) -> None:
        self.ordinal = ordinal
        self.seed = seed
        self.node = seed.node
        self.spec = spec
        self._ids = ids
        self.step = step
        """The step this task runs in."""
        self._id: str | None = None

    @property
    def fingerprint(self) -> bytes:
        """HLF1 of the task's effective task-local view (``fingerprint``)."""
        ids = self._ids
        local = self.seed.local
        if not local:
            return ids.empty_fingerprint
        return fingerprint(ids.schema, local, ids.initial)

    @property
    def id(self) -> str:
        """The task id (``hive_core.ids.task_id``), derived once; the planner
        checked the step and ordinal ranges."""
        tid = self._id
        if tid is None:  # `fingerprint` inlined: a streamed task asks every step
            ids = self._ids
            local = self.seed.local
            fp = (
                fingerprint(ids.schema, local, ids.initial)
                if local
                else ids.empty_fingerprint
            )
            tid = self._id = _task_digest(
                ids.run_bytes, self.step, self.node, self.ordinal, fp
            )
        return tid


@final
class ThreadState:
    """Everything about a thread at a committed step boundary."""

    __slots__ = (
        "appended",
        "barriers",
        "frontier",
        "interruption",
        "latest_checkpoint_id",
        "run_id",
        "step",
        "values",
    )

    def __init__(  # positional too: the loop builds one per step
        self,
        run_id: uuid.UUID,
        step: int,
        values: Mapping[str, Any],
        frontier: tuple[Seed, ...],
        barriers: Mapping[str, frozenset[str]],
        interruption: Interruption | None,
        latest_checkpoint_id: str | None,
        appended: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        self.run_id = run_id
        self.step = step
        """The next step to run."""
        self.values = values
        """Global channel values by id (never mutated once published)."""
        self.frontier = frontier
        self.barriers = barriers
        """Seen parents for every compiled join id."""
        self.interruption = interruption
        self.latest_checkpoint_id = latest_checkpoint_id
        self.appended = appended
        """How the commit that made ``values`` extended append channels (see
        ``CommitResult.appended``); dropped when ``values`` is replaced."""

    def with_input(
        self, values: Mapping[str, Any], frontier: tuple[Seed, ...]
    ) -> ThreadState:
        """``replace(values=values, frontier=frontier)`` without the keyword
        lookups: once per run, after the input writes."""
        return ThreadState(
            self.run_id,
            self.step,
            values,
            frontier,
            self.barriers,
            self.interruption,
            self.latest_checkpoint_id,
        )

    def replace(self, **changes: Any) -> ThreadState:
        get = changes.get
        return ThreadState(
            run_id=get("run_id", self.run_id),
            step=get("step", self.step),
            values=get("values", self.values),
            frontier=get("frontier", self.frontier),
            barriers=get("barriers", self.barriers),
            interruption=get("interruption", self.interruption),
            latest_checkpoint_id=get("latest_checkpoint_id", self.latest_checkpoint_id),
            appended=get("appended", () if "values" in changes else self.appended),
        )
