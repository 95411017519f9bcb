"""Fenced writes: a save names the checkpoint it follows, and a store refuses it
with :class:`~hive_core.persistence.CheckpointConflict` once the thread has moved on.

Every store checks the fence inside the same transaction (or critical section) as
the write, so two writers that loaded the same checkpoint can never both advance
the thread: the second one writes nothing. See ``docs/persistence.md``,
"Fenced writes".
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

from ._errors import CheckpointConflict, InvalidStoreOptionError
from ._threads import thread_id_problem

__all__ = ["UNFENCED", "ExpectedLatest", "Unfenced", "check_expected", "fence"]


class Unfenced(enum.Enum):
    """The type of :data:`UNFENCED`."""

    UNFENCED = "unfenced"


UNFENCED: Final = Unfenced.UNFENCED
"""``save(cp)`` without ``expected_latest``: write whatever the thread's latest is
(tools, migrations, tests). The runtime always names what it expects."""

ExpectedLatest: TypeAlias = str | Unfenced | None
"""A checkpoint id, ``None`` (the thread must have no checkpoint) or ``UNFENCED``."""


def check_expected(value: object) -> ExpectedLatest:
    """``value`` if it is a valid ``expected_latest``, else a typed error."""
    if value is None or value is UNFENCED:
        return value
    if isinstance(value, str) and thread_id_problem(value) is None:
        return value
    raise InvalidStoreOptionError(
        "expected_latest",
        expected="a checkpoint id (str), None or UNFENCED",
        got=value,
    )


def fence(
    thread_id: str, checkpoint_id: str, expected: ExpectedLatest, actual: str | None
) -> None:
    """Raise ``CheckpointConflict`` unless the thread's latest is ``expected``."""
    if expected is not UNFENCED and expected != actual:
        raise CheckpointConflict(
            thread_id, checkpoint_id=checkpoint_id, expected=expected, actual=actual
        )
