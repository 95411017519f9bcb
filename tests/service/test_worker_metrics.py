"""A worker process serving /metrics on 127.0.0.1: scraped after a multi-run
workload, checked against the runs' own events (on the CI PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families

from .test_workers import WAIT, Cluster, cluster_factory, until  # noqa: F401

RUNS = 5


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=WAIT).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_worker_metrics_match_the_runs_events(
    cluster_factory: Callable[..., Cluster],  # noqa: F811
) -> None:
    c = cluster_factory(HIVE_TEST_METRICS="1")
    c.hold.unlink(missing_ok=True)
    c.start("metrics-a")
    url = Path(c.ready / "metrics-a.metrics").read_text()
    assert url.startswith("http://127.0.0.1:")
    ids = [
        c.client.submit_sync("counter", f"m-{i}", {"target": 3}) for i in range(RUNS)
    ]
    results = [c.client.result_sync(r, timeout=WAIT) for r in ids]
    assert {r.status for r in results} == {"finished"}

    async def read(run_id: str) -> list[str]:
        return [type(ev).__name__ async for ev in c.client.events(run_id)]

    kinds = Counter(name for r in ids for name in asyncio.run(read(r)))
    got = until(
        lambda: (
            (m := scrape(url)).get(("hive_runs_total", (("status", "finished"),)))
            == kinds["RunFinished"]
            and m
        ),
        "the last run's metrics",
    )
    assert isinstance(got, dict)
    assert kinds["RunFinished"] == RUNS
    assert got[("hive_runs_started_total", ())] == kinds["RunStarted"]
    assert got[("hive_step_duration_seconds_count", ())] == kinds["StepFinished"]
    assert got[("hive_service_queue_wait_seconds_count", ())] == RUNS
    assert got[("hive_runs_active", ())] == 0
    assert ("hive_service_queue_depth", ()) in got


def test_the_survivor_counts_the_runs_it_recovers(
    cluster_factory: Callable[..., Cluster],  # noqa: F811
) -> None:
    c = cluster_factory(HIVE_TEST_METRICS="1", HIVE_TEST_HOLD_STEP="1")
    c.hold.write_text("")
    c.start("rec-a", "rec-b")
    threads = ["rec-0", "rec-1", "rec-2"]
    ids = {t: c.client.submit_sync("counter", t, {"target": 3}) for t in threads}
    for t in threads:
        reached = Path(f"{c.hold}.{t}.reached")
        until(reached.exists, f"{t} at step 1")
    victim = c.client.status_sync(ids["rec-0"]).worker_id
    assert victim is not None
    survivor = "rec-b" if victim == "rec-a" else "rec-a"
    mine = [t for t in threads if c.client.status_sync(ids[t]).worker_id == victim]
    c.procs[victim].kill()  # SIGKILL: the survivor takes its runs over
    c.procs[victim].wait()
    c.hold.unlink()
    for t in threads:
        assert c.client.result_sync(ids[t], timeout=WAIT).status == "finished"
    url = Path(c.ready / f"{survivor}.metrics").read_text()
    got = scrape(url)
    assert got[("hive_service_recoveries_total", ())] == len(mine)
