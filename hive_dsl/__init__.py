"""Hive DSL: workflows as decorated Python functions, lowered into ``hive_core``.

```python
from hive_core import NodeInput, Runtime
from hive_dsl import Effects, Workflow, Write

wf = Workflow(Greeting)

@wf.node(start=True)
def greet(ctx: NodeInput) -> Effects:
    return Effects(Write(Greeting.message, f"Hello, {ctx.store.get(Greeting.name)}!"))

outcome = Runtime(wf.compile()).run_sync("t1", {Greeting.name: "Ada"})
```

``hive_dsl.testing.node_input`` builds a node input for unit tests of a single node.
"""

from __future__ import annotations

from hive_core._exports import public

from ._agents import (
    AgentState,
    AllowList,
    ToolApproval,
    ToolApprovalRequired,
    tool_calling_agent,
)
from ._ask import interrupt
from ._builders import Branch, Chain, Edge, FanOut, Join, Target
from ._effects import (
    Effect,
    Effects,
    End,
    GoTo,
    Interrupt,
    SpawnEach,
    UseGraphEdges,
    Write,
)
from ._errors import (
    MigrationError,
    PatchConflictError,
    PatchDuplicateNodeError,
    PatchError,
    PatchMissingEdgeError,
    PatchUnknownNodeError,
    SubgraphIncompleteError,
    SubgraphInterruptedError,
    SubgraphResumeError,
)
from ._model_turn import ModelTurn
from ._patch import KEEP, PatchDiff, PatchResult, WorkflowPatch
from ._subgraph import Subgraph
from ._workflow import NodeDef, NodeRef, NodeResult, Workflow

__all__ = [
    # workflows and nodes
    "NodeDef",
    "NodeRef",
    "NodeResult",
    "Workflow",
    # effects ("Write" is hive_core.Write, the one write primitive)
    "Effect",
    "Effects",
    "End",
    "GoTo",
    "Interrupt",
    "SpawnEach",
    "interrupt",
    "UseGraphEdges",
    "Write",
    # builders
    "Branch",
    "Chain",
    "Edge",
    "FanOut",
    "Join",
    "Subgraph",
    "Target",
    # models and agents
    "AgentState",
    "AllowList",
    "ModelTurn",
    "ToolApproval",
    "ToolApprovalRequired",
    "tool_calling_agent",
    # patching
    "KEEP",
    "PatchDiff",
    "PatchResult",
    "WorkflowPatch",
    # errors
    "MigrationError",
    "PatchConflictError",
    "PatchDuplicateNodeError",
    "PatchError",
    "PatchMissingEdgeError",
    "PatchUnknownNodeError",
    "SubgraphIncompleteError",
    "SubgraphInterruptedError",
    "SubgraphResumeError",
]

public(__name__, __all__, globals())
