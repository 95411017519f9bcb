"""``hive serve`` against LangGraph's local server, same client, same workload.

``python bench/server.py [--quick] [--langgraph PATH]``: JSON lines, one per server
and concurrency level. The workload is one ``langgraph-sdk`` async client per
concurrent user, each looping: create a thread, stream a 5-step run
(``stream_mode="values"``), read the thread's state. Measured per row: runs/s,
stream parts/s delivered, submit → first part after ``metadata`` (p50), and
``get_state`` latency (p50/p99). LangGraph's server is ``langgraph dev`` from
``langgraph-cli[inmem]`` (give its ``langgraph`` executable with ``--langgraph``,
e.g. from a separate venv; the row is skipped when absent), run offline. Hive's is
``hive serve`` with its embedded worker and SQLite state in a temporary directory,
on the service's default configuration (queue polled every 50 ms, 4 runs at once;
any ``HIVE_SERVICE_*`` variable of the caller is dropped). A second Hive row,
``server_hive_split_c<N>``, is the same state split over two processes:
``hive serve --no-worker`` and one ``hive worker`` on the same data directory,
both polling the queue every 10 ms (``docs/http-api.md``, Benchmark). The servers stay up; each level is
measured ``--takes`` times per server, the order reversed every other take, the idle
server's processes stopped (``SIGSTOP``) meanwhile so that its polling costs the
measured one nothing; a row pools its takes (runs over total seconds,
percentiles over every sample). Each row also gives the CPU per run of the
server's processes (all of its process group, from ``/proc``) and of this client
process. After each level, with both servers paused, ``server_dbos_floor.py``
measures DBOS alone queued as ``hive serve`` queues runs, with as many clients
(``server_dbos_floor_c<N>``: its runs/s and CPU per run, no HTTP and no Hive),
once with the service's polling interval and once polled every 10 ms. Every
number printed is measured in this run; the ``ratio`` rows compare the two
servers at each level and put ``3x`` LangGraph's runs/s next to both floors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

_PROCS: dict[str, list[subprocess.Popen[bytes]]] = {}
"""Each running server's processes by its URL, the server first, each in a session
(and so a process group) of its own (``_pause`` stops the idle ones)."""
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_cpu_s(pgid: int) -> float | None:
    """CPU seconds (user + system) of every live process in group ``pgid``; ``None``
    without ``/proc``. Each server runs in its own session, so its group is it and
    every child it started."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _groups_cpu_s(pgids: Sequence[int]) -> float | None:
    """``_group_cpu_s`` summed over ``pgids``; ``None`` if there are none or one
    cannot be read."""
    each = [_group_cpu_s(pgid) for pgid in pgids]
    return None if not each or None in each else sum(x or 0.0 for x in each)


def _client_cpu_s() -> float:
    """This (client) process's CPU seconds, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not answer /ok")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGCONT)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def hive_server(tmp: Path, *, split: bool = False) -> Iterator[str]:
    """``hive serve`` on embedded SQLite in ``tmp``: its own worker, or with
    ``split`` a ``--no-worker`` server and one ``hive worker`` on the same data
    directory, both polling the queue every ``FAST_POLL_S``; ``_PROCS`` lists both,
    so a row's CPU and the pauses cover both."""
    name = "hive_split" if split else "hive"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIVE_SERVICE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE)])
    if split:
        env["HIVE_SERVICE_POLLING_INTERVAL_S"] = str(FAST_POLL_S)
    app = str(HERE / "server_hive_app.py") + ":GRAPHS"
    data = ["--data-dir", str(tmp / name)]
    args = [sys.executable, "-m", "hive_core.cli", "serve", app,
            "--port", str(port), *data, *(["--no-worker"] if split else [])]  # fmt: skip
    log = (tmp / f"{name}.log").open("wb")
    proc = subprocess.Popen(args, cwd=tmp, env=env, stdout=log, stderr=log,
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    procs = _PROCS[url] = [proc]
    try:
        _wait_ok(url, proc)
        if split:
            worker = [sys.executable, "-m", "hive_core.cli", "worker", app, *data]
            procs.append(subprocess.Popen(worker, cwd=tmp, env=env, stdout=log,
                                          stderr=log, start_new_session=True))  # fmt: skip
        yield url
    finally:
        for each in reversed(procs):
            _stop(each)
        log.close()


@contextmanager
def langgraph_server(tmp: Path, exe: str) -> Iterator[str]:
    app = tmp / "lg"
    app.mkdir()
    shutil.copy(HERE / "server_langgraph_app.py", app / "five_lg.py")
    config = {"dependencies": ["."], "graphs": {"five": "./five_lg.py:graph"}}
    (app / "langgraph.json").write_text(json.dumps(config))
    port = _free_port()
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1",
           "LANGGRAPH_NO_VERSION_CHECK": "true", "LANGSMITH_TRACING": "false"}  # fmt: skip
    env.pop("PYTHONPATH", None)
    args = [exe, "dev", "--no-browser", "--no-reload", "--port", str(port)]
    log = (tmp / "langgraph.log").open("wb")
    proc = subprocess.Popen(args, cwd=app, env=env, stdout=log, stderr=log,
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _PROCS[url] = [proc]
    try:
        _wait_ok(url, proc)
        yield url
    finally:
        _stop(proc)
        log.close()


async def _user(client: Any, runs: int, stats: dict[str, list[float]]) -> None:
    for _ in range(runs):
        thread = await client.threads.create()
        tid = thread["thread_id"]
        t0 = time.perf_counter()
        first = None
        parts = 0
        async for part in client.runs.stream(tid, "five", input={"count": 0},
                                              stream_mode="values"):  # fmt: skip
            parts += 1
            if first is None and part.event != "metadata":
                first = time.perf_counter() - t0
        stats["first"].append(first if first is not None else float("nan"))
        stats["parts"].append(parts)
        s0 = time.perf_counter()
        state = await client.threads.get_state(tid)
        stats["state"].append(time.perf_counter() - s0)
        assert state["values"]["count"] == 5, state["values"]


async def _level(
    url: str, users: int, runs_each: int, pgids: Sequence[int] = ()
) -> dict[str, Any]:
    """One measured level: elapsed seconds, the server's (its process groups
    ``pgids``; none: not measured) and this client's CPU seconds, and every sample
    (pooled by ``_row``)."""
    from langgraph_sdk import get_client

    stats: dict[str, list[float]] = {"first": [], "parts": [], "state": []}
    per_http = 40
    clients = [
        get_client(url=url, api_key=None)
        for _ in range((users + per_http - 1) // per_http)
    ]
    await _user(clients[0], 1, {"first": [], "parts": [], "state": []})  # warm up
    server0 = _groups_cpu_s(pgids)
    client0, t0 = _client_cpu_s(), time.perf_counter()
    await asyncio.gather(*(_user(clients[i % len(clients)], runs_each, stats)
                           for i in range(users)))  # fmt: skip
    elapsed, client = time.perf_counter() - t0, _client_cpu_s() - client0
    server1 = _groups_cpu_s(pgids)
    for c in clients:
        await c.aclose()
    server = None if server0 is None or server1 is None else server1 - server0
    return {"seconds": elapsed, "runs": users * runs_each, "server_cpu_s": server,
            "client_cpu_s": client, **stats}  # fmt: skip


def _row(users: int, takes: list[dict[str, Any]]) -> dict[str, Any]:
    """The takes of one server at one level, pooled: runs over total seconds,
    percentiles over every sample."""
    runs = sum(t["runs"] for t in takes)
    elapsed = sum(t["seconds"] for t in takes)
    first = [x for t in takes for x in t["first"]]
    state = sorted(x for t in takes for x in t["state"])
    parts = sum(sum(t["parts"]) for t in takes)
    server = [t["server_cpu_s"] for t in takes]
    cpu = {
        "server_cpu_ms_per_run": None if None in server
        else round(1000 * sum(server) / runs, 2),
        "client_cpu_ms_per_run": round(1000 * sum(t["client_cpu_s"] for t in takes) / runs, 2),
    }  # fmt: skip
    return {
        "clients": users, "runs": runs, "takes": len(takes),
        "seconds": round(elapsed, 3),
        "runs_per_s": round(runs / elapsed, 1),
        "parts_per_s": round(parts / elapsed, 1),
        "first_part_p50_ms": round(statistics.median(first) * 1000, 1),
        "state_p50_ms": round(statistics.median(state) * 1000, 2),
        "state_p99_ms": round(state[min(len(state) - 1, int(len(state) * 0.99))] * 1000, 2),
        **cpu,
    }  # fmt: skip


def _dbos_floor(
    clients: int, runs_each: int, polling_interval_s: float | None = None
) -> dict[str, Any]:
    """``server_dbos_floor.py``'s row at one level, run in a process of its own
    (the service's polling interval unless one is given)."""
    args = [sys.executable, str(HERE / "server_dbos_floor.py"),
            "--clients", str(clients), "--runs-each", str(runs_each)]  # fmt: skip
    if polling_interval_s is not None:
        args += ["--polling-interval-s", str(polling_interval_s)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"server_dbos_floor.py failed:\n{out.stderr[-4000:]}")
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


FLOOR_RUNS = 100
"""Runs per DBOS floor at least (one take: more runs than a level's take has)."""
FAST_POLL_S = 0.01
"""The second floor's polling interval: what DBOS alone does when polled often."""


def _emit(row: dict[str, Any]) -> None:
    print(json.dumps(row, sort_keys=True), flush=True)


def _pause(procs: dict[str, list[subprocess.Popen[bytes]]], running: str) -> None:
    """Only ``running`` gets the CPU: the other servers' process groups are
    stopped (``SIGSTOP``), so their idle polling does not tax the one measured."""
    for name, group in procs.items():
        for proc in group:
            os.killpg(proc.pid, signal.SIGCONT if name == running else signal.SIGSTOP)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs per level")
    parser.add_argument("--langgraph", default=os.environ.get("BENCH_LANGGRAPH")
                        or shutil.which("langgraph"), help="the `langgraph` executable")  # fmt: skip
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--takes", type=int, default=2,
                        help="interleaved takes per server and level")  # fmt: skip
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    runs_each = 4 if args.quick else 10
    results: dict[tuple[str, int], dict[str, Any]] = {}
    floors: dict[int, dict[str, Any]] = {}
    fast: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as raw, ExitStack() as stack:
        tmp = Path(raw)
        urls = {
            "hive": stack.enter_context(hive_server(tmp)),
            "hive_split": stack.enter_context(hive_server(tmp, split=True)),
        }
        if args.langgraph:
            urls["langgraph"] = stack.enter_context(
                langgraph_server(tmp, args.langgraph)
            )
        else:
            _emit({"row": "server_langgraph", "skipped": "no `langgraph` executable"})
        procs = {name: _PROCS[url] for name, url in urls.items()}
        try:
            for users in levels:
                takes: dict[str, list[dict[str, Any]]] = {n: [] for n in urls}
                for take in range(args.takes):
                    order = list(urls.items())
                    for name, url in order if take % 2 == 0 else order[::-1]:
                        _pause(procs, name)
                        pgids = [p.pid for p in procs[name]]  # own sessions
                        takes[name].append(
                            asyncio.run(_level(url, users, runs_each, pgids))
                        )
                for name in urls:
                    results[(name, users)] = row = _row(users, takes[name])
                    _emit({"row": f"server_{name}_c{users}", **row})
                _pause(procs, "")  # every server stopped: the floors have the machine
                each = max(runs_each, -(-FLOOR_RUNS // users))
                floors[users] = _dbos_floor(users, each)
                fast[users] = _dbos_floor(users, each, FAST_POLL_S)
                _emit(floors[users])
                _emit(fast[users])
        finally:
            for group in procs.values():
                for proc in group:
                    os.killpg(proc.pid, signal.SIGCONT)
    for users in levels:
        hive, lg = results.get(("hive", users)), results.get(("langgraph", users))
        if hive is None or lg is None:
            continue
        split = results[("hive_split", users)]
        _emit({
            "row": f"server_ratio_c{users}",
            **_ratios(hive, lg),
            "split": _ratios(split, lg),
            "targets": "runs/s >= 3, state p99 <= 0.5 (at 50), first part p50 <= 0.1",
            "three_x_langgraph_runs_per_s": round(3 * lg["runs_per_s"], 1),
            "dbos_floor_runs_per_s": floors[users]["runs_per_s"],
            "dbos_floor_fast_poll_runs_per_s": fast[users]["runs_per_s"],
        })  # fmt: skip


def _ratios(hive: dict[str, Any], lg: dict[str, Any]) -> dict[str, float]:
    """A Hive row over LangGraph's at the same level, as the targets read them."""
    return {
        "runs_per_s": round(hive["runs_per_s"] / lg["runs_per_s"], 2),
        "state_p99": round(hive["state_p99_ms"] / lg["state_p99_ms"], 2),
        "first_part_p50": round(hive["first_part_p50_ms"] / lg["first_part_p50_ms"], 2),
    }  # fmt: skip


if __name__ == "__main__":
    main()
