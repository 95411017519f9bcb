"""A health probe a process manager can call, from any machine that reaches the
database: ``python -m hive_core.service health --worker ID [--ready]``.

It reads the worker registry (``ServiceClient.workers``): a worker is *live*
while its heartbeat is younger than the lease (alive or draining), *ready* while
it is live and not draining. Exit status 0: healthy; 1: not (silent past the
lease, stopped, taken over, unknown, or draining when readiness is asked); 2: the
configuration is bad. See ``docs/service.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import attrs

from ..errors import ServiceConfigError
from ._config import load_config
from ._types import WorkerInfo

__all__ = ["healthy", "main"]


def healthy(worker: WorkerInfo, *, ready: bool) -> bool:
    """Live (beating within the lease); with ``ready``, also not draining."""
    return worker.alive and (not ready or worker.state == "alive")


def _line(worker: WorkerInfo, ok: bool, now: float) -> str:
    age = now - worker.heartbeat_at
    return (
        f"{worker.worker_id} {'ok' if ok else 'FAIL'} state={worker.state} "
        f"heartbeat={age:.1f}s ago running={worker.running}/{worker.capacity} "
        f"host={worker.host} pid={worker.pid} version={worker.version}"
    )


def _health(args: argparse.Namespace) -> int:
    from ._client import ServiceClient

    try:
        config = load_config(args.config)
    except ServiceConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    client = ServiceClient(config)
    try:
        found = client.workers_sync()
    finally:
        client.close()
    if args.worker is not None:
        found = [w for w in found if w.worker_id == args.worker]
    verdicts = [(w, healthy(w, ready=args.ready)) for w in found]
    if args.json:
        body = [{**attrs.asdict(w), "ok": ok} for w, ok in verdicts]
        print(json.dumps(body, sort_keys=True))
    else:
        now = time.time()
        for w, ok in verdicts:
            print(_line(w, ok, now))
        if not verdicts:
            print(f"no worker {args.worker or ''} in the registry".replace("  ", " "))
    if args.worker is not None:
        return 0 if verdicts and verdicts[0][1] else 1
    return 0 if any(ok for _w, ok in verdicts) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hive_core.service")
    commands = parser.add_subparsers(dest="command", required=True)
    probe = commands.add_parser(
        "health",
        help="exit 0 if the worker (or, without --worker, any worker) is healthy",
    )
    probe.add_argument("--worker", help="the worker's executor id")
    probe.add_argument(
        "--ready", action="store_true", help="readiness: also not draining"
    )
    probe.add_argument(
        "--config", help="the service's TOML file (HIVE_SERVICE_* apply too)"
    )
    probe.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    return _health(args)
