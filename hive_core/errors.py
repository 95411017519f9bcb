"""Every exception Hive raises on purpose, under one root.

```
HiveError                                  catch this once
├── DefinitionError (TypeError)            misuse while declaring schemas or graphs
├── CompilationError (ValueError)          a graph is invalid; .problems lists ALL of them
├── RunError                               something went wrong while running
│   ├── InvalidRunOptionsError (ValueError)
│   ├── UnknownChannelError (LookupError)
│   ├── ScopeMismatchError (TypeError)
│   ├── ChannelTypeMismatchError (TypeError)
│   │   └── ChannelValueTypeError          wrong type inside the value ($[1], $.a)
│   ├── InterruptPayloadTypeError (TypeError)
│   ├── UpdatePolicyViolationError (ValueError)
│   ├── TaskLocalWriteNotAllowedError (ValueError)
│   ├── UnknownNodeError (LookupError)
│   ├── IndexOutOfRangeError (OverflowError)
│   ├── CodecError (ValueError)
│   ├── NodeError                          a node function raised; __cause__ is the original
│   ├── ReducerError                       a reducer raised; __cause__ is the original
│   ├── RouterError                        a router raised; __cause__ is the original
│   └── EventDecodeError (ValueError)      persisted event bytes are not a Hive event
├── CheckpointError                        persistence and resume problems
│   ├── CheckpointStoreMissingError
│   ├── CheckpointStoreUnsupportedError
│   ├── CheckpointVersionMismatchError
│   ├── CheckpointCorruptError
│   ├── CheckpointDecodeError
│   ├── CheckpointEncodeError
│   ├── CheckpointNotFoundError (LookupError)
│   ├── ThreadExistsError
│   └── ResumeError                        resume/interrupt bookkeeping
│       ├── InterruptPendingError
│       │   └── WritesWhileInterruptedError
│       ├── NoCheckpointToResumeError
│       ├── NoInterruptToResumeError
│       ├── ResumeInterruptMismatchError
│       └── ResumePayloadError (TypeError)
├── HiveInternalError                      an invariant broke inside Hive: please report
├── StoreError                             a store's file, server or options (.retryable)
│   ├── StoreUnavailableError              a database server cannot be reached: retry
│   └── …                                  the rest: hive_core.persistence (_errors.py)
├── ServiceError                           the run service (hive_core.service)
│   ├── ServiceConfigError (ValueError)    a configuration key, named
│   ├── UnknownGraphError (LookupError)
│   ├── RunNotFoundError (LookupError)
│   └── RunWaitTimeoutError (TimeoutError)
└── ServerError                            the HTTP server (hive_core.server)
    ├── RequestError (ValueError)          a request the server cannot accept
    │   ├── MalformedJsonError · UnsupportedMediaTypeError · BodyTooLargeError
    │   ├── BodyTimeoutError
    │   ├── RouteNotFoundError · MethodNotAllowedError
    │   └── UnauthorizedError · UnsupportedOptionError
    ├── ThreadNotFoundError (LookupError)
    ├── AssistantNotFoundError (LookupError)
    ├── ThreadBusyError
    └── ApiKeyRequiredError                off loopback without an API key
```

Every class has a stable ``code`` that matches a heading in ``docs/errors.md``; every
instance keeps the facts as attributes (tests and tools read those, never the text),
and survives a pickle round-trip so executors and loggers can ship it.

The classes live in ``hive_core/_errors/``, one module per family (define, run,
checkpoint, store, service, server); this module is their public home and sets their
``__module__`` to ``hive_core.errors``.
"""

from __future__ import annotations

from ._errors.base import HiveError, HiveInternalError
from ._errors.checkpoint import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointStoreMissingError,
    CheckpointStoreUnsupportedError,
    CheckpointVersionMismatchError,
    InterruptPendingError,
    NoCheckpointToResumeError,
    NoInterruptToResumeError,
    ResumeError,
    ResumeInterruptMismatchError,
    ResumePayloadError,
    ThreadExistsError,
    WritesWhileInterruptedError,
)
from ._errors.define import CompilationError, DefinitionError, Problem
from ._errors.in_node import node_error as node_error
from ._errors.run import (
    ChannelTypeMismatchError,
    ChannelValueTypeError,
    CodecError,
    EventDecodeError,
    EventsNotRequestedError,
    IndexOutOfRangeError,
    InterruptPayloadTypeError,
    InterruptRepeatedError,
    InvalidRunOptionsError,
    NodeError,
    NodeOutputError,
    ReducerError,
    RouterError,
    RunError,
    ScopeMismatchError,
    TaskLocalWriteNotAllowedError,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
    WritesArgumentError,
)
from ._errors.server import ApiKeyRequiredError as ApiKeyRequiredError
from ._errors.server import AssistantNotFoundError as AssistantNotFoundError
from ._errors.server import BodyTimeoutError as BodyTimeoutError
from ._errors.server import BodyTooLargeError as BodyTooLargeError
from ._errors.server import MalformedJsonError as MalformedJsonError
from ._errors.server import MethodNotAllowedError as MethodNotAllowedError
from ._errors.server import RequestError as RequestError
from ._errors.server import RouteNotFoundError as RouteNotFoundError
from ._errors.server import ServerError as ServerError
from ._errors.server import ThreadBusyError as ThreadBusyError
from ._errors.server import ThreadNotFoundError as ThreadNotFoundError
from ._errors.server import UnauthorizedError as UnauthorizedError
from ._errors.server import UnsupportedMediaTypeError as UnsupportedMediaTypeError
from ._errors.server import UnsupportedOptionError as UnsupportedOptionError
from ._errors.service import RunNotFoundError as RunNotFoundError
from ._errors.service import RunWaitTimeoutError as RunWaitTimeoutError
from ._errors.service import ServiceConfigError as ServiceConfigError
from ._errors.service import ServiceError as ServiceError
from ._errors.service import UnknownGraphError as UnknownGraphError
from ._errors.store import StoreError, StoreUnavailableError
from ._exports import public

__all__ = [
    "ChannelTypeMismatchError",
    "ChannelValueTypeError",
    "CheckpointCorruptError",
    "CheckpointDecodeError",
    "CheckpointEncodeError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointStoreMissingError",
    "CheckpointStoreUnsupportedError",
    "CheckpointVersionMismatchError",
    "CodecError",
    "CompilationError",
    "DefinitionError",
    "EventDecodeError",
    "EventsNotRequestedError",
    "HiveError",
    "HiveInternalError",
    "IndexOutOfRangeError",
    "InterruptPayloadTypeError",
    "InterruptPendingError",
    "InterruptRepeatedError",
    "InvalidRunOptionsError",
    "NoCheckpointToResumeError",
    "NoInterruptToResumeError",
    "NodeError",
    "NodeOutputError",
    "Problem",
    "ReducerError",
    "ResumeError",
    "ResumeInterruptMismatchError",
    "ResumePayloadError",
    "RouterError",
    "RunError",
    "ScopeMismatchError",
    "StoreError",
    "StoreUnavailableError",
    "TaskLocalWriteNotAllowedError",
    "ThreadExistsError",
    "UnknownChannelError",
    "UnknownNodeError",
    "UpdatePolicyViolationError",
    "WritesArgumentError",
    "WritesWhileInterruptedError",
]
# The run service's errors are exported from ``hive_core.service``, which
# is an optional extra, not from ``hive_core``; their home is still this module.
_SERVICE = [
    "RunNotFoundError",
    "RunWaitTimeoutError",
    "ServiceConfigError",
    "ServiceError",
    "UnknownGraphError",
]

# The HTTP server's errors are exported from ``hive_core.server`` (an extra).
_SERVER = [
    "ApiKeyRequiredError",
    "AssistantNotFoundError",
    "BodyTooLargeError",
    "BodyTimeoutError",
    "MalformedJsonError",
    "RequestError",
    "ServerError",
    "ThreadBusyError",
    "ThreadNotFoundError",
    "UnauthorizedError",
    "RouteNotFoundError",
    "MethodNotAllowedError",
    "UnsupportedMediaTypeError",
    "UnsupportedOptionError",
]

public(__name__, [*__all__, *_SERVICE, *_SERVER], globals())
