"""Checkpoint, persistence and resume errors."""

from __future__ import annotations

from .base import HiveError

__all__ = [
    "CheckpointError",
    "CheckpointStoreMissingError",
    "CheckpointStoreUnsupportedError",
    "CheckpointVersionMismatchError",
    "CheckpointCorruptError",
    "CheckpointDecodeError",
    "CheckpointEncodeError",
    "CheckpointNotFoundError",
    "ThreadExistsError",
    "ResumeError",
    "InterruptPendingError",
    "WritesWhileInterruptedError",
    "NoCheckpointToResumeError",
    "NoInterruptToResumeError",
    "ResumeInterruptMismatchError",
    "ResumePayloadError",
]


class CheckpointError(HiveError):
    """Base for checkpoint storage, decoding and resume errors."""

    code = "checkpoint-error"


class CheckpointStoreMissingError(CheckpointError):
    """The operation needs a checkpoint store but the runtime has none."""

    code = "checkpoint-store-missing"

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"{operation} needs a checkpoint store, but the runtime has none\n\n"
            "Fix: Runtime(graph, checkpoint_store=SQLiteCheckpointStore('hive.db'))"
        )


class CheckpointStoreUnsupportedError(CheckpointError):
    """The runtime's checkpoint store has no method for the operation (a store of
    the user's own that implements only the ``CheckpointStore`` protocol)."""

    code = "checkpoint-store-unsupported"

    def __init__(self, operation: str, *, store: str, method: str) -> None:
        self.operation = operation
        self.store = store
        self.method = method
        super().__init__(
            f"{operation} needs the checkpoint store's `{method}`, which {store} "
            "does not have\n\n"
            f"Fix: add `async def {method}(self, thread_id: str) -> bool` to {store}, "
            "or use a store that has it (InMemoryCheckpointStore, "
            "SQLiteCheckpointStore, PostgresCheckpointStore)"
        )


class CheckpointVersionMismatchError(CheckpointError):
    """A checkpoint was written by a different schema or graph version."""

    code = "checkpoint-version-mismatch"

    def __init__(
        self,
        *,
        expected_schema: str,
        expected_graph: str,
        found_schema: str,
        found_graph: str,
    ) -> None:
        self.expected_schema = expected_schema
        self.expected_graph = expected_graph
        self.found_schema = found_schema
        self.found_graph = found_graph
        super().__init__(
            "Checkpoint versions do not match the compiled graph: expected schema "
            f"{expected_schema[:12]}/graph {expected_graph[:12]}, found schema "
            f"{found_schema[:12]}/graph {found_graph[:12]}\n\n"
            "Fix: run the thread with the graph that wrote it, or move the thread to "
            "the new graph with `migrate_checkpoint(old_graph, new_graph, store, "
            "thread_id)` from hive_core.persistence (`WorkflowPatch.migrate` for a "
            "patched DSL graph), or start a new thread."
        )


class CheckpointCorruptError(CheckpointError):
    """A checkpoint field is structurally wrong (bad length, extra or missing keys)."""

    code = "checkpoint-corrupt"

    def __init__(
        self,
        field: str,
        *,
        checkpoint_id: str = "",
        reason: str = "",
        thread_id: str = "",
    ) -> None:
        self.field = field
        self.checkpoint_id = checkpoint_id
        self.reason = reason
        self.thread_id = thread_id
        suffix = f" in checkpoint {checkpoint_id[:12]}" if checkpoint_id else ""
        if thread_id:
            suffix += f" of thread `{thread_id}`"
        super().__init__(
            f"Checkpoint field `{field}` is corrupt{suffix}"
            + (f": {reason}" if reason else "")
        )


class CheckpointDecodeError(CheckpointError):
    """A checkpoint (or one channel in it) could not be decoded."""

    code = "checkpoint-decode-failed"

    def __init__(self, subject: str, *, checkpoint_id: str = "", reason: str) -> None:
        self.subject = subject
        self.checkpoint_id = checkpoint_id
        self.reason = reason
        suffix = f" in checkpoint {checkpoint_id[:12]}" if checkpoint_id else ""
        super().__init__(f"Could not decode `{subject}`{suffix}: {reason}")


class CheckpointEncodeError(CheckpointError):
    """A channel value could not be encoded while building a checkpoint."""

    code = "checkpoint-encode-failed"

    def __init__(self, channel_id: str, *, reason: str) -> None:
        self.channel_id = channel_id
        self.reason = reason
        super().__init__(f"Could not encode channel `{channel_id}`: {reason}")


class CheckpointNotFoundError(CheckpointError, LookupError):
    """No checkpoint with that id exists for the thread."""

    code = "checkpoint-not-found"

    def __init__(self, thread_id: str, checkpoint_id: str) -> None:
        self.thread_id = thread_id
        self.checkpoint_id = checkpoint_id
        super().__init__(f"Thread `{thread_id}` has no checkpoint `{checkpoint_id}`")


class ThreadExistsError(CheckpointError):
    """``fork`` (or the HTTP API's thread create) was asked to create a thread
    that already has state."""

    code = "thread-exists"

    def __init__(self, thread_id: str, *, why: str | None = None) -> None:
        self.thread_id = thread_id
        if why is None:
            super().__init__(
                f"Thread `{thread_id}` already exists; fork into a new thread id"
            )
        else:
            super().__init__(f"Thread `{thread_id}` already exists: {why}")


class ResumeError(CheckpointError):
    """Base for errors about pending interrupts and resuming them."""

    code = "resume-error"


class InterruptPendingError(ResumeError):
    """``run`` or external writes were attempted on a thread waiting for a resume."""

    code = "interrupt-pending"

    def __init__(self, thread_id: str, interrupt_id: str) -> None:
        self.thread_id = thread_id
        self.interrupt_id = interrupt_id
        super().__init__(
            f"Thread `{thread_id}` is waiting on interrupt `{interrupt_id}`; nothing "
            "was changed\n\nFix: runtime.resume(thread_id, interrupt_id, payload)"
        )


class NoCheckpointToResumeError(ResumeError):
    """``resume`` found no checkpoint for the thread."""

    code = "no-checkpoint-to-resume"

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(f"Thread `{thread_id}` has no checkpoint to resume from")


class NoInterruptToResumeError(ResumeError):
    """``resume`` was called but the latest checkpoint has no pending interrupt."""

    code = "no-interrupt-to-resume"

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(f"Thread `{thread_id}` has no pending interrupt to resume")


class ResumeInterruptMismatchError(ResumeError):
    """``resume`` named an interrupt id other than the pending one."""

    code = "resume-interrupt-mismatch"

    def __init__(self, *, expected: str, found: str) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            f"Resume names interrupt `{found}`, but the pending one is `{expected}`"
        )


class ResumePayloadError(ResumeError, TypeError):
    """A resume payload does not convert to the schema's declared resume type."""

    code = "resume-payload-invalid"

    def __init__(self, *, expected: str, reason: str) -> None:
        self.expected = expected
        self.reason = reason
        super().__init__(
            f"Resume payload does not match the declared type {expected}: {reason}"
        )


class WritesWhileInterruptedError(InterruptPendingError):
    """External writes were attempted on a thread waiting for a resume.

    A subclass of ``InterruptPendingError`` (so ``except InterruptPendingError``
    still catches it) whose Fix names the two ways to edit a paused thread; see
    ``docs/concepts/interrupts.md#editing-state-while-paused``.
    """

    code = "writes-while-interrupted"

    def __init__(self, thread_id: str, interrupt_id: str) -> None:
        self.thread_id = thread_id
        self.interrupt_id = interrupt_id
        # the base's message names only resume; this one names both routes
        ResumeError.__init__(
            self,
            f"Thread `{thread_id}` is waiting on interrupt `{interrupt_id}`; external "
            "writes are refused until it is answered, and nothing was changed\n\n"
            "Fix: either send the edit as the resume payload and let the asking node "
            "write it: runtime.resume(thread_id, interrupt_id, edited_answer); or "
            "fork a checkpoint from before the interrupt and write there: "
            "runtime.fork(thread_id, earlier_checkpoint_id, into=new_thread), then "
            "runtime.apply_external_writes(new_thread, writes)",
        )
