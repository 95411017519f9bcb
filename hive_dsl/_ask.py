"""``interrupt(ctx, payload, expect=T)``: the inline interrupt with a typed answer.

```python
@wf.node(start=True)
def review(ctx: NodeInput) -> Effects:
    verdict = interrupt(ctx, {"draft": ctx.store.get(Post.draft)}, expect=Verdict)
    return Effects(Write(Post.approved, verdict.approved))
```

The first run pauses at the call; the resumed run executes the node again and the
call returns the answer as a ``T``. It is ``NodeInput.interrupt`` plus a conversion,
so everything in ``docs/concepts/interrupts.md#inline-interrupts`` holds.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec

from hive_core import NodeInput, ResumePayloadError

__all__ = ["interrupt"]

T = TypeVar("T")


@overload
def interrupt(ctx: NodeInput, payload: object) -> Any: ...


@overload
def interrupt(ctx: NodeInput, payload: object, *, expect: type[T]) -> T: ...


def interrupt(ctx: NodeInput, payload: object, *, expect: Any = None) -> Any:
    """Pause with ``payload``; on resume return the answer (as ``expect`` if given).

    Raises:
        ResumePayloadError: the answer does not convert to ``expect`` (declare
            ``resume_payload = T`` on the schema to refuse it before anything runs).
        InterruptRepeatedError: a second call in the same node run.
    """
    answer = ctx.interrupt(payload)
    if expect is None or (isinstance(expect, type) and isinstance(answer, expect)):
        return answer
    try:
        return msgspec.convert(answer, expect, from_attributes=True)
    except (msgspec.ValidationError, TypeError) as exc:
        name = getattr(expect, "__name__", repr(expect))
        raise ResumePayloadError(expected=name, reason=str(exc)) from exc
