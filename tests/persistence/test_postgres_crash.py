"""Crash safety on PostgreSQL, on a cluster of the test's own (fsync on):

* a client process saving in a loop is SIGKILLed mid-save; the latest checkpoint is
  the last one whose save returned (or the one in flight, if its commit landed);
* the server is crashed and restarted (``pg_ctl restart -m immediate``) between saves;
  nothing returned is lost and the same store object keeps working.

Ordering is a handshake, never timing: the writer prints each step after its save
returned, then waits on stdin for leave to start the next one. The test grants one
save past the line it kills on, so at the kill the writer has returned exactly the
saves it reported (all drained from the pipe afterwards) and at most the granted one
is in flight. (Reading stdout alone was racy: under load the writer ran saves ahead
of the reader, so "the line just read" was not "the last save that returned".)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from postgres_support import OwnCluster, Schema, own_cluster

from hive_core.persistence import Checkpoint, PostgresCheckpointStore

__all__ = ["own_cluster"]

ROOT = Path(__file__).resolve().parents[2]

_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from hive_core.persistence import Checkpoint, PostgresCheckpointStore

    def data(step):
        log = b"[" + b",".join(b'"%06d%s"' % (i, b"x" * 2000) for i in range(step)) + b"]"
        return {"log": log, "big": bytes([step % 256]) * 40_000}

    async def main(url):
        store = PostgresCheckpointStore(url)
        step = 0
        while True:
            await store.save(Checkpoint(
                id=f"{step:08d}", thread_id="t", run_id="r", step_index=step,
                schema_version="s", graph_version="g", global_data=data(step)))
            sys.stdout.write(f"{step}\\n")  # the save returned
            sys.stdout.flush()
            if not sys.stdin.readline():  # the test's leave for the next save
                return
            step += 1

    asyncio.run(main(sys.argv[1]))
    """
)


def _expected(step: int) -> dict[str, bytes]:
    log = b"[" + b",".join(b'"%06d%s"' % (i, b"x" * 2000) for i in range(step)) + b"]"
    return {"log": log, "big": bytes([step % 256]) * 40_000}


def _cp(step: int) -> Checkpoint:
    return Checkpoint(
        id=f"{step:08d}",
        thread_id="t",
        run_id="r",
        step_index=step,
        schema_version="s",
        graph_version="g",
        global_data=_expected(step),
    )


def _check_history(store: PostgresCheckpointStore, returned: int, granted: int) -> int:
    async def main() -> int:
        latest = await store.load_latest("t")
        assert latest is not None
        # The save in flight at the kill (if one was granted and had not returned)
        # may or may not have committed; nothing else is allowed: not an older
        # one, never a torn one, never one the writer was not allowed to start.
        assert returned <= latest.step_index <= granted
        assert latest.global_data == _expected(latest.step_index)
        summaries = await store.list_checkpoints("t")
        assert [s.step_index for s in summaries] == list(
            range(latest.step_index, -1, -1)
        )
        for summary in summaries[:3]:
            cp = await store.load_checkpoint("t", summary.id)
            assert cp is not None and cp.global_data == _expected(cp.step_index)
        nxt = _cp(latest.step_index + 1)
        await store.save(nxt)  # the chains keep extending after the crash
        assert await store.load_latest("t") == nxt
        await store.aclose()
        return latest.step_index

    return asyncio.run(main())


def test_sigkill_mid_save_keeps_the_last_returned_checkpoint(
    own_cluster: OwnCluster,
) -> None:
    schema = Schema(own_cluster.url)
    try:
        for kill_after in (3, 11):
            schema.sql("DROP TABLE IF EXISTS hive_checkpoints, hive_checkpoint_meta")
            schema.sql(
                "DROP TABLE IF EXISTS hive_checkpoint_threads, "
                "hive_checkpoint_streams, hive_checkpoint_blobs"
            )
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            proc = subprocess.Popen(
                [sys.executable, "-c", _WRITER, schema.url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            assert proc.stdin is not None and proc.stdout is not None
            reported: list[int] = []
            try:
                for _ in range(kill_after + 1):
                    line = proc.stdout.readline()
                    assert line.endswith(b"\n"), "the writer died before the kill"
                    reported.append(int(line))
                    proc.stdin.write(b"go\n")  # leave for the next save
                    proc.stdin.flush()
            finally:
                proc.send_signal(signal.SIGKILL)  # the granted save may be under way
                proc.wait()
                rest = proc.stdout.read()  # reports written before the kill
                proc.stdout.close()
                proc.stdin.close()
            # A line cut short by the kill is not a report; its save counts as in flight.
            reported += [int(x) for x in rest.split(b"\n")[:-1]]
            granted = kill_after + 1
            assert reported == list(range(len(reported)))
            assert kill_after <= reported[-1] <= granted
            _check_history(PostgresCheckpointStore(schema.url), reported[-1], granted)
    finally:
        schema.drop()


def test_server_crash_and_restart_loses_nothing_returned(
    own_cluster: OwnCluster,
) -> None:
    schema = Schema(own_cluster.url)
    store = PostgresCheckpointStore(schema.url)
    runner = asyncio.Runner()
    try:
        for step in range(5):
            runner.run(store.save(_cp(step)))
        own_cluster.restart("immediate")  # a server crash: recovery from the WAL
        # The pool's connections all died; the store retries on fresh ones.
        runner.run(store.save(_cp(5)))
        latest = runner.run(store.load_latest("t"))
        assert latest == _cp(5)
        own_cluster.restart("fast")
        assert runner.run(store.load_checkpoint("t", _cp(2).id)) == _cp(2)
        runner.run(store.aclose())
    finally:
        runner.close()
        schema.drop()
