"""The one way to run a subprocess: argv list, timeout, and the whole process group killed at the limit."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LineHandler = Callable[[str], Awaitable[bool | None]]  # True: that line was the last one needed
STREAM_LIMIT = 64 * 1024 * 1024  # one stream-json line can carry a whole file


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


async def _spawn(
    argv: Sequence[str], cwd: Path | str | None, env: Mapping[str, str] | None, stdin: bool
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a kill reaches its children too
        limit=STREAM_LIMIT,
    )


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process and everything it started (children left behind after it exited too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


async def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    stdin: str | None = None,
) -> Completed:
    """Run to completion and capture both streams; killed with its group after `timeout` seconds."""
    proc = await _spawn(argv, cwd, env, stdin is not None)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
    except TimeoutError:
        kill_group(proc)
        out, err = await proc.communicate()
        return Completed(-9, out.decode(errors="replace"), err.decode(errors="replace"), timed_out=True)
    finally:
        kill_group(proc)
    return Completed(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


async def stream(
    argv: Sequence[str],
    *,
    on_line: LineHandler,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    stdin: str | None = None,
) -> Completed:
    """Run and hand each stdout line to `on_line` as it arrives; stderr is kept (its tail) for errors.

    When `on_line` says a line was the last one needed, the process group is killed then and there instead of
    waiting for the program to wind down (the CLI spends 50-150 ms exiting after its result line)."""
    proc = await _spawn(argv, cwd, env, stdin is not None)
    stderr_task = asyncio.create_task(proc.stderr.read())  # type: ignore[union-attr]
    timed_out = False
    try:
        await asyncio.wait_for(_pump(proc, stdin, on_line), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        kill_group(proc)  # a no-op if it already exited; else (timeout, error) it and its children go
        returncode = await proc.wait()
        err = (await stderr_task).decode(errors="replace")
    return Completed(-9 if timed_out else returncode, "", err[-4000:], timed_out=timed_out)


async def _pump(proc: asyncio.subprocess.Process, stdin: str | None, on_line: LineHandler) -> None:
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin.encode())
        await proc.stdin.drain()
        proc.stdin.close()
    assert proc.stdout is not None
    async for raw in proc.stdout:
        line = raw.decode(errors="replace").strip()
        if line and await on_line(line):
            return  # the caller kills the group
    await proc.wait()
