"""Spend limits: the price table, the running cost of a stream, the per-run cap that stops the CLI, daily caps."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.agent import AgentRequest, ClaudeCli, cli_argv
from bot.spend import (
    UNKNOWN_MODEL,
    Budget,
    RunningCost,
    cost_of,
    daily_refusal,
    midnight_utc,
    price_of,
    run_cap,
    stopped_at,
)


def assistant(message_id: str, usage: dict[str, int], model: str = "claude-sonnet-4-5") -> dict[str, object]:
    return {"type": "assistant", "message": {"id": message_id, "model": model, "usage": usage,
                                             "content": [{"type": "text", "text": "..."}]}}


@pytest.mark.parametrize(("model", "per_mtok"), [
    ("claude-sonnet-4-5-20250929", (3, 15, 3.75, 0.30)), ("sonnet", (3, 15, 3.75, 0.30)),
    ("claude-opus-4-1", (15, 75, 18.75, 1.50)), ("claude-opus-4-5", (5, 25, 6.25, 0.50)),
    ("claude-haiku-4-5", (1, 5, 1.25, 0.10)), ("claude-3-5-haiku-latest", (0.80, 4, 1, 0.08)),
])
def test_each_model_family_has_its_list_price(model: str, per_mtok: tuple[float, ...]) -> None:
    price = price_of(model)
    assert (price.input, price.output, price.cache_write, price.cache_read) == per_mtok


def test_an_unknown_model_is_priced_as_the_dearest() -> None:
    assert price_of("some-new-model") == UNKNOWN_MODEL
    assert UNKNOWN_MODEL.output >= max(price_of(m).output for m in ("opus", "sonnet", "haiku"))


def test_a_usage_costs_every_kind_of_token() -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 100_000, "cache_creation_input_tokens": 200_000,
             "cache_read_input_tokens": 1_000_000}
    assert cost_of("claude-sonnet-4-5", usage) == pytest.approx(3 + 1.5 + 0.75 + 0.30)
    assert cost_of("claude-sonnet-4-5", {"input_tokens": "many", "output_tokens": -5}) == 0


def test_the_running_cost_counts_each_message_once_with_its_latest_usage() -> None:
    running = RunningCost("claude-sonnet-4-5")
    running.absorb(assistant("msg_1", {"input_tokens": 100_000, "output_tokens": 1}))
    running.absorb(assistant("msg_1", {"input_tokens": 100_000, "output_tokens": 10_000}))  # its next block
    running.absorb(assistant("msg_2", {"input_tokens": 100_000, "output_tokens": 0}, model="claude-opus-4-1"))
    running.absorb({"type": "user", "message": {"usage": {"input_tokens": 10**9}}})
    running.absorb({"type": "result", "total_cost_usd": 99})
    assert running.total == pytest.approx(0.30 + 0.15 + 1.50)


def test_a_work_orders_own_cap_wins_over_the_setting() -> None:
    assert run_cap(5.0, {}) == 5.0
    assert run_cap(5.0, {"max_budget_usd": 0.5}) == 0.5
    assert run_cap(None, {"max_budget_usd": 2}) == 2.0
    assert run_cap(5.0, {"max_budget_usd": "lots"}) == 5.0 and run_cap(5.0, {"max_budget_usd": True}) == 5.0
    assert run_cap(None, {"max_budget_usd": -1}) is None


def test_the_cap_is_passed_to_the_cli_as_what_is_left_of_it() -> None:
    request = AgentRequest("p", Path("."), "claude-sonnet-4-5", 3, ("Read",), 5, budget=Budget(0.5, 0.2))
    argv = cli_argv("claude", request)
    assert argv[argv.index("--max-budget-usd") + 1] == "0.3000"
    assert "--max-budget-usd" not in cli_argv("claude", AgentRequest("p", Path("."), "m", 3, ("Read",), 5))


def test_daily_caps_refuse_with_the_figures() -> None:
    assert daily_refusal("octo/repo", 12.4, 10.0, None, None) == (
        "octo/repo spent $12.40 of its $10.00 daily cap today (the day starts at midnight UTC)")
    assert daily_refusal("octo/repo", 9.99, 10.0, 20.0, 20.0) == (
        "the bot spent $20.00 of its $20.00 daily cap for all repositories today (the day starts at midnight UTC)")
    assert daily_refusal("octo/repo", 9.99, 10.0, 19.0, 20.0) is None
    assert daily_refusal("octo/repo", None, None, None, None) is None
    assert midnight_utc(datetime(2026, 11, 29, 21, 15, 5, tzinfo=UTC)) == datetime(2026, 11, 29, tzinfo=UTC)


SPENDING_CLI = """
import json, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {child!r}])
print(json.dumps({{"type": "system", "subtype": "init", "session_id": "s"}}), flush=True)
for n in range(100):
    usage = {{"input_tokens": 100000, "output_tokens": 1000}}  # $0.315 a turn on Sonnet
    print(json.dumps({{"type": "assistant", "message": {{"id": f"msg_{{n}}", "model": "claude-sonnet-4-5",
        "usage": usage, "content": [{{"type": "text", "text": "thinking"}}]}}}}), flush=True)
    time.sleep(0.2)
print(json.dumps({{"type": "result", "subtype": "success", "is_error": False, "result": "Done",
                   "total_cost_usd": 31.5}}), flush=True)
"""


async def test_the_cli_is_stopped_once_the_running_cost_passes_the_cap(tmp_path: Path) -> None:
    script, marker = tmp_path / "spend.py", tmp_path / "child-alive"
    script.write_text(SPENDING_CLI.format(child=f"import time, pathlib; time.sleep(3); "
                                                f"pathlib.Path({str(marker)!r}).touch()"))
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    cli.chmod(0o755)
    started = time.monotonic()
    result = await ClaudeCli(str(cli), {"PATH": "/usr/bin:/bin"}).run(
        AgentRequest("p", tmp_path, "claude-sonnet-4-5", 30, ("Read",), timeout=30, budget=Budget(1.0, 0.2)))
    assert time.monotonic() - started < 3, "the CLI ran on past the cap"
    # $0.20 before this step, then $0.315 a message: the third passes $1.00
    assert result.error == stopped_at(Budget(1.0, 0.2), 0.945) == "the agent was stopped at $1.15 of a $1.00 cap"
    assert not result.success and result.cost_usd == pytest.approx(0.945)
    time.sleep(3.5)
    assert not marker.exists(), "the CLI's child outlived the stop"


async def test_the_clis_own_budget_stop_reads_the_same(tmp_path: Path) -> None:
    script = tmp_path / "own.py"
    script.write_text("import json\nprint(json.dumps(" + repr({
        "type": "result", "subtype": "error_max_budget_usd", "is_error": True, "total_cost_usd": 0.52,
        "errors": ["Reached maximum budget ($0.5)"]}) + "), flush=True)\n")
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    cli.chmod(0o755)
    result = await ClaudeCli(str(cli), {"PATH": "/usr/bin:/bin"}).run(
        AgentRequest("p", tmp_path, "claude-sonnet-4-5", 30, ("Read",), timeout=30, budget=Budget(0.5)))
    assert result.error == "the agent was stopped at $0.52 of a $0.50 cap" and result.cost_usd == 0.52


async def test_under_the_cap_the_clis_own_total_is_kept(tmp_path: Path) -> None:
    script = tmp_path / "cheap.py"
    usage = {"input_tokens": 10_000, "output_tokens": 100}
    script.write_text("import json\n" + "".join(f"print(json.dumps({event!r}), flush=True)\n" for event in (
        assistant("msg_1", usage),
        {"type": "result", "subtype": "success", "is_error": False, "result": "Done", "total_cost_usd": 0.0412})))
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    cli.chmod(0o755)
    result = await ClaudeCli(str(cli), {"PATH": "/usr/bin:/bin"}).run(
        AgentRequest("p", tmp_path, "claude-sonnet-4-5", 30, ("Read",), timeout=30, budget=Budget(0.5)))
    assert result.success and result.cost_usd == 0.0412  # the CLI's figure (it counts requests the bot cannot see)
