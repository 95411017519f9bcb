"""Errors the DSL adds to ``hive_core``'s tree (every one is a ``HiveError``).

```
HiveError
├── DefinitionError (hive_core)            DSL misuse: raised as is, never subclassed
├── RunError (hive_core)
│   ├── SubgraphIncompleteError            a child graph did not finish
│   │   └── SubgraphInterruptedError       ... it asked, and the parent has no store
│   └── SubgraphResumeError                a resumed subgraph cannot find its child
├── PatchError (ValueError)                a WorkflowPatch cannot apply; .problems lists ALL
│   ├── PatchUnknownNodeError              a patch names a node the graph lacks
│   ├── PatchDuplicateNodeError            a patch adds a node id the graph has
│   ├── PatchMissingEdgeError              a patch names a static edge the graph lacks
│   └── PatchConflictError                 an operation would break a join or the start
└── CheckpointError (hive_core)
    └── MigrationError (hive_core.persistence) a checkpoint cannot move to a patched graph
```

Definition-time mistakes (a branch without default, an empty chain, an unknown node
name, a bad node signature, ...) are plain ``hive_core.DefinitionError``s whose first
line names the culprit, followed by ``Incorrect:`` / ``Correct:`` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hive_core import HiveError, Problem, RunError
from hive_core.persistence import MigrationError, MigrationReason

__all__ = [
    "MigrationError",
    "MigrationReason",
    "PatchConflictError",
    "PatchDuplicateNodeError",
    "PatchError",
    "PatchMissingEdgeError",
    "PatchUnknownNodeError",
    "SubgraphIncompleteError",
    "SubgraphInterruptedError",
    "SubgraphResumeError",
]


class SubgraphIncompleteError(RunError):
    """A ``Subgraph`` node's child run ended without finishing (out of steps or
    cancelled); the parent node fails, so nothing of its step is committed.

    Fix: give the child more steps (``Subgraph(..., options=RunOptions(max_steps=...))``)
    or make it terminate.
    """

    code: ClassVar[str] = "subgraph-incomplete"

    def __init__(
        self,
        *,
        node_id: str,
        child_thread_id: str,
        status: str,
        message: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.child_thread_id = child_thread_id
        self.status = status
        super().__init__(
            message
            or f"Subgraph node `{node_id}` ended with status `{status}` in child "
            f"thread `{child_thread_id}`; a subgraph must finish"
        )


class SubgraphInterruptedError(SubgraphIncompleteError):
    """A ``Subgraph`` node's child run asked for an interrupt, but the parent
    runtime has no checkpoint store to pause in.

    With a store, an interrupt in a child pauses the parent and ``resume`` goes on
    inside the child (``docs/dsl.md#subgraphs``); without one there is nowhere to
    keep the paused child.
    """

    code: ClassVar[str] = "subgraph-interrupted"

    def __init__(
        self,
        *,
        node_id: str,
        child_thread_id: str,
        interrupt_id: str,
        payload: object,
    ) -> None:
        self.interrupt_id = interrupt_id
        self.payload = payload
        super().__init__(
            node_id=node_id,
            child_thread_id=child_thread_id,
            status="interrupted",
            message=f"Subgraph node `{node_id}` was interrupted by its child "
            f"(thread `{child_thread_id}`, interrupt `{interrupt_id[:12]}`), and "
            "the parent runtime has no checkpoint store to pause in\n\n"
            "Fix: give the parent runtime a checkpoint store "
            "(Runtime(graph, checkpoint_store=...)); the interrupt then pauses the "
            "parent and resume continues inside the child.",
        )


class SubgraphResumeError(RunError):
    """A resumed ``Subgraph`` node cannot find its paused child in the parent's
    checkpoint store (the store was switched or the parked thread deleted)."""

    code: ClassVar[str] = "subgraph-resume-failed"

    def __init__(
        self, *, node_id: str, child_thread_id: str, interrupt_id: str
    ) -> None:
        self.node_id = node_id
        self.child_thread_id = child_thread_id
        self.interrupt_id = interrupt_id
        super().__init__(
            f"Subgraph node `{node_id}` was resumed (interrupt `{interrupt_id[:12]}`) "
            f"but its paused child is not in the checkpoint store (thread "
            f"`{child_thread_id}`)\n\n"
            "Fix: resume with the checkpoint store the parent was paused with; the "
            "paused child lives there next to the parent's checkpoints."
        )


_FIXES = {
    "patch-missing-static-edge": (
        "a probe sits on a static edge (see `graph.ir.edges`); spawned tasks "
        "(`SpawnEach`, `Effects.spawn`) and router decisions are not edges. To watch "
        "a spawned worker, wrap it with `replace_node(worker, fn)` (a function that "
        "looks at the store and then does the worker's work), or probe one of the "
        "worker's own outgoing edges."
    ),
}
"""A fix line per problem code that has a usual fix (``docs/dsl.md``)."""


class PatchError(HiveError, ValueError):
    """A ``WorkflowPatch`` cannot be applied; ``problems`` lists every reason.

    The raised class is the specific subclass when all problems are of one kind,
    else this base class. Nothing is built when a patch fails.
    """

    code: ClassVar[str] = "patch-error"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        lines = [f"Patch failed with {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  [{p.code}] {p.message}" for p in self.problems]
        codes = {p.code for p in self.problems}
        lines += [f"\nFix: {fix}" for code, fix in _FIXES.items() if code in codes]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> tuple[str, ...]:
        """The problem codes in order."""
        return tuple(p.code for p in self.problems)


class PatchUnknownNodeError(PatchError):
    """A patch operation names a node the graph (as patched so far) does not have."""

    code: ClassVar[str] = "patch-unknown-node"


class PatchDuplicateNodeError(PatchError):
    """A patch adds a node (or probe) whose id the graph already has."""

    code: ClassVar[str] = "patch-duplicate-node-id"


class PatchMissingEdgeError(PatchError):
    """``insert_probe`` or ``remove_edge`` names a static edge the graph lacks."""

    code: ClassVar[str] = "patch-missing-static-edge"


class PatchConflictError(PatchError):
    """``remove_node`` targets a start node or a node that takes part in a join."""

    code: ClassVar[str] = "patch-conflict"
