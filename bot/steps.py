"""The steps of a work order, as data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.errors import BotError

READ_TOOLS = ("Read", "Glob", "Grep")
EDIT_TOOLS = (*READ_TOOLS, "Edit", "Write")


class Kind(StrEnum):
    AGENT = "agent"  # the model thinks and edits files
    BOT = "bot"  # deterministic: git and GitHub, done by the bot itself


@dataclass(frozen=True)
class StepSpec:
    name: str
    agent_name: str
    kind: Kind
    template: str | None = None
    tools: tuple[str, ...] = ()


CHECKOUT = StepSpec("checkout", "BranchCreator", Kind.BOT)
PLAN = StepSpec("plan", "Planner", Kind.AGENT, "plan.md", READ_TOOLS)
IMPLEMENT = StepSpec("implement", "Implementor", Kind.AGENT, "implement.md", EDIT_TOOLS)
COMMIT = StepSpec("commit", "Committer", Kind.BOT)
PUSH = StepSpec("push", "Pusher", Kind.BOT)
PULL_REQUEST = StepSpec("pull-request", "PrCreator", Kind.BOT)

AGENT_STEPS = {spec.name: spec for spec in (PLAN, IMPLEMENT)}
# The seed's command names: its agent commands map to ours; its git commands are always done by the bot.
SEED_ALIASES = {"planning": "plan", "execute": "implement", "prp-review": None,
                "create-branch": None, "commit": None, "create-pr": None}
DEFAULT_COMMANDS = ("plan", "implement")


def agent_steps(commands: list[str] | tuple[str, ...] | None) -> list[StepSpec]:
    """The agent steps a work order asked for, in order, seed names accepted; unknown names are an error."""
    chosen: list[StepSpec] = []
    for command in commands or DEFAULT_COMMANDS:
        name = SEED_ALIASES.get(command, command)
        if name is None:
            continue
        if name not in AGENT_STEPS:
            raise BotError(f"unknown step {command!r}; known: plan, implement (or the seed's planning, execute)")
        if AGENT_STEPS[name] not in chosen:
            chosen.append(AGENT_STEPS[name])
    return chosen or [IMPLEMENT]


def sequence(commands: list[str] | tuple[str, ...] | None, publish: bool) -> list[StepSpec]:
    """Checkout, the agent steps, commit, and (with a GitHub remote) push and pull request."""
    tail = [COMMIT, PUSH, PULL_REQUEST] if publish else [COMMIT, PUSH]
    return [CHECKOUT, *agent_steps(commands), *tail]
