"""`import hive_core` stays lean: no asyncio until a run needs an event loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import sys
import hive_core
from hive_core import END, GraphBuilder, NodeOutput, Runtime, Schema, Write, channel
from hive_core import reducers

assert "asyncio" not in sys.modules, "import hive_core imported asyncio"

class S(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")

def inc(ctx):
    return NodeOutput(writes=[Write(S.n, 1)])

g = (
    GraphBuilder(S, start=["A"])
    .add_node("A", inc)
    .add_router("A", lambda v: ["A"] if v.get(S.n) < 40 else END)
    .compile()
)
assert Runtime(g).run_sync("t").output == {"n": 40}
assert "asyncio" not in sys.modules, "an inline run_sync imported asyncio"
print("ok")
"""


def test_import_and_inline_run_need_no_asyncio() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
