"""``Runtime.delete_thread`` (docs/persistence.md, "Deleting a thread"): the store's
checkpoints and the runtime's memory of the thread go, other threads stay, the id
starts afresh, a queued delete waits its turn, and a store that cannot delete is
refused before anything changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _gates import until

from hive_core import (
    END,
    CheckpointStoreUnsupportedError,
    GraphBuilder,
    InMemoryCheckpointStore,
    Next,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import (
    Checkpoint,
    CheckpointConflict,
    CheckpointSummary,
    SQLiteCheckpointStore,
)
from hive_core.persistence._fence import UNFENCED, ExpectedLatest


class Log(Schema):
    log = channel(list[int], reducer=reducers.append, update="multi")
    target = channel(int, initial=lambda: 3)


def add(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Log.log, [len(ctx.store.get(Log.log)) + 1])])


def more(view: StoreView) -> Next | list[str]:
    return END if len(view.get(Log.log)) >= view.get(Log.target) else ["add"]


GRAPH = (
    GraphBuilder(Log, start=["add"])
    .add_node("add", add)
    .add_router("add", more)
    .compile()
)


class ProtocolOnly:
    """A store of the user's own: the ``CheckpointStore`` protocol, nothing more."""

    def __init__(self) -> None:
        self.inner = InMemoryCheckpointStore()
        self.inline = True

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None:
        await self.inner.save(checkpoint, expected_latest=expected_latest)

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        return await self.inner.load_latest(thread_id)

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        return await self.inner.list_checkpoints(thread_id, limit)

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        return await self.inner.load_checkpoint(thread_id, checkpoint_id)

    async def thread_exists(self, thread_id: str) -> bool:
        return await self.inner.thread_exists(thread_id)


def test_deletes_the_thread_and_its_id_starts_afresh(tmp_path: Path) -> None:
    with SQLiteCheckpointStore(tmp_path / "hive.db") as store:
        rt = Runtime(GRAPH, checkpoint_store=store)
        assert rt.run_sync("gone", None).output["log"] == [1, 2, 3]
        assert rt.run_sync("kept", None).output["log"] == [1, 2, 3]
        assert rt.delete_thread_sync("gone") is True
        assert rt.get_state_sync("gone") is None
        assert rt.get_checkpoint_history_sync("gone") == []
        assert rt.delete_thread_sync("gone") is False
        cold = Runtime(GRAPH, checkpoint_store=store)  # nothing in memory
        assert cold.get_state_sync("gone") is None
        kept = cold.get_state_sync("kept")
        assert kept is not None and kept.store.get(Log.log) == [1, 2, 3]
        again = rt.run_sync("gone", {Log.target: 2})
        assert again.output["log"] == [1, 2]  # from nothing, not from [1, 2, 3]


def test_without_a_store_it_forgets_the_thread() -> None:
    rt = Runtime(GRAPH)
    rt.run_sync("t", None)
    assert rt.get_state_sync("t") is not None
    assert rt.delete_thread_sync("t") is True
    assert rt.get_state_sync("t") is None
    assert rt.delete_thread_sync("t") is False
    assert rt.run_sync("t", {Log.target: 1}).output["log"] == [1]


def test_a_store_without_delete_thread_is_refused_and_nothing_changes() -> None:
    store = ProtocolOnly()
    rt = Runtime(GRAPH, checkpoint_store=store)
    rt.run_sync("t", None)
    with pytest.raises(CheckpointStoreUnsupportedError) as info:
        rt.delete_thread_sync("t")
    assert info.value.store == "ProtocolOnly"
    assert info.value.method == "delete_thread"
    assert info.value.code == "checkpoint-store-unsupported"
    state = rt.get_state_sync("t")
    assert state is not None and state.store.get(Log.log) == [1, 2, 3]
    assert asyncio.run(store.thread_exists("t"))


def test_another_runtimes_run_of_the_deleted_thread_writes_nothing(
    tmp_path: Path,
) -> None:
    with SQLiteCheckpointStore(tmp_path / "hive.db") as store:
        first = Runtime(GRAPH, checkpoint_store=store)
        first.run_sync("t", None)  # `first` keeps the thread's state in memory
        assert Runtime(GRAPH, checkpoint_store=store).delete_thread_sync("t")
        with pytest.raises(CheckpointConflict):
            first.run_sync("t", {Log.target: 5})
        assert asyncio.run(store.list_checkpoints("t")) == []


class Slow(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def test_a_delete_waits_for_the_run_queued_before_it() -> None:
    """Had the delete run at once, the held run's save (fenced on the first
    run's checkpoint) would raise ``CheckpointConflict``; first in, first out,
    the run finishes and then the thread goes."""

    async def scenario() -> None:
        entered, release = asyncio.Event(), asyncio.Event()

        async def hold(ctx: NodeInput) -> NodeOutput:
            entered.set()
            await release.wait()
            return NodeOutput(writes=[Write(Slow.n, 1)])

        graph = GraphBuilder(Slow, start=["hold"]).add_node("hold", hold).compile()
        store = InMemoryCheckpointStore()
        rt = Runtime(graph, checkpoint_store=store)
        release.set()
        assert (await rt.invoke("t", None)).output == {"n": 1}
        release.clear()
        entered.clear()
        run = asyncio.ensure_future(rt.invoke("t", None))
        await entered.wait()
        delete = asyncio.ensure_future(rt.delete_thread("t"))
        await until(lambda: rt._turns.waiting("t") == 1)  # queued behind the run
        assert not delete.done() and await store.thread_exists("t")
        release.set()
        assert (await run).output == {"n": 2}
        assert await delete is True
        assert await store.thread_exists("t") is False
        assert await rt.get_state("t") is None

    asyncio.run(scenario())
