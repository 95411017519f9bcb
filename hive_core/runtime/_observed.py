"""An attempt's run under an observer, and the checkpoint save of a step.

``observed_loop`` is only used when ``Environment.observer`` is set, and
``save_step`` times a save only then, so the unobserved loop keeps its shape and
cost (``docs/observability.md``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from .._observe import RunInfo, RunObserver

if TYPE_CHECKING:
    from ..nodes import Resume
    from ..run_types import CheckpointPolicy, Outcome
    from ._context import RunContext
    from ._state import ThreadState


class Attempt(Protocol):
    """What these functions use of ``_loop.Attempt`` (a protocol, so this module
    does not import the loop that calls it; ``docs/architecture.md``)."""

    ctx: RunContext
    thread_id: str
    run_id: str | None
    policy: CheckpointPolicy
    observer: RunObserver | None
    obs_run: object
    obs_step: object

    @property
    def attempt_id(self) -> str: ...

    async def _loop(self, state: ThreadState, resume: Resume | None) -> Outcome: ...


__all__ = ["observed_loop", "save_step"]


async def observed_loop(
    attempt: Attempt, observer: RunObserver, state: ThreadState, resume: Resume | None
) -> Outcome:
    """``attempt``'s steps inside the observer's run scope; a step left open by a
    cancel or an error is ended as failed, then the run with its status."""
    info = RunInfo(
        graph_version=attempt.ctx.graph.graph_version,
        thread_id=attempt.thread_id,
        run_id=attempt.run_id or str(state.run_id),
        attempt_id=attempt.attempt_id,
    )
    attempt.obs_run = observer.run_started(info)
    status, error = "error", None
    try:
        outcome = await attempt._loop(state, resume)
        status = outcome.status
        return outcome
    except BaseException as exc:
        error = exc
        raise
    finally:
        if attempt.obs_step is not None:
            observer.step_ended(attempt.obs_step, failed=True)
            attempt.obs_step = None
        observer.run_ended(attempt.obs_run, status, error)


async def save_step(attempt: Attempt, new: ThreadState, *, force: bool) -> str | None:
    """Save a committed step per the attempt's policy (always with ``force``);
    observed, the save's time and channel-data size are reported."""
    checkpointer = attempt.ctx.checkpointer
    assert checkpointer is not None
    observer = attempt.observer
    if observer is None:
        return await checkpointer.after_commit(
            attempt.thread_id, attempt.policy, new, force=force
        )
    started = time.perf_counter()
    saved = await checkpointer.after_commit(
        attempt.thread_id, attempt.policy, new, force=force
    )
    if saved is not None:
        size = checkpointer.last_size
        observer.checkpoint_saved(attempt.obs_run, time.perf_counter() - started, size)
    return saved
