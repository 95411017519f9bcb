"""Saves that cost what changed (``hive_core/persistence/_incremental.py``): an
unchanged channel is neither re-encoded nor written, an append writes only its new
items, and what loads back is exactly what a full save would have stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from hive_core import (
    END,
    CheckpointPolicy,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import Checkpoint, SQLiteCheckpointStore
from hive_core.persistence._fence import UNFENCED, ExpectedLatest
from hive_core.state import JSONCodec

STEPS = 30


class Grow(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    big = channel(str, initial="v" * 20_000, codec=JSONCodec(str))
    count = channel(int, reducer=reducers.sum, update="multi")
    tag = channel(str, initial="")


def _graph(steps: int = STEPS) -> Any:
    def step(ctx: NodeInput) -> NodeOutput:
        n = ctx.store.get(Grow.count)
        return NodeOutput(
            writes=[Write(Grow.log, [f"item {n} " + "x" * 200]), Write(Grow.count, 1)]
        )

    def again(view: StoreView) -> Any:
        return ["step"] if view.get(Grow.count) < steps else END

    return (
        GraphBuilder(Grow, start=["step"])
        .add_node("step", step)
        .add_router("step", again)
        .compile()
    )


def _run(store: Any, thread: str = "t", steps: int = STEPS) -> Any:
    options = RunOptions(
        max_steps=steps + 5, checkpoint_policy=CheckpointPolicy.every(1)
    )
    return Runtime(_graph(steps), checkpoint_store=store).run_sync(
        thread, None, options
    )


class FullSaves(SQLiteCheckpointStore):
    """Overrides ``save``: the runtime must route every save through it."""

    saves = 0

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None:
        type(self).saves += 1
        await super().save(checkpoint, expected_latest=expected_latest)


def _history(store: SQLiteCheckpointStore, thread: str) -> list[Checkpoint]:
    async def read() -> list[Checkpoint]:
        out = []
        for summary in await store.list_checkpoints(thread):
            cp = await store.load_checkpoint(thread, summary.id)
            assert cp is not None
            out.append(cp)
        return out

    return asyncio.run(read())


def test_saves_write_only_what_changed_and_load_like_full_saves(tmp_path: Path) -> None:
    with SQLiteCheckpointStore(tmp_path / "inc.db") as inc:
        out = _run(inc)
        stats = inc.storage_stats()
        history = _history(inc, "t")
        big_rows = inc._conn.execute(
            "SELECT count(*) FROM hive_checkpoint_blobs AS b "
            "JOIN hive_checkpoint_streams AS s ON b.key >> 32 = s.stream "
            "WHERE s.channel = 'big'"
        ).fetchone()[0]
    with FullSaves(tmp_path / "full.db") as full:
        _run(full)
        full_stats = full.storage_stats()
        full_history = _history(full, "t")
    assert FullSaves.saves == STEPS
    assert out.output["count"] == STEPS
    # The same rows either way: `big` one snapshot, `log` mostly deltas of one
    # item each (about 210 bytes), not the list (a snapshot now and then bounds
    # the chain, as with full saves).
    assert stats == full_stats
    assert big_rows == 1
    assert stats["deltas"] > STEPS // 2
    assert stats["delta_bytes"] < stats["deltas"] * 220
    assert len(history) == STEPS
    assert [cp.global_data for cp in history] == [cp.global_data for cp in full_history]
    latest = history[0]
    assert msgspec.json.decode(latest.global_data["log"]) == out.output["log"]


def test_unchanged_channels_are_not_encoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[Any] = []
    real = JSONCodec.encode

    def counting(self: JSONCodec[Any], value: Any) -> bytes:
        encoded.append(value)
        return real(self, value)

    monkeypatch.setattr(JSONCodec, "encode", counting)
    with SQLiteCheckpointStore(tmp_path / "inc.db") as store:
        _run(store)
    # The first save encodes the three channels in full; later saves only the
    # appended item (a one-item list) and the counter: never `big` again, never
    # the whole log.
    big = [v for v in encoded if isinstance(v, str) and len(v) > 1000]
    logs = [v for v in encoded if isinstance(v, list)]
    # Each step's one-item write is encoded twice: by the commit's value check
    # (docs/concepts/checkpoints.md) and as the save's appended tail.
    assert len(big) == 1
    assert len(logs) == 2 * STEPS
    assert all(len(v) == 1 for v in logs)


def test_another_writer_moving_a_stream_falls_back_to_full_bytes(
    tmp_path: Path,
) -> None:
    """The fence cannot see a writer that re-saves the thread's latest checkpoint
    id (the latest stays the same), but that moves the stream heads; the tokens
    must see it, and the next save write full bytes, never a delta against a head
    this writer did not write. (Another writer that adds a checkpoint is refused
    by the fence instead: ``tests/persistence/test_fencing.py``.)"""
    path = tmp_path / "shared.db"
    limit = [4]
    graph = (
        GraphBuilder(Grow, start=["step"])
        .add_node(
            "step",
            lambda ctx: NodeOutput(
                writes=[
                    Write(Grow.log, [str(ctx.store.get(Grow.count))]),
                    Write(Grow.count, 1),
                ]
            ),
        )
        .add_router("step", lambda v: ["step"] if v.get(Grow.count) < limit[0] else END)
        .compile()
    )
    options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
    with SQLiteCheckpointStore(path) as a, SQLiteCheckpointStore(path) as b:
        ra = Runtime(graph, checkpoint_store=a)
        first = ra.run_sync("shared", None, options)
        latest = asyncio.run(b.load_latest("shared"))
        assert latest is not None
        # b rewrites the same checkpoint id with another log: the thread's latest
        # id is unchanged, the log's stream head is not the one `a` left.
        other = msgspec.json.encode(["other writer"] * 7)
        rewritten = msgspec.structs.replace(
            latest, global_data={**latest.global_data, "log": other}
        )
        asyncio.run(b.save(rewritten, expected_latest=latest.id))
        limit[0] = 8
        got = ra.run_sync("shared", None, options)
        assert got.output["count"] == 8
    assert got.output["log"] == [*first.output["log"], "4", "5", "6", "7"]
    with SQLiteCheckpointStore(path) as fresh:
        reloaded = asyncio.run(fresh.load_latest("shared"))
        assert reloaded is not None
        assert msgspec.json.decode(reloaded.global_data["log"]) == got.output["log"]
        assert msgspec.json.decode(reloaded.global_data["count"]) == 8
