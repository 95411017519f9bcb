"""A saved cassette is a file users commit: its mode follows the umask, like any
other new file, instead of ``mkstemp``'s private 0600."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_core.models import Cassette, ChatMessage, ChatRequest, ScriptedModelClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")

REQUEST = ChatRequest(model="m", messages=(ChatMessage.user("u", "hi"),))


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def record(path: Path) -> None:
    with Cassette(path, mode="record") as tape:
        asyncio.run(tape.client(ScriptedModelClient(["hello"])).complete(REQUEST))


@pytest.mark.parametrize(
    ("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)]
)
def test_the_umask_decides_the_mode(
    umask: None, tmp_path: Path, mask: int, mode: int
) -> None:
    os.umask(mask)
    path = tmp_path / "tapes" / "t.json"
    record(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert Cassette(path).data.model_calls[0].response is not None


def test_re_recording_replaces_the_file_and_leaves_no_temporary(
    umask: None, tmp_path: Path
) -> None:
    path = tmp_path / "t.json"
    path.write_text("old")
    path.chmod(0o600)
    record(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
