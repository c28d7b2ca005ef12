"""All policy in one place: may this trigger become a work order?"""

from __future__ import annotations

from dataclasses import dataclass

from bot.github import GitHubPort
from bot.models import Repository, Trigger

WRITE_ROLES = frozenset({"admin", "maintain", "write"})


@dataclass(frozen=True)
class Refused:
    reason: str


def is_bot(trigger: Trigger) -> bool:
    """Bots never trigger work: this also keeps the bot from answering itself."""
    return trigger.actor_type == "Bot" or trigger.actor.lower().endswith("[bot]")


def precheck(trigger: Trigger, repo: Repository | None) -> Refused | None:
    """The checks that need no GitHub call."""
    if repo is None:
        return Refused(f"repository {trigger.repo_full_name} is not configured")
    if is_bot(trigger):
        return Refused(f"{trigger.actor} is a bot")
    return None


def permission_check(trigger: Trigger, role: str) -> Refused | None:
    if role not in WRITE_ROLES:
        return Refused(f"{trigger.actor} has {role!r} permission; write, maintain or admin is needed")
    return None


async def admit(trigger: Trigger, repo: Repository | None, github: GitHubPort) -> Refused | None:
    """None if the trigger may become a work order, else why not."""
    refusal = precheck(trigger, repo)
    if refusal is not None:
        return refusal
    return permission_check(trigger, await github.permission(trigger.repo_full_name, trigger.actor))
