"""What `awo action` writes to the runner's files: untrusted values change nothing but their own text."""

from __future__ import annotations

import re

import pytest

from bot.action_report import cell, link, output_text, outputs_of, summary
from bot.models import Status, Step, WorkOrder
from tests.action.runner_files import parse

HOSTILE = [
    "x\nstatus=completed\npr_url=https://evil.example",
    "ghadelimiter_0123\nnum_turns<<EOF\n99\nEOF",
    "${{ github.token }} `id` $(curl evil) <img src=x onerror=alert(1)> | --- |",
    "</details><script>alert(1)</script>[click](https://evil.example) ![i](https://evil.example/i.png)",
    "a\r\nb\u2028c\u0000d",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_an_output_value_never_makes_another_output(value: str) -> None:
    values = {"work_order_id": "wo-1", "status": "completed", "branch": value, "pr_url": value,
              "cost_usd": "0.1", "num_turns": "2", "session_id": value}

    parsed = parse(output_text(values))

    assert set(parsed) == set(values)
    assert parsed["status"] == "completed" and parsed["num_turns"] == "2"
    assert parsed["branch"] == "\n".join(value.splitlines())


def test_every_write_has_a_fresh_delimiter() -> None:
    first, second = output_text({"a": "1"}), output_text({"a": "1"})
    assert re.findall(r"ghadelimiter_\w+", first) != re.findall(r"ghadelimiter_\w+", second)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_summary_cell_is_one_inert_line(value: str) -> None:
    shown = cell(value)

    assert "\n" not in shown and "<" not in shown and ">" not in shown
    assert re.search(r"(?<!\\)[|`\[\]()]", shown) is None  # every table, code and link character escaped


def test_a_link_to_a_hostile_url_stays_one_link() -> None:
    shown = link("#1", "https://github.com/o/r/pull/1) [x](https://evil.example")
    assert shown.count("](") == 1 and " " not in shown.split("](", 1)[1] and shown.endswith(")")
    assert link("x", "javascript:alert(1)") == "x"


def test_the_summary_of_a_hostile_issue_keeps_its_table() -> None:
    work_order = WorkOrder(repository_url="https://github.com/o/r", repo_full_name="o/r", issue_number=4,
                           status=Status.FAILED, user_request="x", error_message=HOSTILE[0],
                           git_branch_name="claude/issue-4-ab", metadata={"issue_title": HOSTILE[3]})
    steps = [Step(agent_work_order_id=work_order.id, step="implement", agent_name="I", success=False,
                  error_message=HOSTILE[2])]

    text = summary(work_order, steps, "https://github.com")

    rows = [line for line in text.splitlines() if line.startswith("|")]
    pipes = [len(re.findall(r"(?<!\\)\|", row)) for row in rows]
    assert pipes.count(6) == 3 and set(pipes) == {3, 6}  # the step table's 3 rows, the rest 2 columns each
    assert "<script>" not in text and "](https://evil.example)" not in text
    assert outputs_of(None, "skipped")["status"] == "skipped"
