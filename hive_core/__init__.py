"""Hive: a deterministic graph runtime for agent workflows.

Declare a schema of typed channels, build a graph of nodes, edges, joins and
routers, compile it, and run it in BSP supersteps whose event trace is the same on
every run.
"""

from __future__ import annotations

from . import reducers
from .channels import Channel, Persistence, Scope, UpdatePolicy, Write, channel
from .checkpoints import (
    Checkpoint,
    CheckpointStore,
    CheckpointSummary,
    InMemoryCheckpointStore,
)
from .codecs import Codec, JSONCodec, Utf8Codec, canonical_json
from .compiled import CompiledGraph
from .environment import Clock, Environment, SystemClock
from .errors import (
    ChannelTypeMismatchError,
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointStoreMissingError,
    CheckpointVersionMismatchError,
    CodecError,
    CompilationError,
    DefinitionError,
    HiveError,
    HiveInternalError,
    IndexOutOfRangeError,
    InterruptPendingError,
    InvalidRunOptionsError,
    NoCheckpointToResumeError,
    NodeError,
    NoInterruptToResumeError,
    Problem,
    ReducerError,
    ResumeError,
    ResumeInterruptMismatchError,
    ResumePayloadError,
    RouterError,
    RunError,
    ScopeMismatchError,
    TaskLocalWriteNotAllowedError,
    ThreadExistsError,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
)
from .graph import GraphBuilder
from .ir import EdgeIR, GraphIR, JoinIR, NodeIR, RetryPolicy
from .nodes import END, GRAPH_EDGES, Next, NodeInput, NodeOutput, Resume, Spawn
from .run_types import (
    CheckpointPolicy,
    Interruption,
    Outcome,
    RunOptions,
    StepReport,
    ThreadSnapshot,
)
from .runtime import IdSource, RandomIds, RunHandle, Runtime
from .schema import InputContext, Schema, SchemaSpec, schema_of
from .store import GlobalStore, InitialCache, StoreView, TaskLocalStore, fingerprint

__all__ = [
    # schema and channels
    "Channel",
    "Codec",
    "InputContext",
    "JSONCodec",
    "Persistence",
    "Schema",
    "SchemaSpec",
    "Scope",
    "UpdatePolicy",
    "Utf8Codec",
    "Write",
    "canonical_json",
    "channel",
    "reducers",
    "schema_of",
    # stores
    "GlobalStore",
    "InitialCache",
    "StoreView",
    "TaskLocalStore",
    "fingerprint",
    # graphs
    "END",
    "GRAPH_EDGES",
    "CompiledGraph",
    "EdgeIR",
    "GraphBuilder",
    "GraphIR",
    "JoinIR",
    "Next",
    "NodeIR",
    "NodeInput",
    "NodeOutput",
    "Resume",
    "RetryPolicy",
    "Spawn",
    # running
    "CheckpointPolicy",
    "IdSource",
    "Interruption",
    "Outcome",
    "RandomIds",
    "RunHandle",
    "RunOptions",
    "Runtime",
    "StepReport",
    "ThreadSnapshot",
    # checkpoints
    "Checkpoint",
    "CheckpointStore",
    "CheckpointSummary",
    "InMemoryCheckpointStore",
    # environment
    "Clock",
    "Environment",
    "SystemClock",
    # errors
    "ChannelTypeMismatchError",
    "CheckpointCorruptError",
    "CheckpointDecodeError",
    "CheckpointEncodeError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointStoreMissingError",
    "CheckpointVersionMismatchError",
    "CodecError",
    "CompilationError",
    "DefinitionError",
    "HiveError",
    "HiveInternalError",
    "IndexOutOfRangeError",
    "InterruptPendingError",
    "InvalidRunOptionsError",
    "NoCheckpointToResumeError",
    "NoInterruptToResumeError",
    "NodeError",
    "Problem",
    "ReducerError",
    "ResumeError",
    "ResumeInterruptMismatchError",
    "ResumePayloadError",
    "RouterError",
    "RunError",
    "ScopeMismatchError",
    "TaskLocalWriteNotAllowedError",
    "ThreadExistsError",
    "UnknownChannelError",
    "UnknownNodeError",
    "UpdatePolicyViolationError",
]
