"""What a type checker sees of ``channel()`` (checked by mypy, never run).

``channel`` takes a type *expression* (PEP 747 ``TypeForm``), not only a class, so
unions, optionals, ``Literal`` and ``Annotated`` keep their value type end to end:
declaring, reading and writing.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, assert_type

from hive_core import Channel, NodeInput, NodeOutput, Schema, Write, channel, reducers


class S(Schema):
    maybe = channel(int | None)
    old_style = channel(Optional[str])  # noqa: UP045 - the spelling under test
    mode = channel(Literal["fast", "slow"], initial="fast")
    tagged = channel(Annotated[int, "meters"])
    names = channel(list[str] | None)
    either = channel(int | str, initial=0)
    log = channel(list[str], reducer=reducers.append, update="multi")


assert_type(S.maybe, Channel[int | None])
assert_type(S.old_style, Channel[str | None])
assert_type(S.mode, Channel[Literal["fast", "slow"]])
assert_type(S.tagged, Channel[int])
assert_type(S.names, Channel[list[str] | None])
assert_type(S.either, Channel[int | str])
assert_type(channel(int | None, id="x"), Channel[int | None])
assert_type(channel(list[str]), Channel[list[str]])


def node(ctx: NodeInput) -> NodeOutput:
    assert_type(ctx.store.get(S.maybe), int | None)
    assert_type(ctx.store.get(S.names), list[str] | None)
    return NodeOutput(
        writes=[
            Write(S.maybe, None),
            Write(S.maybe, 3),
            Write(S.mode, "slow"),
            Write(S.either, "x"),
        ]
    )


# a reducer and an initial value are checked against the union too
channel(int | None, reducer=lambda old, new: new)
channel(int | None, initial=None)
