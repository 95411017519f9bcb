"""Fenced writes (``docs/persistence.md``, "Fenced writes"), run against every store.

A save names the checkpoint it follows (``expected_latest``); once the thread's
latest is another one, the save raises ``CheckpointConflict`` naming the thread, the
expected and the actual latest, and writes nothing at all.
"""

from __future__ import annotations

import pickle
import uuid

import pytest

from hive_core.errors import CheckpointError
from hive_core.persistence import (
    UNFENCED,
    CheckpointConflict,
    InvalidStoreOptionError,
    StoreError,
)
from hive_core.persistence._format import Checkpoint

from .store_support import Backend, make_checkpoint

T = "thread-1"


def chain(n: int, *, tag: bytes = b"a", run: int = 1) -> list[Checkpoint]:
    """``n`` checkpoints of one run, an append-only log growing by one item each."""
    return [
        make_checkpoint(
            step,
            {"log": b"[" + b",".join(tag * 80 for _ in range(step)) + b"]"},
            run=uuid.UUID(int=run),
        )
        for step in range(n)
    ]


def save_chain(backend: Backend, cps: list[Checkpoint]) -> None:
    before = None
    for cp in cps:
        backend.store.save(cp, expected_latest=before)
        before = cp.id


def history(backend: Backend, thread: str = T) -> list[tuple[str, int]]:
    return [(s.id, s.step_index) for s in backend.store.list_checkpoints(thread)]


class TestFence:
    def test_a_chain_of_fenced_saves_advances(self, backend: Backend) -> None:
        cps = chain(4)
        save_chain(backend, cps)
        assert backend.store.load_latest(T) == cps[-1]
        assert history(backend) == [(cp.id, cp.step_index) for cp in cps[::-1]]

    def test_a_stale_save_conflicts_and_writes_nothing(self, backend: Backend) -> None:
        cps = chain(3)
        save_chain(backend, cps)
        before = history(backend)
        # Another writer's step 1 and 2, from the same step-0 checkpoint: new data,
        # a new channel, and (step 2) the very id the thread already has.
        rival = make_checkpoint(
            2, {"log": b"[" + b"z" * 300 + b"]", "extra": b"new"}, cid=cps[2].id
        )
        with pytest.raises(CheckpointConflict) as err:
            backend.store.save(rival, expected_latest=cps[1].id)
        assert (err.value.thread_id, err.value.expected, err.value.actual) == (
            T,
            cps[1].id,
            cps[2].id,
        )
        assert err.value.checkpoint_id == cps[2].id
        assert history(backend) == before
        assert backend.store.load_latest(T) == cps[2]
        assert backend.store.load_checkpoint(T, cps[2].id) == cps[2]
        # The chains are intact: the next fenced save and every load still work.
        nxt = chain(4)[3]
        backend.store.save(nxt, expected_latest=cps[2].id)
        assert backend.store.load_latest(T) == nxt
        for cp in cps:
            assert backend.store.load_checkpoint(T, cp.id) == cp

    def test_expecting_no_checkpoint(self, backend: Backend) -> None:
        first, other = chain(1)[0], chain(1, tag=b"b", run=2)[0]
        backend.store.save(first, expected_latest=None)
        with pytest.raises(CheckpointConflict) as err:
            backend.store.save(other, expected_latest=None)
        assert (err.value.expected, err.value.actual) == (None, first.id)
        assert history(backend) == [(first.id, 0)]
        assert backend.store.load_latest(T) == first

    def test_a_thread_without_checkpoints_stays_absent(self, backend: Backend) -> None:
        cp = make_checkpoint(3, {"log": b"x" * 200}, thread_id="fresh")
        with pytest.raises(CheckpointConflict) as err:
            backend.store.save(cp, expected_latest="some-id")
        assert (err.value.thread_id, err.value.actual) == ("fresh", None)
        assert backend.store.thread_exists("fresh") is False
        assert backend.store.load_latest("fresh") is None
        backend.store.save(cp, expected_latest=None)  # nothing was left behind
        assert backend.store.load_latest("fresh") == cp

    def test_resaving_the_latest_expects_itself(self, backend: Backend) -> None:
        # What the runtime does when a resume ends the run at once: the same id.
        cps = chain(2)
        save_chain(backend, cps)
        again = make_checkpoint(1, {"log": b"[done]"}, cid=cps[1].id)
        backend.store.save(again, expected_latest=cps[1].id)
        assert backend.store.load_latest(T) == again
        with pytest.raises(CheckpointConflict):
            backend.store.save(again, expected_latest=cps[0].id)

    def test_the_fence_follows_a_latest_moved_down(self, backend: Backend) -> None:
        backend.store.save(make_checkpoint(5, cid="same"), expected_latest=None)
        backend.store.save(make_checkpoint(3, cid="other"), expected_latest="same")
        backend.store.save(make_checkpoint(1, cid="same"), expected_latest="same")
        latest = backend.store.load_latest(T)
        assert latest is not None and latest.id == "other"
        with pytest.raises(CheckpointConflict) as err:
            backend.store.save(make_checkpoint(6, cid="next"), expected_latest="same")
        assert err.value.actual == "other"
        backend.store.save(make_checkpoint(6, cid="next"), expected_latest="other")
        assert history(backend) == [("next", 6), ("other", 3), ("same", 1)]

    def test_a_lower_save_keeps_the_latest(self, backend: Backend) -> None:
        backend.store.save(make_checkpoint(4, cid="b"), expected_latest=None)
        backend.store.save(make_checkpoint(2, cid="a"), expected_latest="b")
        latest = backend.store.load_latest(T)
        assert latest is not None and latest.id == "b"
        with pytest.raises(CheckpointConflict):
            backend.store.save(make_checkpoint(5, cid="c"), expected_latest="a")

    def test_unfenced_saves_write_whatever_the_latest(self, backend: Backend) -> None:
        cps = chain(3)
        backend.store.save(cps[2])
        backend.store.save(cps[0], expected_latest=UNFENCED)
        backend.store.save(cps[1])
        assert backend.store.load_latest(T) == cps[2]
        assert len(history(backend)) == 3

    @pytest.mark.parametrize("bad", [42, "", b"id", ("a",)])
    def test_a_bad_expected_latest_is_refused(
        self, backend: Backend, bad: object
    ) -> None:
        with pytest.raises(InvalidStoreOptionError) as err:
            backend.store.save(chain(1)[0], expected_latest=bad)
        assert err.value.option == "expected_latest"
        assert backend.store.thread_exists(T) is False

    @pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
    def test_two_store_objects_fence_each_other(self, backend: Backend) -> None:
        assert backend.persistent
        a, b = backend.store, backend.open()
        ours = chain(4, tag=b"a")
        theirs = chain(4, tag=b"b", run=2)
        a.save(ours[0], expected_latest=None)
        b.save(theirs[1], expected_latest=ours[0].id)  # b advances the thread
        with pytest.raises(CheckpointConflict):  # a remembers step 0 as the head
            a.save(ours[1], expected_latest=ours[0].id)
        a.save(ours[2], expected_latest=theirs[1].id)
        with pytest.raises(CheckpointConflict):
            b.save(theirs[2], expected_latest=theirs[1].id)
        b.save(theirs[3], expected_latest=ours[2].id)
        assert history(backend) == [
            (theirs[3].id, 3),
            (ours[2].id, 2),
            (theirs[1].id, 1),
            (ours[0].id, 0),
        ]
        for cp in (ours[0], theirs[1], ours[2], theirs[3]):
            assert a.load_checkpoint(T, cp.id) == cp
            assert b.load_checkpoint(T, cp.id) == cp


def test_conflict_is_a_typed_store_and_checkpoint_error() -> None:
    err = CheckpointConflict("t", checkpoint_id="c" * 64, expected="a", actual="b")
    assert {StoreError, CheckpointError} <= set(type(err).__mro__)
    assert err.code == "checkpoint-conflict"
    assert err.retryable is False
    assert "Fix:" in str(err) and "`t`" in str(err)
    back = pickle.loads(pickle.dumps(err))
    assert (back.thread_id, back.expected, back.actual) == ("t", "a", "b")
