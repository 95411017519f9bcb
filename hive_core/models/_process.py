"""Running external commands from nodes and agent tools without blocking the loop.

Agent workers run test suites and CLIs. :func:`run_command` starts one (no shell:
``argv`` is a sequence of ``str``) in its own session, hence its own process group,
and reads stdout and stderr as they come through an asyncio subprocess protocol,
keeping only the first and the last ``max_output_bytes / 2`` of each, so a command
that writes gigabytes costs a bounded amount of memory. How it ends is data in a
:class:`CommandResult` (exit code, signal, ``timed_out``), never an exception; only a
command that cannot be started raises (``CommandStartError``).

Signals go to the whole group, so nothing the command started outlives it: on the
timeout ``SIGTERM``, then ``SIGKILL`` after ``kill_grace`` seconds; when the command
exits, ``SIGKILL`` for anything it left running; when the awaiting task is cancelled
(the run is cancelled), ``SIGKILL`` at once and the ``CancelledError`` goes on.
:func:`command_tool` wraps a command as a tool function for a ``ToolRegistry``.
See ``docs/agents.md`` (Running external commands).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import inspect
import math
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import msgspec

from .._bridge import run_sync
from ..errors import DefinitionError
from ._errors import CommandInvalidError, CommandNotFoundError, CommandStartError
from ._tools import build_tool

__all__ = [
    "CommandResult",
    "command_tool",
    "run_command",
    "run_command_sync",
]

DEFAULT_MAX_OUTPUT_BYTES = 1 << 20
"""Bytes kept of each of stdout and stderr by ``run_command``."""
TOOL_MAX_OUTPUT_BYTES = 16 * 1024
"""Bytes kept of each stream by ``command_tool``: what a model reads must be short."""
DEFAULT_KILL_GRACE = 2.0
"""Seconds between ``SIGTERM`` and ``SIGKILL`` on the timeout."""

_PathArg = str | os.PathLike[str]


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """How one command ended, and what it wrote (bounded).

    ``stdout``/``stderr`` are decoded as UTF-8 with ``errors="replace"``. When a
    stream wrote more than ``max_output_bytes``, its text is the first half of the
    limit, a line ``[... N bytes omitted ...]`` and the last half (a test suite's
    summary comes last), and ``*_truncated`` is set; ``*_bytes`` always count every
    byte written.
    """

    argv: tuple[str, ...]
    exit_code: int | None
    """The exit status; ``None`` when a signal ended the command."""
    signal: int | None
    """The number of the signal that ended it (``signal.SIGKILL``), else ``None``."""
    timed_out: bool
    """The timeout passed and the command's group was signalled."""
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    duration: float
    """Seconds from start until the command and its output were done (monotonic)."""

    @property
    def ok(self) -> bool:
        """Exited with status 0 within the timeout."""
        return self.exit_code == 0 and not self.timed_out


class _Capture:
    """One output stream, bounded: the first half of the limit and the last half."""

    __slots__ = ("_head", "_head_room", "_tail", "_tail_room", "total")

    def __init__(self, limit: int) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self._tail_room = limit // 2
        self._head_room = limit - self._tail_room
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        view = memoryview(data)
        room = self._head_room - len(self._head)
        if room > 0:
            self._head += view[:room]
            view = view[room:]
        if not view or not self._tail_room:
            return
        if len(view) >= self._tail_room:
            self._tail[:] = view[-self._tail_room :]
            return
        self._tail += view
        extra = len(self._tail) - self._tail_room
        if extra > 0:
            del self._tail[:extra]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    def text(self) -> str:
        if not self.truncated:  # head and tail are contiguous
            return bytes(self._head + self._tail).decode("utf-8", errors="replace")
        # a cut may split a UTF-8 character: drop its pieces at both edges
        head = codecs.getincrementaldecoder("utf-8")("replace").decode(self._head)
        skip = 0
        while skip < min(3, len(self._tail)) and self._tail[skip] & 0xC0 == 0x80:
            skip += 1
        tail = bytes(self._tail[skip:]).decode("utf-8", errors="replace")
        omitted = self.total - len(self._head) - len(self._tail)
        return f"{head}\n[... {omitted} bytes omitted ...]\n{tail}"


class _Protocol(asyncio.SubprocessProtocol):
    """Feeds the captures and turns the transport's callbacks into futures."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.out = _Capture(limit)
        self.err = _Capture(limit)
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: dict[int, asyncio.Future[None]] = {
            1: loop.create_future(),
            2: loop.create_future(),
        }

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        (self.out if fd == 1 else self.err).feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        done = self.closed.get(fd)  # fd 0 (stdin) closing early is not our business
        if done is not None and not done.done():
            done.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def _checked_argv(argv: object) -> tuple[str, ...]:
    if isinstance(argv, str | bytes):
        raise CommandInvalidError(
            "argv",
            reason=f"is one {type(argv).__name__}, not a sequence of str; split it "
            "yourself (['ls', '-l'], not 'ls -l'): there is no shell",
            argv=(str(argv),),
        )
    if not isinstance(argv, Sequence):
        raise CommandInvalidError(
            "argv", reason=f"is a {type(argv).__name__}, expected a sequence of str"
        )
    for index, arg in enumerate(argv):
        if not isinstance(arg, str):
            raise CommandInvalidError(
                f"argv[{index}]",
                reason=f"is a {type(arg).__name__}, expected str (use os.fspath for "
                "paths)",
                argv=tuple(map(str, argv)),
            )
        if "\0" in arg:
            raise CommandInvalidError(
                f"argv[{index}]", reason="contains a NUL character", argv=tuple(argv)
            )
    if not argv:
        raise CommandInvalidError("argv", reason="is empty; argv[0] is the program")
    return tuple(argv)


def _check_options(
    argv: tuple[str, ...],
    *,
    timeout: float | None,
    max_output_bytes: int,
    kill_grace: float,
    env: Mapping[str, str] | None,
    stdin: object = None,
) -> None:
    def bad(what: str, reason: str) -> CommandInvalidError:
        return CommandInvalidError(what, reason=reason, argv=argv)

    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise bad("timeout", f"is {timeout!r}; expected seconds > 0, or None")
    if isinstance(max_output_bytes, bool) or not isinstance(max_output_bytes, int):
        raise bad("max_output_bytes", f"is {max_output_bytes!r}; expected an int")
    if max_output_bytes < 0:
        raise bad("max_output_bytes", f"is {max_output_bytes}; expected >= 0")
    if not (math.isfinite(kill_grace) and kill_grace > 0):
        raise bad("kill_grace", f"is {kill_grace!r}; expected seconds > 0")
    if stdin is not None and not isinstance(stdin, bytes | bytearray | memoryview):
        raise bad("stdin", f"is a {type(stdin).__name__}; expected bytes")
    entries: Mapping[Any, object] = env or {}  # checked: callers are untyped too
    for key, value in entries.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise bad(f"env[{key!r}]", "is not a str to str entry")
        if not key or "=" in key or "\0" in key + value:
            raise bad(f"env[{key!r}]", "is not a valid environment variable")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal every process of the command's group (its pid is the group id)."""
    # ESRCH: the group is empty already; EPERM: only zombies are left (some systems)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _spawn(
    protocol: _Protocol,
    argv: tuple[str, ...],
    cwd: str | None,
    env: Mapping[str, str] | None,
    has_stdin: bool,
) -> asyncio.SubprocessTransport:
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *argv,
            stdin=subprocess.PIPE if has_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,  # its own process group: signals reach all of it
        )
    except OSError as exc:
        # subprocess names the working directory as the culprit when chdir failed
        if cwd is not None and exc.filename == cwd:
            raise CommandStartError(
                argv=argv,
                reason=f"working directory `{cwd}`: {exc.strerror or exc}",
                errno=exc.errno,
            ) from exc
        if isinstance(exc, FileNotFoundError):
            raise CommandNotFoundError(argv=argv, errno=exc.errno) from exc
        raise CommandStartError(
            argv=argv, reason=exc.strerror or str(exc), errno=exc.errno
        ) from exc
    return transport


def _feed(transport: asyncio.SubprocessTransport, data: bytes) -> None:
    """Write ``data`` to the command's stdin, then close it (EOF). A command that
    exits without reading it all is fine: the broken pipe is not an error."""
    pipe = transport.get_pipe_transport(0)
    if isinstance(pipe, asyncio.WriteTransport):
        pipe.write(data)
        pipe.close()  # after the buffer is flushed


async def _wait_exit(
    pgid: int, exited: asyncio.Future[None], timeout: float | None, kill_grace: float
) -> bool:
    """Wait for the command to exit; on the timeout, end its group. ``asyncio.wait``
    never cancels the future it waits on, so a cancellation leaves it usable."""
    if (await asyncio.wait({exited}, timeout=timeout))[0]:
        return False
    _signal_group(pgid, signal.SIGTERM)
    if not (await asyncio.wait({exited}, timeout=kill_grace))[0]:
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.wait({exited})
    return True


async def _end(
    transport: asyncio.SubprocessTransport, protocol: _Protocol, kill_grace: float
) -> None:
    """Kill the command's whole group and reap it (bounded), then close the pipes."""
    _signal_group(transport.get_pid(), signal.SIGKILL)
    if not protocol.exited.done():
        await asyncio.wait({protocol.exited}, timeout=kill_grace)
    transport.close()


async def _start(
    protocol: _Protocol,
    argv: tuple[str, ...],
    cwd: str | None,
    env: Mapping[str, str] | None,
    has_stdin: bool,
    kill_grace: float,
) -> asyncio.SubprocessTransport:
    """Start the command; a cancellation that arrives meanwhile waits for the start
    to finish and ends the whole group. (asyncio, cancelled there, kills only the
    leader and then waits for its pipes, which a grandchild may hold for ever.)"""
    starting = asyncio.ensure_future(_spawn(protocol, argv, cwd, env, has_stdin))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        try:
            transport = await starting
        except Exception:  # it did not start: the cancellation goes on
            pass
        else:
            await _end(transport, protocol, kill_grace)
        raise


async def run_command(
    argv: Sequence[str],
    *,
    cwd: _PathArg | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    kill_grace: float = DEFAULT_KILL_GRACE,
) -> CommandResult:
    """Run ``argv`` (no shell) to its end without blocking the event loop.

    Args:
        argv: The program and its arguments, each a ``str``.
        cwd: The working directory; ``None`` keeps this process's.
        env: The whole environment of the command; ``None`` inherits this one's.
        stdin: Bytes written to the command's stdin, then EOF; ``None`` connects
            stdin to ``/dev/null``.
        timeout: Seconds before the command's process group gets ``SIGTERM``
            (``SIGKILL`` ``kill_grace`` seconds later); required, ``None`` for none.
        max_output_bytes: Bytes kept of each of stdout and stderr: the first and
            the last half; ``0`` keeps none (bytes are still counted).
        kill_grace: Seconds between ``SIGTERM`` and ``SIGKILL``, and the most that
            is waited for output still in the pipes once the group is gone.

    Raises:
        CommandInvalidError: ``argv`` is not a sequence of ``str``, or an option is
            out of range.
        CommandNotFoundError: ``argv[0]`` does not exist.
        CommandStartError: the OS refused to start it (permission, ``cwd``, ...).
    """
    args = _checked_argv(argv)
    _check_options(
        args,
        timeout=timeout,
        max_output_bytes=max_output_bytes,
        kill_grace=kill_grace,
        env=env,
        stdin=stdin,
    )
    protocol = _Protocol(asyncio.get_running_loop(), max_output_bytes)
    started = time.monotonic()
    workdir = None if cwd is None else os.fspath(cwd)
    transport = await _start(
        protocol, args, workdir, env, stdin is not None, kill_grace
    )
    pgid = transport.get_pid()
    try:
        if stdin is not None:
            _feed(transport, bytes(stdin))
        timed_out = await _wait_exit(pgid, protocol.exited, timeout, kill_grace)
        _signal_group(pgid, signal.SIGKILL)  # what it left running ends with it
        await asyncio.wait(protocol.closed.values(), timeout=kill_grace)
    except BaseException:  # cancelled (or failed): leave no process behind
        await _end(transport, protocol, kill_grace)
        raise
    finally:
        returncode = transport.get_returncode()
        transport.close()
    return _result(args, returncode, protocol, timed_out, time.monotonic() - started)


def _result(
    argv: tuple[str, ...],
    returncode: int | None,
    protocol: _Protocol,
    timed_out: bool,
    duration: float,
) -> CommandResult:
    code = returncode if returncode is not None else -signal.SIGKILL
    return CommandResult(
        argv=argv,
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=timed_out,
        stdout=protocol.out.text(),
        stderr=protocol.err.text(),
        stdout_bytes=protocol.out.total,
        stderr_bytes=protocol.err.total,
        stdout_truncated=protocol.out.truncated,
        stderr_truncated=protocol.err.truncated,
        duration=duration,
    )


def run_command_sync(
    argv: Sequence[str],
    *,
    cwd: _PathArg | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    kill_grace: float = DEFAULT_KILL_GRACE,
) -> CommandResult:
    """Blocking :func:`run_command` for scripts; not callable inside an event loop
    (``RuntimeError``: await ``run_command`` there)."""
    return run_sync(
        run_command(
            argv,
            cwd=cwd,
            env=env,
            stdin=stdin,
            timeout=timeout,
            max_output_bytes=max_output_bytes,
            kill_grace=kill_grace,
        ),
        name="run_command_sync",
        instead="await run_command(...)",
    )


def _report(result: CommandResult) -> dict[str, object]:
    """What a model reads: everything but ``duration``, which would make tool
    messages (and so traces and cassettes) differ from run to run."""
    return {
        "argv": list(result.argv),
        "exit_code": result.exit_code,
        "signal": None if result.signal is None else signal.Signals(result.signal).name,
        "timed_out": result.timed_out,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "stdout_bytes": result.stdout_bytes,
        "stderr_bytes": result.stderr_bytes,
        "stdout_truncated": result.stdout_truncated,
        "stderr_truncated": result.stderr_truncated,
    }


ToolFunction = Callable[..., Awaitable[dict[str, object]]]


def command_tool(
    name: str,
    argv: Sequence[str] | Callable[..., Sequence[str]],
    *,
    description: str | None = None,
    timeout: float | None,
    cwd: _PathArg | None = None,
    env: Mapping[str, str] | None = None,
    max_output_bytes: int = TOOL_MAX_OUTPUT_BYTES,
    kill_grace: float = DEFAULT_KILL_GRACE,
) -> ToolFunction:
    """A tool function running a command; register it like any function
    (``ToolRegistry([command_tool(...)])``).

    ``argv`` is a fixed command (the tool takes no arguments) or a function building
    it: the tool then has that function's parameters, type hints and docstring (a
    ``ToolContext`` parameter is injected as for any tool). The tool returns the
    result as JSON (exit code, signal name, ``timed_out``, bounded stdout/stderr,
    byte counts and truncation flags), so the model reads failures; a non-zero exit
    is not an error. ``description`` defaults to the function's docstring, or to
    the command line for a fixed ``argv``.

    Raises:
        DefinitionError: ``name`` or the builder's parameters cannot be a tool, or
            the builder is async.
        CommandInvalidError: a fixed ``argv`` or an option is invalid.
    """
    run = functools.partial(
        run_command,
        timeout=timeout,
        cwd=cwd,
        env=env,
        max_output_bytes=max_output_bytes,
        kill_grace=kill_grace,
    )
    if inspect.iscoroutinefunction(argv):
        raise DefinitionError(
            f"The argv builder of tool `{name}` is async; it must be a plain function "
            "returning the argv list (the command itself runs asynchronously)",
            subject=name,
        )
    if callable(argv):
        build = argv

        async def tool(*args: Any, **kwargs: Any) -> dict[str, object]:
            return _report(await run(build(*args, **kwargs)))

        functools.update_wrapper(tool, build)  # its signature, hints and docstring
        doc = inspect.getdoc(build)
        checked: tuple[str, ...] = ()
    else:
        checked = _checked_argv(argv)

        async def tool() -> dict[str, object]:  # type: ignore[misc]
            return _report(await run(checked))

        doc = f"Run `{shlex.join(checked)}`; returns its exit code and output."
    _check_options(
        checked,
        timeout=timeout,
        max_output_bytes=max_output_bytes,
        kill_grace=kill_grace,
        env=env,
    )
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = description if description is not None else doc or ""
    build_tool(tool)  # a bad name or parameter fails here, not at the first call
    return tool
