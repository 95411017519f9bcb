"""What the commit's value check costs per write (``--only value_checks``).

Every write is checked so that a reload equals the warm state
(``docs/concepts/checkpoints.md``). One row per channel kind times
``check_write`` (the commit's own check) on a value that passes, in a batch, median
of repeats: ``hive_s`` per write, ``peer_s`` the bare ``isinstance`` check that was
all the commit did before deep checks, ``ratio`` the two's quotient. The value's
shape is in ``value``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from hive_core import Schema, channel
from hive_core.models import ChatMessage
from hive_core.runtime._commit import check_write

__all__ = ["run"]


class _Point(msgspec.Struct, frozen=True):
    x: int
    label: str = ""


class _Kinds(Schema):
    text = channel(str)
    n = channel(int)
    ratio = channel(float)
    tags = channel(list[str])
    points = channel(list[_Point])
    messages = channel(list[ChatMessage])
    untyped = channel(Any, initial=lambda: None)


CASES: dict[str, tuple[str, object, str]] = {
    "str": ("text", "hello", "a 5-char str"),
    "int": ("n", 42, "an int"),
    "float": ("ratio", 0.5, "a float"),
    "list_str_20": ("tags", [f"tag{i}" for i in range(20)], "20 short strs"),
    "structs_20": ("points", [_Point(i, "p") for i in range(20)], "20 structs"),
    "messages_20": (
        "messages",
        [ChatMessage(id=f"m{i}", role="user", content="hi") for i in range(20)],
        "20 chat messages",
    ),
    "untyped_dict": (
        "untyped",
        {"a": [1, 2, 3], "b": {"c": "d"}, "e": 1.5, "f": None},
        "a small nested JSON dict",
    ),
}


def _per_call(fn: Callable[[], object], batch: int, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - t0) / batch)
    return statistics.median(times)


def run(quick: bool) -> list[dict[str, Any]]:
    spec = _Kinds.spec()
    by_id = spec.by_id
    batch, repeats = (2_000, 3) if quick else (20_000, 7)
    rows = []
    for name, (cid, value, shape) in CASES.items():
        ch = by_id[cid]
        types = ch.check_types

        def checked(cid: str = cid, value: object = value) -> object:
            return check_write(by_id, cid, value, "node", 0)

        def bare(value: object = value, types: Any = types) -> object:
            return not types or isinstance(value, types)

        hive_s = _per_call(checked, batch, repeats)
        peer_s = _per_call(bare, batch, repeats)
        rows.append(
            {
                "workload": f"value_check_{name}",
                "hive_s": hive_s,
                "peer_s": peer_s,
                "ratio": hive_s / peer_s,
                "hive_us_per_write": hive_s * 1e6,
                "value": shape,
                "batch": batch,
                "repeats": repeats,
            }
        )
    return rows


if __name__ == "__main__":
    import json

    for row in run(quick=True):
        print(json.dumps(row))
