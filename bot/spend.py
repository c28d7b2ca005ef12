"""Spend limits, as pure code: what a model's tokens cost, a run's running cost, and the daily caps' verdicts.

The CLI's own `--max-budget-usd` is a second line, not the only one: the bot counts the cost itself from the
stream, so a CLI that ignores (or does not know) the flag is still stopped, and the figures are the bot's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MTOK = 1_000_000


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Anthropic's list prices; the first pattern found in the model's name wins, so the specific ones come first.
PRICES: tuple[tuple[str, Price], ...] = (
    ("opus-4-5", Price(5, 25, 6.25, 0.50)),
    ("opus", Price(15, 75, 18.75, 1.50)),
    ("sonnet", Price(3, 15, 3.75, 0.30)),
    ("3-5-haiku", Price(0.80, 4, 1, 0.08)),
    ("haiku", Price(1, 5, 1.25, 0.10)),
)
# A model the table does not know is priced as the dearest one: a cap then stops it early, never late.
UNKNOWN_MODEL = Price(15, 75, 18.75, 1.50)


def price_of(model: str) -> Price:
    name = model.lower()
    return next((price for pattern, price in PRICES if pattern in name), UNKNOWN_MODEL)


def cost_of(model: str, usage: dict[str, Any]) -> float:
    """What one API response's `usage` costs, in dollars."""
    price = price_of(model)
    tokens = (_count(usage, "input_tokens") * price.input + _count(usage, "output_tokens") * price.output
              + _count(usage, "cache_creation_input_tokens") * price.cache_write
              + _count(usage, "cache_read_input_tokens") * price.cache_read)
    return tokens / MTOK


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True)
class Budget:
    """A work order's per-run cap and what its earlier steps spent already."""

    cap: float
    spent_before: float = 0.0

    @property
    def remaining(self) -> float:
        return max(0.0, self.cap - self.spent_before)


@dataclass
class RunningCost:
    """The cost of one CLI run so far, from its assistant messages. The CLI emits one event per content block,
    each carrying its message's usage: a message is counted once, with its latest usage."""

    default_model: str
    by_message: dict[str, float] = field(default_factory=dict)

    def absorb(self, event: dict[str, Any]) -> None:
        message = event.get("message") if event.get("type") == "assistant" else None
        if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
            return
        key = str(message.get("id") or f"anonymous-{len(self.by_message)}")
        self.by_message[key] = cost_of(str(message.get("model") or self.default_model), message["usage"])

    @property
    def total(self) -> float:
        return sum(self.by_message.values())


def over_cap(budget: Budget | None, running: float) -> bool:
    return budget is not None and budget.spent_before + running > budget.cap


def stopped_at(budget: Budget, running: float) -> str:
    return f"the agent was stopped at {dollars(budget.spent_before + running)} of a {dollars(budget.cap)} cap"


def dollars(value: float) -> str:
    return f"${value:.2f}"


def run_cap(setting: float | None, metadata: dict[str, Any]) -> float | None:
    """The per-run cap: the work order's own (per-repository configuration) if it has a valid one, else the
    setting's; None: no cap."""
    own = metadata.get("max_budget_usd")
    if isinstance(own, int | float) and not isinstance(own, bool) and own > 0:
        return float(own)
    return setting


def midnight_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def daily_refusal(repo_full_name: str, repo_spent: float | None, repo_cap: float | None,
                  all_spent: float | None, all_cap: float | None) -> str | None:
    """Why a trigger is refused by a daily cap, with the figures, or None."""
    if repo_cap is not None and repo_spent is not None and repo_spent >= repo_cap:
        return (f"{repo_full_name} spent {dollars(repo_spent)} of its {dollars(repo_cap)} daily cap today "
                "(the day starts at midnight UTC)")
    if all_cap is not None and all_spent is not None and all_spent >= all_cap:
        return (f"the bot spent {dollars(all_spent)} of its {dollars(all_cap)} daily cap for all repositories "
                "today (the day starts at midnight UTC)")
    return None
