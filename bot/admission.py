"""All policy in one place: may this trigger become a work order?"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.errors import BotError
from bot.github import GitHubPort, PullRequest
from bot.models import Delivery, Repository, Trigger, WorkOrder, utcnow
from bot.spend import daily_refusal, midnight_utc
from bot.store import Load, Store

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
MARKER_PREFIX = "<!-- agent-work-order:"  # every comment the bot writes starts with it (bot/report.py)
RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Refused:
    reason: str
    tell: bool = False  # a limit a writer ran into: said on the issue, at most once per window


@dataclass(frozen=True)
class Limits:
    """Replay and flood limits; the defaults are README's."""

    max_age_seconds: float = 600
    max_waiting_per_issue: int = 2
    per_actor_per_hour: int = 10
    per_repo_per_hour: int = 30
    max_pending: int = 100
    daily_usd_per_repo: float | None = None  # spend caps since midnight UTC (bot/spend.py); None: none
    daily_usd: float | None = None


class NotAllowed(BotError):
    """The person who asked for a work order may no longer ask for one."""


def is_bot(trigger: Trigger) -> bool:
    """Bots never trigger work: this also keeps the bot from answering itself."""
    return trigger.actor_type == "Bot" or trigger.actor.lower().endswith("[bot]")


def carries_marker(payload: dict[str, Any]) -> bool:
    """A comment with the bot's marker is the bot's own text (or a copy of it): never a request."""
    comment = payload.get("comment")
    body = comment.get("body") if isinstance(comment, dict) else None
    return isinstance(body, str) and MARKER_PREFIX in body


def precheck(trigger: Trigger, repo: Repository | None, payload: dict[str, Any] | None = None) -> Refused | None:
    """The checks that need no GitHub call."""
    if repo is None:
        return Refused(f"repository {trigger.repo_full_name} is not configured")
    if is_bot(trigger):
        return Refused(f"{trigger.actor} is a bot")
    if payload is not None and carries_marker(payload):
        return Refused("the comment carries the bot's marker")
    return None


def too_old(trigger: Trigger, received_at: datetime, max_age_seconds: float) -> Refused | None:
    """A trigger whose event is older than the window when it arrived: a replayed body or a stale redelivery."""
    if trigger.occurred_at is None:
        return Refused("the event carries no time")
    age = (received_at - trigger.occurred_at).total_seconds()
    if age > max_age_seconds:
        return Refused(f"the event is {age:.0f} s old; triggers older than {max_age_seconds:.0f} s are refused")
    return None


def own_login(trigger: Trigger, login: str | None) -> Refused | None:
    if login and trigger.actor.lower() == login.lower():
        return Refused(f"{trigger.actor} is the bot itself")
    return None


def permission_check(actor: str, role: str) -> Refused | None:
    if role not in WRITE_ROLES:
        return Refused(f"{actor} has {role!r} permission; write, maintain or admin is needed")
    return None


def pull_request_refusal(repo_full_name: str, default_branch: str, pull: PullRequest) -> Refused | None:
    """Why the bot cannot continue this pull request's branch, or None. It pushes, never forced, only to a branch
    of the repository itself: a fork's branch is not the repository's to push to."""
    if pull.state != "open":
        return Refused(f"pull request #{pull.number} is {pull.state}", tell=True)
    if pull.head_repo.lower() != repo_full_name.lower():
        where = f"the fork {pull.head_repo}" if pull.head_repo else "a repository that no longer exists"
        return Refused(f"pull request #{pull.number} comes from {where}, where the bot cannot push; "
                       "push the change yourself, or open the PR from a branch of this repository", tell=True)
    if pull.head == default_branch:
        return Refused(f"pull request #{pull.number} is on `{pull.head[:100]}`, the default branch, which the bot "
                       "never pushes to", tell=True)
    return None


def over_limits(trigger: Trigger, load: Load, limits: Limits) -> Refused | None:
    """The first limit this trigger would break, if any."""
    if load.issue_active >= 1 + limits.max_waiting_per_issue:
        return Refused(f"#{trigger.issue_number} already has {load.issue_active} work orders running or waiting "
                       f"(at most 1 running and {limits.max_waiting_per_issue} waiting)", tell=True)
    if load.actor_recent >= limits.per_actor_per_hour:
        return Refused(f"{trigger.actor} started {load.actor_recent} work orders in the last hour "
                       f"(the limit is {limits.per_actor_per_hour})", tell=True)
    if load.repo_recent >= limits.per_repo_per_hour:
        return Refused(f"{trigger.repo_full_name} started {load.repo_recent} work orders in the last hour "
                       f"(the limit is {limits.per_repo_per_hour})", tell=True)
    if load.pending >= limits.max_pending:
        return Refused(f"{load.pending} work orders are waiting already (the limit is {limits.max_pending})",
                       tell=True)
    return None


class Roles:
    """Roles GitHub gave, remembered for `ttl` seconds per repository and actor.

    A reader who writes `@claude` a hundred times costs one permission call, not a hundred (each is a
    GitHub request against the rate limit, and tens of ms of the receiver's CPU). Only admission uses it: a
    worker asks GitHub again when it takes the work order, so a writer demoted meanwhile still gets nothing.
    """

    def __init__(self, ttl: float = 30.0, size: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._known: dict[tuple[str, str], tuple[float, str]] = {}

    async def of(self, github: GitHubPort, repo_full_name: str, actor: str) -> str:
        key, now = (repo_full_name.lower(), actor.lower()), self.clock()
        known = self._known.get(key)
        if known is not None and known[0] > now:
            return known[1]
        role = await github.permission(repo_full_name, actor)
        if len(self._known) >= self.size:  # bounded: the expired go first, then all
            self._known = {k: v for k, v in self._known.items() if v[0] > now}
            if len(self._known) >= self.size:
                self._known.clear()
        self._known[key] = (now + self.ttl, role)
        return role


class Admission:
    """Decides, for one recorded delivery's trigger, whether it becomes a work order."""

    def __init__(self, store: Store, limits: Limits, roles: Roles | None = None, bot_login: str | None = None) -> None:
        self.store = store
        self.limits = limits
        self.roles = roles or Roles()
        self.bot_login = bot_login  # AWO_BOT_LOGIN; else GitHub is asked

    async def admit(
        self, trigger: Trigger, repo: Repository | None, delivery: Delivery, github: GitHubPort
    ) -> Refused | None:
        """None if the trigger may become a work order, else why not. Cheap checks first."""
        refusal = (precheck(trigger, repo, delivery.payload)
                   or too_old(trigger, delivery.received_at, self.limits.max_age_seconds)
                   or own_login(trigger, self.bot_login or await github.viewer_login()))
        if refusal is not None:
            return refusal
        refusal = permission_check(trigger.actor, await self.roles.of(github, trigger.repo_full_name, trigger.actor))
        if refusal is not None:
            return refusal
        load = await self.store.admission_load(
            trigger.repo_full_name, trigger.issue_number, trigger.actor, utcnow() - RATE_WINDOW)
        return over_limits(trigger, load, self.limits) or await self.over_daily_caps(trigger)

    async def over_daily_caps(self, trigger: Trigger) -> Refused | None:
        """The daily spend caps, from the ledger; asked only when a cap is set (one indexed sum each)."""
        limits, since = self.limits, midnight_utc(utcnow())
        repo_spent = (await self.store.spent_since(trigger.repo_full_name, since)
                      if limits.daily_usd_per_repo is not None else None)
        all_spent = await self.store.spent_since(None, since) if limits.daily_usd is not None else None
        reason = daily_refusal(trigger.repo_full_name, repo_spent, limits.daily_usd_per_repo, all_spent,
                               limits.daily_usd)
        return Refused(reason, tell=True) if reason else None


async def recheck(github: GitHubPort, repo_full_name: str, actor: str) -> None:
    """At claim time: the actor must still be a writer (raises NotAllowed), or nothing runs."""
    refusal = permission_check(actor, await github.permission(repo_full_name, actor))
    if refusal is not None:
        raise NotAllowed(f"not run: {refusal.reason} (checked again when a worker took the work order)")


async def recheck_pull_request(
    github: GitHubPort, work_order: WorkOrder, pull_read: Awaitable[PullRequest] | None = None,
) -> None:
    """At claim time, for a work order on a pull request: the PR is still open, still on the branch the work order
    pushes to, in this repository (raises NotAllowed); a PR closed or re-pointed while it waited gets nothing.
    `pull_read`: the PR being read already at the claim (its context shows it too), shielded so that this check
    failing does not cancel that read."""
    number = work_order.metadata.get("pull_request")
    if not isinstance(number, int):
        return
    pull = await (asyncio.shield(pull_read) if pull_read is not None
                  else github.get_pull_request(work_order.repo_full_name, number))
    refusal = pull_request_refusal(work_order.repo_full_name, str(work_order.metadata.get("default_branch") or ""),
                                   pull)
    if refusal is None and pull.head != work_order.git_branch_name:
        refusal = Refused(f"pull request #{number} is now on `{pull.head[:100]}`, not `{work_order.git_branch_name}`")
    if refusal is not None:
        raise NotAllowed(f"not run: {refusal.reason} (checked again when a worker took the work order)")
