"""Task ids: the packed layout the runtime uses gives the documented SHA-256
(``docs/concepts/determinism.md``) for any node id, step, ordinal and fingerprint."""

from __future__ import annotations

import hashlib
import importlib.util
import struct
import sys
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_core import ids
from hive_core.errors import IndexOutOfRangeError
from hive_core.ids import task_id

_U32 = struct.Struct(">I")


def _spec(run: bytes, step: int, node: str, ordinal: int, fp: bytes) -> str:
    """The layout as written down, concatenated by hand."""
    return hashlib.sha256(
        run
        + _U32.pack(step)
        + b"\x00"
        + node.encode()
        + b"\x00"
        + _U32.pack(ordinal)
        + fp
    ).hexdigest()


_node = st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=40)


@given(
    run=st.uuids(),
    step=st.integers(0, 2**32 - 1),
    node=_node,
    ordinal=st.integers(0, 2**32 - 1),
    fp=st.binary(min_size=32, max_size=32) | st.binary(max_size=40),
)
def test_task_id_is_the_documented_sha256(
    run: uuid.UUID, step: int, node: str, ordinal: int, fp: bytes
) -> None:
    want = _spec(run.bytes, step, node, ordinal, fp)
    assert task_id(run, step, node, ordinal, fp) == want
    assert task_id(run.bytes, step, node, ordinal, fp) == want  # twice: kept layout


@pytest.mark.parametrize(
    ("step", "ordinal"), [(-1, 0), (2**32, 0), (0, -1), (0, 2**32)]
)
def test_task_id_refuses_out_of_range_indices(step: int, ordinal: int) -> None:
    with pytest.raises(IndexOutOfRangeError):
        task_id(uuid.UUID(int=1), step, "A", ordinal, b"\x00" * 32)


@given(st.binary(max_size=300))
def test_the_fast_sha256_is_hashlibs(data: bytes) -> None:
    """Ids use the interpreter's builtin SHA-256 when it has one
    (``hive_core.ids.sha256``); every digest equals ``hashlib``'s."""
    assert ids.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    h = ids.sha256(data[:7])
    h.update(data[7:])
    assert h.digest() == hashlib.sha256(data).digest()


def test_without_a_builtin_sha256_hashlibs_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if importlib.util.find_spec("_sha2") or importlib.util.find_spec("_sha256"):
        assert ids.sha256 is not hashlib.sha256  # the builtin one is taken
    monkeypatch.setitem(sys.modules, "_sha2", None)  # `import` raises ImportError
    monkeypatch.setitem(sys.modules, "_sha256", None)
    assert ids._builtin_sha256() is hashlib.sha256


def test_task_and_checkpoint_ids_are_hashed_with_ids_sha256(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hot-path ids go through ``ids.sha256`` (and give hashlib's digests)."""
    calls: list[bytes] = []
    fast = ids.sha256

    def counted(data: bytes) -> Any:
        calls.append(data)
        return fast(data)

    monkeypatch.setattr(ids, "sha256", counted)
    run = uuid.UUID(int=7)
    tid = task_id(run, 3, "node", 1, b"\x00" * 32)
    assert tid == _spec(run.bytes, 3, "node", 1, b"\x00" * 32)
    cid = ids.checkpoint_id(run, 4)
    assert cid == hashlib.sha256(b"HCP1" + run.bytes + _U32.pack(4)).hexdigest()
    assert len(calls) == 2
