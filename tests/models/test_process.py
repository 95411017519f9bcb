"""``run_command`` and ``command_tool`` with real processes: exit codes as data,
bounded output, the timeout and cancellation ending the whole process group, typed
start errors, the sync twin, and a command tool inside a tool-calling agent.

Ordering never rests on sleeps: a child reports its pids through a FIFO the test
reads on the event loop, and a process's end is observed through a pidfd. The
children sleep only to stand for long work that must be killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import select
import signal
import stat
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_core.errors import DefinitionError, HiveError
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CommandError,
    CommandInvalidError,
    CommandNotFoundError,
    CommandResult,
    CommandStartError,
    ModelError,
    ScriptedModelClient,
    ToolCall,
    ToolRegistry,
    command_tool,
    run_command,
    run_command_sync,
)
from hive_dsl import AgentState, tool_calling_agent

pytestmark = pytest.mark.skipif(
    not hasattr(os, "pidfd_open"), reason="needs Linux pidfds to watch processes end"
)

PY = sys.executable
# the shell writes "<its pid> <the background sleep's pid>" to the FIFO in $1
SPAWNS_GRANDCHILD = 'sleep 60 & echo "$$ $!" > "$1"; wait'


def run(argv: list[str], **options: Any) -> CommandResult:
    options.setdefault("timeout", 30)
    return asyncio.run(run_command(argv, **options))


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pids"
    os.mkfifo(path)
    return path


async def read_pids(path: Path, timeout: float = 20) -> list[int]:
    """The pids a child wrote as one line to the FIFO, read without blocking the
    loop (opened read-write so the open never waits for the writer)."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    line: asyncio.Future[bytes] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        buffer.extend(os.read(fd, 4096))
        if b"\n" in buffer and not line.done():
            line.set_result(bytes(buffer))

    loop.add_reader(fd, readable)
    try:
        return [int(p) for p in (await asyncio.wait_for(line, timeout)).split()]
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class Watched:
    """Processes watched through pidfds opened while they are alive (so a reused
    pid cannot fool the check)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.fds = [os.pidfd_open(pid) for pid in pids]

    def alive(self) -> list[int]:
        ready, _, _ = select.select(self.fds, [], [], 0)
        return [p for p, fd in zip(self.pids, self.fds, strict=True) if fd not in ready]

    def assert_all_ended(self, within: float = 10) -> None:
        """A pidfd turns readable when its process ends. ``os.kill(pid, 0)`` is not
        used: it still succeeds on a zombie nobody has reaped yet (here the
        container's init may never reap the orphaned grandchild)."""
        pending = list(self.fds)
        while pending:
            ready, _, _ = select.select(pending, [], [], within)
            assert ready, f"still running: {self.alive()}"
            pending = [fd for fd in pending if fd not in ready]
        for pid in self.pids:
            assert _state(pid) in {None, "Z"}

    def close(self) -> None:
        for pid, fd in zip(self.pids, self.fds, strict=True):
            if fd not in select.select([fd], [], [], 0)[0]:
                os.kill(pid, signal.SIGKILL)  # a failed test leaves nothing behind
            os.close(fd)


def _state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


@pytest.fixture
def watch() -> Iterator[list[Watched]]:
    made: list[Watched] = []
    yield made
    for w in made:
        w.close()


class TestEndingIsData:
    def test_exit_code_and_both_streams(self) -> None:
        """A non-zero exit is returned, not raised, with stdout and stderr apart."""
        result = run(["sh", "-c", "printf 'out\\n'; printf err >&2; exit 3"])
        assert (result.exit_code, result.signal, result.timed_out) == (3, None, False)
        assert (result.stdout, result.stderr) == ("out\n", "err")
        assert (result.stdout_bytes, result.stderr_bytes) == (4, 3)
        assert not result.ok
        assert result.argv == ("sh", "-c", "printf 'out\\n'; printf err >&2; exit 3")
        assert result.duration > 0

    def test_success(self) -> None:
        """Exit 0 within the timeout is ``ok``."""
        result = run(["true"])
        assert result.ok and result.exit_code == 0

    def test_killed_by_a_signal(self) -> None:
        """A command a signal ends has no exit code, only the signal."""
        result = run(["sh", "-c", "kill -KILL $$"])
        assert (result.exit_code, result.signal) == (None, signal.SIGKILL)
        assert not result.timed_out and not result.ok

    def test_stdin_is_written_then_closed(self) -> None:
        """``stdin`` bytes reach the command, then EOF; without it stdin is empty."""
        assert run(["cat"], stdin=b"hello\n").stdout == "hello\n"
        assert run(["cat"]).stdout == ""

    def test_cwd_and_env(self, tmp_path: Path) -> None:
        """``cwd`` sets the directory and ``env`` replaces the whole environment."""
        result = run(
            ["sh", "-c", 'pwd; echo "$ONLY-$HOME"'],
            cwd=tmp_path,
            env={"ONLY": "x", "PATH": os.environ["PATH"]},
        )
        assert result.stdout == f"{tmp_path.resolve()}\nx-\n"

    def test_undecodable_bytes_are_replaced(self) -> None:
        """Output is text: bytes that are not UTF-8 become U+FFFD."""
        result = run([PY, "-c", "import sys; sys.stdout.buffer.write(b'a\\xffb')"])
        assert result.stdout == "a\ufffdb"


class TestBoundedOutput:
    def test_fifty_megabytes_keep_head_and_tail_in_bounded_memory(self) -> None:
        """A child writing 50 MB: the first and last halves of the limit are kept,
        every byte is counted, and Python's allocations stay far below the output."""
        script = (
            "import sys\n"
            "out = sys.stdout.buffer\n"
            "out.write(b'<start>')\n"
            "for _ in range(50): out.write(b'x' * (1 << 20))\n"
            "out.write(b'<end>')\n"
        )
        tracemalloc.start()
        try:
            result = run([PY, "-c", script], max_output_bytes=64 * 1024)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        total = 50 * (1 << 20) + len("<start><end>")
        assert result.ok
        assert result.stdout_bytes == total and result.stdout_truncated
        head, marker, tail = result.stdout.split("\n")
        assert head.startswith("<start>") and len(head) == 32 * 1024
        assert tail.endswith("<end>") and len(tail) == 32 * 1024
        assert marker == f"[... {total - 64 * 1024} bytes omitted ...]"
        assert not result.stderr_truncated and result.stderr == ""
        assert peak < 4 * (1 << 20), f"peak {peak} bytes for a 64 KiB limit"

    def test_output_at_the_limit_is_whole(self) -> None:
        """Exactly ``max_output_bytes`` is kept whole, one byte more is cut."""
        at = run([PY, "-c", "print('y' * 9, end='')"], max_output_bytes=9)
        assert (at.stdout, at.stdout_truncated) == ("y" * 9, False)
        over = run([PY, "-c", "print('abcdefghij', end='')"], max_output_bytes=9)
        assert over.stdout == "abcde\n[... 1 bytes omitted ...]\nghij"
        assert over.stdout_truncated and over.stdout_bytes == 10

    def test_a_cut_never_splits_a_character(self) -> None:
        """Cuts inside a UTF-8 character drop its pieces instead of showing
        replacement characters."""
        result = run([PY, "-c", "print('é' * 1000, end='')"], max_output_bytes=102)
        head, _, tail = result.stdout.split("\n")  # 51 bytes each, 2 bytes a char
        assert head == "é" * 25 and tail == "é" * 25

    def test_zero_keeps_nothing_but_counts(self) -> None:
        """``max_output_bytes=0`` captures no text but still counts the bytes."""
        result = run(["sh", "-c", "echo 12345 >&2"], max_output_bytes=0)
        assert result.stderr == "\n[... 6 bytes omitted ...]\n"
        assert (result.stderr_bytes, result.stderr_truncated) == (6, True)


class TestTimeoutAndCancellation:
    def test_timeout_terminates_the_group_grandchild_included(
        self, fifo: Path, watch: list[Watched]
    ) -> None:
        """On the timeout the whole group gets SIGTERM: the shell and the sleep it
        started are both gone; the result says so, it does not raise."""

        async def go() -> CommandResult:
            task = asyncio.create_task(
                run_command(["sh", "-c", SPAWNS_GRANDCHILD, "sh", str(fifo)], timeout=2)
            )
            watch.append(Watched(await read_pids(fifo)))
            return await task

        result = asyncio.run(go())
        assert result.timed_out and not result.ok
        assert (result.exit_code, result.signal) == (None, signal.SIGTERM)
        assert result.duration >= 2
        watch[0].assert_all_ended()

    def test_sigkill_after_the_grace_when_sigterm_is_ignored(
        self, fifo: Path, watch: list[Watched]
    ) -> None:
        """A group that ignores SIGTERM gets SIGKILL ``kill_grace`` seconds later."""
        script = "trap '' TERM; " + SPAWNS_GRANDCHILD  # the sleep inherits the trap

        async def go() -> CommandResult:
            task = asyncio.create_task(
                run_command(
                    ["sh", "-c", script, "sh", str(fifo)], timeout=1.5, kill_grace=0.5
                )
            )
            watch.append(Watched(await read_pids(fifo)))
            return await task

        result = asyncio.run(go())
        assert result.timed_out and result.signal == signal.SIGKILL
        assert result.duration >= 2
        watch[0].assert_all_ended()

    def test_what_the_command_leaves_running_ends_with_it(
        self, fifo: Path, watch: list[Watched]
    ) -> None:
        """A background process still holding stdout does not keep the call
        waiting until the timeout: it is killed when the command exits."""
        go_on = fifo.with_name("go")
        os.mkfifo(go_on)
        # report, then wait for the test to watch both pids before exiting
        script = 'sleep 60 & echo "$$ $!" > "$1"; read x < "$2"; echo done'
        argv = ["sh", "-c", script, "sh", str(fifo), str(go_on)]

        async def go() -> CommandResult:
            task = asyncio.create_task(run_command(argv, timeout=60))
            watch.append(Watched(await read_pids(fifo)))
            writer = os.open(go_on, os.O_RDWR | os.O_NONBLOCK)
            try:
                os.write(writer, b"go\n")
                return await task
            finally:
                os.close(writer)

        result = asyncio.run(go())
        assert (result.exit_code, result.timed_out, result.stdout) == (
            0,
            False,
            "done\n",
        )
        assert result.duration < 30
        watch[0].assert_all_ended()

    def test_cancellation_kills_the_group_and_propagates(
        self, fifo: Path, watch: list[Watched]
    ) -> None:
        """Cancelling the awaiting task (a cancelled run) kills the shell and its
        child at once and re-raises ``CancelledError``."""

        async def go() -> None:
            task = asyncio.create_task(
                run_command(
                    ["sh", "-c", SPAWNS_GRANDCHILD, "sh", str(fifo)], timeout=None
                )
            )
            watched = Watched(await read_pids(fifo))
            watch.append(watched)
            assert watched.alive() == watched.pids
            loop = asyncio.get_running_loop()
            cancelled_at = loop.time()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # at once, not when the sleep ends 60 s later (a generous bound for load)
            assert loop.time() - cancelled_at < 5

        asyncio.run(go())
        watch[0].assert_all_ended()

    def test_cancellation_while_starting_still_kills_the_group(
        self, fifo: Path, watch: list[Watched], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A cancellation that lands while the command is being started (asyncio
        would kill only the leader, then wait on pipes the grandchild holds) waits
        for the start and ends the whole group. The start is held open on an event
        so the cancellation lands there for certain."""
        from hive_core.models import _process

        real_spawn = _process._spawn
        release = asyncio.Event()

        async def held_spawn(*args: Any) -> Any:
            transport = await real_spawn(*args)
            await release.wait()
            return transport

        monkeypatch.setattr(_process, "_spawn", held_spawn)

        async def go() -> None:
            task = asyncio.create_task(
                run_command(
                    ["sh", "-c", SPAWNS_GRANDCHILD, "sh", str(fifo)], timeout=None
                )
            )
            watch.append(Watched(await read_pids(fifo)))
            task.cancel()  # delivered at the start's await, whatever runs first
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

        asyncio.run(go())
        watch[0].assert_all_ended()


class TestErrors:
    def test_missing_executable(self) -> None:
        """A program that does not exist is a typed error naming it."""
        with pytest.raises(CommandNotFoundError) as info:
            run(["hive-no-such-program", "--flag"])
        err = info.value
        assert isinstance(err, CommandStartError | CommandError | ModelError)
        assert isinstance(err, LookupError)
        assert isinstance(err, HiveError)
        assert err.code == "command-not-found"
        assert err.argv == ("hive-no-such-program", "--flag")
        assert "`hive-no-such-program` not found on PATH" in str(err)
        copy = pickle.loads(pickle.dumps(err))
        assert (type(copy), copy.argv, str(copy)) == (type(err), err.argv, str(err))

    def test_missing_path(self, tmp_path: Path) -> None:
        """A path that does not exist says so (no PATH search happened)."""
        with pytest.raises(CommandNotFoundError, match="no such file"):
            run([str(tmp_path / "missing")])

    def test_not_executable(self, tmp_path: Path) -> None:
        """A file without the execute bit cannot start: permission denied."""
        script = tmp_path / "script.sh"
        script.write_text("#!/bin/sh\necho hi\n")
        script.chmod(stat.S_IRUSR | stat.S_IWUSR)
        with pytest.raises(CommandStartError) as info:
            run([str(script)])
        assert type(info.value) is CommandStartError
        assert info.value.code == "command-start-failed"
        assert "Permission denied" in info.value.reason

    def test_missing_working_directory(self, tmp_path: Path) -> None:
        """A ``cwd`` that does not exist is named as the culprit, not the program."""
        with pytest.raises(CommandStartError) as info:
            run(["true"], cwd=tmp_path / "gone")
        assert type(info.value) is CommandStartError
        assert f"working directory `{tmp_path / 'gone'}`" in info.value.reason

    @pytest.mark.parametrize(
        ("argv", "what"),
        [
            ("ls -l", "argv"),
            ([], "argv"),
            (["ls", Path("x")], "argv[1]"),
            (["ls", "a\0b"], "argv[1]"),
            ({"ls"}, "argv"),
        ],
    )
    def test_argv_must_be_a_sequence_of_str(self, argv: Any, what: str) -> None:
        """No shell, no guessing: argv is a non-empty sequence of ``str``."""
        with pytest.raises(CommandInvalidError) as info:
            run(argv)
        assert info.value.what == what and info.value.code == "command-invalid"

    @pytest.mark.parametrize(
        ("options", "what"),
        [
            ({"timeout": 0}, "timeout"),
            ({"timeout": float("inf")}, "timeout"),
            ({"max_output_bytes": -1}, "max_output_bytes"),
            ({"kill_grace": 0}, "kill_grace"),
            ({"stdin": "text"}, "stdin"),
            ({"env": {"A=B": "c"}}, "env['A=B']"),
        ],
    )
    def test_options_are_checked_before_starting(
        self, options: dict[str, Any], what: str
    ) -> None:
        """Out-of-range options fail before any process starts, naming the option."""
        with pytest.raises(CommandInvalidError) as info:
            run(["true"], **options)
        assert info.value.what == what


class TestSync:
    def test_sync_twin(self) -> None:
        """``run_command_sync`` runs the same command from plain code."""
        result = run_command_sync(["sh", "-c", "echo hi; exit 1"], timeout=30)
        assert (result.exit_code, result.stdout) == (1, "hi\n")

    def test_sync_twin_refuses_a_running_loop(self) -> None:
        """Inside an event loop it points at the async function instead."""

        async def go() -> None:
            run_command_sync(["true"], timeout=30)

        with pytest.raises(RuntimeError, match=r"await run_command\(\.\.\.\)"):
            asyncio.run(go())


def failing_suite() -> list[str]:
    return [PY, "-c", "print('FAILED test_x.py::test_one'); raise SystemExit(1)"]


class TestCommandTool:
    def test_fixed_command_takes_no_arguments(self) -> None:
        """A fixed argv makes a tool without parameters that reports as JSON."""
        registry = ToolRegistry(
            [command_tool("run_suite", failing_suite(), timeout=30)]
        )
        (definition,) = registry.definitions()
        assert definition.name == "run_suite"
        assert definition.description.startswith(f"Run `{PY} -c ")
        assert json.loads(definition.parameters_json_schema)["properties"] == {}
        reply = asyncio.run(
            registry.invoke(ToolCall(id="c1", name="run_suite", arguments_json="{}"))
        )
        assert json.loads(reply.content) == {
            "argv": failing_suite(),
            "exit_code": 1,
            "signal": None,
            "timed_out": False,
            "stdout": "FAILED test_x.py::test_one\n",
            "stderr": "",
            "stdout_bytes": 27,
            "stderr_bytes": 0,
            "stdout_truncated": False,
            "stderr_truncated": False,
        }

    def test_builder_function_gives_the_parameters(self) -> None:
        """A function building argv lends the tool its parameters and docstring."""

        def grep(pattern: str, count: bool = False) -> list[str]:
            """Search the input for a pattern."""
            return [
                "sh",
                "-c",
                f"printf 'a\\nab\\n' | grep {'-c ' * count}-- \"$0\"",
                pattern,
            ]

        registry = ToolRegistry([command_tool("grep", grep, timeout=30)])
        (definition,) = registry.definitions()
        assert definition.description == "Search the input for a pattern."
        schema = json.loads(definition.parameters_json_schema)
        assert schema["required"] == ["pattern"]
        reply = asyncio.run(
            registry.invoke(
                ToolCall(
                    id="c1",
                    name="grep",
                    arguments_json='{"pattern": "b", "count": true}',
                )
            )
        )
        assert json.loads(reply.content)["stdout"] == "1\n"

    def test_timeout_is_reported_to_the_model(self) -> None:
        """A tool whose command times out reports it (with the signal's name)."""
        tool = command_tool("hang", ["sleep", "60"], timeout=0.5, kill_grace=0.5)
        reply = asyncio.run(
            ToolRegistry([tool]).invoke(
                ToolCall(id="c", name="hang", arguments_json="{}")
            )
        )
        report = json.loads(reply.content)
        assert (report["timed_out"], report["signal"]) == (True, "SIGTERM")

    def test_definition_mistakes_fail_at_once(self) -> None:
        """A bad tool name, a bad fixed argv or option, or an async builder fails
        when the tool is made."""
        with pytest.raises(DefinitionError):
            command_tool("has space", ["true"], timeout=1)
        with pytest.raises(CommandInvalidError):
            command_tool("t", "pytest -q", timeout=1)

        async def later() -> list[str]:
            return ["true"]

        with pytest.raises(DefinitionError, match="is async"):
            command_tool("t", later, timeout=1)  # type: ignore[arg-type]
        with pytest.raises(CommandInvalidError):
            command_tool("t", ["true"], timeout=-1)

    def test_agent_runs_the_suite_and_reads_the_failure(
        self, make_runtime: Any
    ) -> None:
        """Inside ``tool_calling_agent`` the model calls the command tool, reads its
        exit code and output in the tool message, and answers from it."""

        def answer(request: ChatRequest) -> ChatResponse:
            report = json.loads(request.messages[-1].content)
            text = f"exit {report['exit_code']}: {report['stdout'].strip()}"
            return ChatResponse(
                message=ChatMessage.assistant("a2", text), finish_reason="stop"
            )

        client = ScriptedModelClient(
            [
                ChatMessage.assistant(
                    "a1",
                    "",
                    (ToolCall(id="c1", name="run_tests", arguments_json="{}"),),
                ),
                answer,
            ]
        )
        tools = ToolRegistry([command_tool("run_tests", failing_suite(), timeout=30)])
        runtime = make_runtime(tool_calling_agent(model="m", tools=tools), model=client)
        outcome = runtime.run_sync("t", "Run the tests.")
        assert outcome.status == "finished"
        messages = outcome.get(AgentState.messages)
        assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
        assert messages[2].tool_call_id == "c1"
        assert json.loads(messages[2].content)["exit_code"] == 1
        assert outcome.get(AgentState.final_answer) == (
            "exit 1: FAILED test_x.py::test_one"
        )
