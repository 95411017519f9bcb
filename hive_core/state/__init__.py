"""The state layer: typed channels, codecs, schemas and the stores a step reads.

A ``Schema`` declares channels (``channel(list[str], reducer=reducers.append)``);
``GlobalStore`` holds committed values, ``TaskLocalStore`` a task's overlay, and
``StoreView`` is the read-only view a node and a router get. This layer imports
nothing from the graph, runtime or persistence layers (``docs/architecture.md``).
"""

from __future__ import annotations

from .._exports import public
from ._channels import (
    Channel,
    Persistence,
    ReadKey,
    Scope,
    UpdatePolicy,
    Write,
    channel,
)
from ._codecs import Codec, JSONCodec, Utf8Codec, canonical_json
from ._schema import InputContext, InputWrites, Schema, SchemaSpec, schema_of
from ._store import GlobalStore, InitialCache, StoreView, TaskLocalStore, fingerprint

__all__ = [
    "Channel",
    "Codec",
    "GlobalStore",
    "InitialCache",
    "InputContext",
    "InputWrites",
    "JSONCodec",
    "Persistence",
    "ReadKey",
    "Schema",
    "SchemaSpec",
    "Scope",
    "StoreView",
    "TaskLocalStore",
    "UpdatePolicy",
    "Utf8Codec",
    "Write",
    "canonical_json",
    "channel",
    "fingerprint",
    "schema_of",
]

public(__name__, __all__, globals())
