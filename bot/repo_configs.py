"""Reading `.github/agent-work-orders.yml` from GitHub when a work order is admitted, with an in-process cache.

The file is read from the repository's default branch through the Contents API; if the repository has none,
from the organisation's (or user's) `.github` repository, as Probot apps do. Cache: per file, the ETag of the
last answer is sent as `If-None-Match`, so an unchanged file costs a 304 (which GitHub does not count against
the rate limit) and no parsing; a file is parsed once per blob sha (the same content under another ETag, or in
both repositories, is not parsed again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.admission import MARKER_PREFIX
from bot.errors import GitHubError
from bot.github import GitHubPort, RepoFile
from bot.models import Trigger
from bot.repo_config import (
    CONFIG_PATH,
    MAX_FILE_BYTES,
    Defaults,
    Effective,
    InvalidConfig,
    RepoConfig,
    invalid_comment,
    parse,
    resolve,
)
from bot.settings import Settings
from bot.steps import EDIT_TOOLS
from bot.threads import thread_for
from bot.trigger_rules import TriggerRules

log = logging.getLogger(__name__)
CACHE_SIZE = 1024


@dataclass(frozen=True)
class Resolved:
    """An admitted trigger's configuration, or why its repository's file cannot be used (`source` names it)."""

    effective: Effective | None
    source: str = "defaults"
    error: InvalidConfig | None = None


class RepoConfigs:
    """The configuration of each repository, read from GitHub and cached in-process (see the module's docstring)."""

    def __init__(self, defaults: Defaults) -> None:
        self.defaults = defaults
        self._files: dict[str, RepoFile | None] = {}  # by repository: the last answer (None: no file)
        self._parsed: dict[str, RepoConfig | InvalidConfig] = {}  # by blob sha

    async def resolve(self, github: GitHubPort, repo_full_name: str) -> Resolved:
        """The effective configuration: the repository's file, else its organisation's, over the defaults."""
        owner = repo_full_name.partition("/")[0]
        source, found = repo_full_name, await self._read(github, repo_full_name)
        if found is None and repo_full_name.lower() != f"{owner}/.github".lower():
            source, found = f"{owner}/.github", await self._fallback(github, f"{owner}/.github")
        if found is None:
            return Resolved(resolve(None, self.defaults))
        where = f"{source}@{found.sha[:12]}"
        try:
            return Resolved(resolve(self._parse(found), self.defaults, where), where)
        except InvalidConfig as exc:
            return Resolved(None, where, exc)

    async def rules(self, github: GitHubPort, repo_full_name: str, operator: TriggerRules) -> TriggerRules:
        """The trigger phrase and label of a repository (the operator's if it sets none, or its file is invalid:
        admission then says why)."""
        if not self.defaults.repo_triggers:
            return operator
        resolved = await self.resolve(github, repo_full_name)
        if resolved.effective is None:
            return operator
        return TriggerRules(resolved.effective.phrase, resolved.effective.label, operator.repo_overrides)

    async def _fallback(self, github: GitHubPort, dot_github: str) -> RepoFile | None:
        """The organisation's file, if the token may read it: a token narrowed to the repository (an App's, a
        fine-grained one) is refused the `.github` repository with 403, which means no fallback, not a failure."""
        try:
            return await self._read(github, dot_github)
        except GitHubError as exc:
            if exc.status != 403:
                raise
            log.info("%s: not readable with this token (%s); no organisation-wide configuration", dot_github, exc)
            return None

    async def _read(self, github: GitHubPort, repo_full_name: str) -> RepoFile | None:
        key = repo_full_name.lower()
        known = self._files.get(key)
        answer = await github.get_file(repo_full_name, CONFIG_PATH, etag=known.etag if known else None)
        if answer is not None and answer.not_modified and known is not None:
            return known
        if len(self._files) >= CACHE_SIZE:
            self._files.clear()
        self._files[key] = answer
        return answer

    def _parse(self, found: RepoFile) -> RepoConfig:
        parsed = self._parsed.get(found.sha)
        if parsed is None:
            try:
                if found.text is None:
                    raise InvalidConfig(f"the file is not UTF-8 text of at most {MAX_FILE_BYTES} bytes")
                parsed = parse(found.text)
            except InvalidConfig as exc:
                parsed = exc
            if len(self._parsed) >= CACHE_SIZE:
                self._parsed.clear()
            self._parsed[found.sha] = parsed
        if isinstance(parsed, InvalidConfig):
            raise parsed
        return parsed


def config_metadata(effective: Effective) -> dict[str, object]:
    """What a work order stores (so a worker on another machine runs with the same): the configuration, the
    commands it chose and its per-run budget (enforced elsewhere)."""
    meta: dict[str, object] = {"config": effective.model_dump(mode="json")}
    if effective.steps:
        meta["commands"] = list(effective.steps)
    if effective.max_budget_usd is not None:
        meta["max_budget_usd"] = effective.max_budget_usd
    return meta



async def admitted_config(configs: RepoConfigs, github: GitHubPort, trigger: Trigger) -> dict[str, object] | str:
    """At admission: the work order's configuration metadata; or, for an invalid file, why nothing runs (the
    trigger is answered on its thread with the exact error and the schema's link first)."""
    resolved = await configs.resolve(github, trigger.repo_full_name)
    if resolved.effective is not None:
        return config_metadata(resolved.effective)
    assert resolved.error is not None
    body = invalid_comment(MARKER_PREFIX, trigger.actor, resolved.source, resolved.error, configs.defaults.schema_url)
    try:
        await thread_for(trigger).post(github, body)
    except GitHubError as exc:
        log.warning("#%d: could not say the configuration error on GitHub: %s", trigger.issue_number, exc)
    return f"{CONFIG_PATH} in {resolved.source} is not valid: {resolved.error}"


def repo_configs_for(settings: Settings) -> RepoConfigs | None:
    """The operator's settings as the defaults a repository's file is merged over; None if AWO_REPO_CONFIG=false."""
    if not settings.repo_config:
        return None
    return RepoConfigs(Defaults(
        phrase=settings.trigger_phrase, label=settings.trigger_label, model=settings.model,
        max_turns=settings.max_turns, tools=settings.allowed_tools or EDIT_TOOLS,
        pr_mode=settings.pr_mode or ("draft" if settings.draft_pull_requests else "ready"),
        repo_triggers=settings.repo_triggers, schema_url=settings.config_schema_url,
    ))
