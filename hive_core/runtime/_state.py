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

__all__ = ["EMPTY_LOCAL", "Seed", "Task", "ThreadState"]

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
class Task:
    """One scheduled execution of a node in a step.

    The task id is derived on first use: only events, interrupts, checkpoints and
    nodes that ask for it need the SHA-256, so a run nobody watches skips it.
    """

    __slots__ = (
        "_id",
        "fingerprint",
        "node",
        "ordinal",
        "run_bytes",
        "seed",
        "spec",
        "step",
    )

    def __init__(
        self,
        ordinal: int,
        seed: Seed,
        spec: NodeSpec,
        run_bytes: bytes,
        step: int,
        fp: bytes,
    ) -> None:
        self.ordinal = ordinal
        self.seed = seed
        self.node = seed.node
        self.spec = spec
        self.run_bytes = run_bytes
        self.step = step
        self.fingerprint = fp
        self._id: str | None = None

    @property
    def id(self) -> str:
        """The task id (``hive_core.ids.task_id``), derived once; the planner
        checked the step and ordinal ranges."""
        tid = self._id
        if tid is None:
            tid = self._id = _task_digest(
                self.run_bytes, self.step, self.node, self.ordinal, self.fingerprint
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
