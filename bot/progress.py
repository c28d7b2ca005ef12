"""How a work order's log looks in a terminal: `awo logs` lines, and `awo run`'s live progress display."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.models import LogEntry
from bot.sanitize import without_invisible
from bot.worklog import LogKind

CLEAR = "\r\x1b[K"  # back to the line's start and erase it: the updating line on a terminal
WIDTH = 100


def log_line(entry: LogEntry) -> str:
    """`12:00:01  implement  tool_use  Write hello.txt` (UTC), one line per entry."""
    # printed on a terminal: a row stored by an older version (or written past WorkLog) carries no escape sequence
    message = " ".join(without_invisible(entry.message).split())
    return f"{entry.at:%H:%M:%S}  {entry.step or '-':<12} {entry.kind:<13} {message}"


class ProgressDisplay:
    """`awo run`: each step as it starts, and the tool it is using now. On a terminal the tool use is one line
    rewritten in place; elsewhere (a pipe, CI) every entry is a plain line. The step's end is the console
    reporter's line (its duration and cost), printed right after."""

    def __init__(self, out: TextIO | None = None, tty: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self._updating = False

    def show(self, entry: LogEntry) -> None:
        if entry.kind == LogKind.TOOL_USE:
            self._tool(entry)
        elif entry.kind == LogKind.STEP_STARTED:
            self._line(f"▶ {entry.step} started")
        elif entry.kind == LogKind.STEP_FINISHED:
            self._end_updating()
        elif entry.kind == LogKind.ERROR or entry.level == "error":
            self._line(f"! {entry.message}")

    def _tool(self, entry: LogEntry) -> None:
        text = f"  {entry.step} · {entry.message}"
        if self.tty:
            self.out.write(CLEAR + text[:WIDTH])
            self._updating = True
            self.out.flush()
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        self._end_updating()
        print(text, file=self.out, flush=True)

    def _end_updating(self) -> None:
        if self._updating:
            self.out.write(CLEAR)
            self.out.flush()
            self._updating = False
