"""`awo run`'s progress display: one updating line for the tool in use on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from bot.models import LogEntry
from bot.progress import CLEAR, ProgressDisplay, log_line


def entry(kind: str, message: str = "", step: str | None = "implement", level: str = "info") -> LogEntry:
    return LogEntry(agent_work_order_id="wo-1", kind=kind, step=step, message=message, level=level)


SESSION = [entry("status", "running", step=None), entry("step_started", "implement started"),
           entry("tool_use", "Read README.md"), entry("tool_use", "Write hello.txt"),
           entry("step_finished", "implement finished in 3.0 s"), entry("step_started", "commit started",
                                                                        step="commit")]


def test_plain_output_is_one_line_per_step_start_and_tool_use() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, tty=False)
    for e in SESSION:
        display.show(e)
    assert out.getvalue().splitlines() == [
        "▶ implement started", "  implement · Read README.md", "  implement · Write hello.txt", "▶ commit started"]
    assert "\x1b" not in out.getvalue()


def test_a_terminal_rewrites_one_line_for_the_tool_in_use_and_clears_it_at_the_steps_end() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True)
    for e in SESSION:
        display.show(e)
    assert out.getvalue() == (
        "▶ implement started\n" + CLEAR + "  implement · Read README.md" + CLEAR + "  implement · Write hello.txt"
        + CLEAR + "▶ commit started\n")


def test_an_error_is_its_own_line_and_a_long_tool_use_fits_the_terminal() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, tty=True)
    display.show(entry("tool_use", "Bash " + "x" * 300))
    display.show(entry("step_finished", "implement failed", level="error"))
    display.show(entry("error", "the store is away", level="error"))
    assert len(out.getvalue().split(CLEAR)[1]) == 100
    assert out.getvalue().endswith(CLEAR + "! the store is away\n")


def test_a_log_line_has_the_time_the_step_the_kind_and_the_message() -> None:
    line = log_line(entry("tool_use", "Write hello.txt"))
    assert line.split()[1:] == ["implement", "tool_use", "Write", "hello.txt"]


def test_a_tool_use_carrying_terminal_escapes_is_stored_and_printed_without_them() -> None:
    """The model chooses a tool's input (a file name, a command): it must not retitle or redraw the operator's
    terminal through `awo logs` or `awo run`."""
    from bot.worklog import one_line

    hostile = "Bash echo \x1b]0;pwned\x07 \x1b[2J\x1b[31mred\u202e gnp.exe"
    stored = one_line(hostile, ())
    assert not any(c in stored for c in "\x1b\x07\u202e"), stored
    assert "pwned" in stored and "red" in stored
    old_row = entry("tool_use", hostile)  # a row written before the log was cleaned, or by another writer
    assert not any(c in log_line(old_row) for c in "\x1b\x07\u202e")
