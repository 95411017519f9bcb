"""``ScriptedService``: a stand-in for a model, search or tool service whose answers
are given up front and whose calls are recorded (see ``docs/testing.md``, "Scripted
services")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, final

import attrs

from ._errors import UnexpectedCallError

__all__ = ["ScriptedCall", "ScriptedService"]


@final
@attrs.frozen
class ScriptedCall:
    """One recorded call of a ``ScriptedService``."""

    method: str
    """The method name, or ``""`` for a call of the service itself."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __str__(self) -> str:
        shown = [repr(a) for a in self.args]
        shown += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.method or 'service'}({', '.join(shown)})"


_RESERVED = frozenset({"assert_exhausted", "calls", "is_async", "remaining"})


class ScriptedService:
    """A stand-in for an external service: each call's result is given up front.

    ```python
    search = ScriptedService(search=["r1", RuntimeError("down")])
    await search.search("tides")  # -> "r1"
    await search.search("moon")  # raises RuntimeError("down")
    ```

    Positional responses answer calls of the service itself (``svc(...)``); each
    keyword scripts a method of that name. A response that is an exception (or an
    exception class) is raised instead of returned. Calls are recorded in
    ``calls``; one call more than scripted raises ``UnexpectedCallError`` naming the
    call. Methods and the service are ``async`` unless ``is_async=False``.
    """

    def __init__(
        self,
        responses: Iterable[object] | None = None,
        /,
        *,
        is_async: bool = True,
        **methods: Iterable[object],
    ) -> None:
        clash = sorted(
            name for name in methods if name in _RESERVED or name.startswith("_")
        )
        if clash:
            raise ValueError(
                f"ScriptedService cannot script {', '.join(clash)}: the name is "
                f"reserved; reserved names are {', '.join(sorted(_RESERVED))}"
            )
        self.is_async = is_async
        self.calls: list[ScriptedCall] = []
        """Every call, unexpected ones included, in call order."""
        self._scripts: dict[str, list[object]] = {
            name: list(found) for name, found in methods.items()
        }
        if responses is not None:
            self._scripts[""] = list(responses)
        self._used: dict[str, int] = dict.fromkeys(self._scripts, 0)
        self._methods: dict[str, Callable[..., Any]] = {
            name: self._method(name) for name in methods
        }

    def _method(self, name: str) -> Callable[..., Any]:
        if self.is_async:

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return self._answer(name, args, kwargs)

            call: Callable[..., Any] = call_async
        else:

            def call_sync(*args: Any, **kwargs: Any) -> Any:
                return self._answer(name, args, kwargs)

            call = call_sync
        call.__name__ = call.__qualname__ = name
        return call

    def _answer(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        made = ScriptedCall(method=name, args=args, kwargs=kwargs)
        self.calls.append(made)
        script = self._scripts.get(name, [])
        number = self._used.get(name, 0) + 1
        self._used[name] = number
        if number > len(script):
            raise UnexpectedCallError(
                method=name,
                call=str(made),
                number=number,
                overall=len(self.calls),
                scripted=len(script),
                earlier=[str(c) for c in self.calls[:-1] if c.method == name],
            )
        response = script[number - 1]
        if isinstance(response, BaseException):
            raise response
        if isinstance(response, type) and issubclass(response, BaseException):
            raise response()
        return response

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return self._call_async(args, kwargs)
        return self._answer("", args, kwargs)

    async def _call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._answer("", args, kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        methods = self.__dict__.get("_methods")
        if methods is not None and name in methods:
            return methods[name]  # type: ignore[no-any-return]
        scripted = ", ".join(sorted(methods or ())) or "none"
        raise AttributeError(
            f"ScriptedService has no script for `{name}` (scripted methods: "
            f"{scripted}); add {name}=[...] to the constructor"
        )

    @property
    def remaining(self) -> dict[str, int]:
        """Unused responses per method (``""`` for the service itself)."""
        return {
            name: len(script) - self._used[name]
            for name, script in self._scripts.items()
            if len(script) > self._used[name]
        }

    def assert_exhausted(self) -> None:
        """Fail if any scripted response was never used."""
        left = self.remaining
        if left:
            shown = ", ".join(f"{name or 'service'}: {n}" for name, n in left.items())
            raise AssertionError(f"ScriptedService: unused responses ({shown})")

    def __repr__(self) -> str:
        names = ", ".join(sorted(n or "<call>" for n in self._scripts))
        return f"<ScriptedService {names}, {len(self.calls)} calls>"
