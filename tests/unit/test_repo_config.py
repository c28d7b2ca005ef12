"""`.github/agent-work-orders.yml`: parsed with safe_load, validated, merged narrowing only, read with a cache."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import respx

from bot.errors import GitHubError
from bot.github import GitHubClient, RepoFile
from bot.repo_config import (
    CONFIG_PATH,
    SCHEMA_FILE,
    Defaults,
    InvalidConfig,
    parse,
    protected,
    resolve,
    schema_text,
)
from bot.repo_configs import RepoConfigs
from bot.testing import FakeGitHub
from bot.trigger_rules import TriggerRules
from bot.triggers import never_a_trigger
from tests.payloads import example

ROOT = Path(__file__).resolve().parents[2]
REPO = "octo/app"


def test_the_published_schema_is_the_models() -> None:
    """Regenerate with: python -c 'from bot.repo_config import schema_text; print(schema_text(), end="")'."""
    assert (ROOT / SCHEMA_FILE).read_text() == schema_text()


def test_tools_a_file_adds_beyond_the_operators_are_narrowed_away_and_named() -> None:
    effective = resolve(parse("tools: [Read, Bash, WebFetch, Write]\nmax_turns: 500\n"), Defaults())
    assert effective.tools == ["Read", "Write"]
    assert effective.narrowed == ["Bash", "WebFetch"]
    assert effective.max_turns == 30  # capped at the operator's


def test_no_file_is_the_operators_defaults() -> None:
    effective = resolve(None, Defaults(model="m", pr_mode="ready"))
    assert (effective.model, effective.pr_mode, effective.tools, effective.source) == (
        "m", "ready", ["Read", "Glob", "Grep", "Edit", "Write"], "defaults")


@pytest.mark.parametrize(("text", "error"), [
    ("model: [", "not valid YAML: while parsing a flow node expected the node content"),
    ("- a list\n", "the file must hold a mapping of settings, not a list"),
    ("max_turns: 0\n", "max_turns: Input should be greater than or equal to 1"),
    ("branch_prefix: main/\n", "branch_prefix: must be a plain branch-name prefix starting with `claude/`"),
    ("branch_prefix: claude/../x-\n", "branch_prefix: must be a plain branch-name prefix"),
    ("protected_paths: [/etc]\n", "protected_paths: '/etc' must be relative to the repository's root"),
    ("steps: [plan, deploy]\n", "steps.1: Input should be 'plan' or 'implement'"),
    ("!!python/object/apply:os.system [echo hi]\n", "not valid YAML: could not determine a constructor"),
])
def test_an_invalid_file_says_exactly_why(text: str, error: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        parse(text)
    assert error in str(raised.value)


def test_a_trigger_of_its_own_needs_the_operators_leave() -> None:
    config = parse("trigger: {phrase: '@helper'}\n")
    with pytest.raises(InvalidConfig, match="AWO_REPO_TRIGGERS is off"):
        resolve(config, Defaults())
    assert resolve(config, Defaults(repo_triggers=True)).phrase == "@helper"


def test_protected_paths_match_globs_and_folders() -> None:
    meta = {"config": {"protected_paths": ["secrets/", "*.lock", ".github/workflows"]}}
    changed = ["secrets/a.txt", "poetry.lock", "src/x.lock", ".github/workflows/ci.yml", "README.md", "secretsX"]
    # fnmatch globs: `*` matches across folders too
    assert protected(meta, changed) == ["secrets/a.txt", "poetry.lock", "src/x.lock", ".github/workflows/ci.yml"]


async def test_the_file_is_cached_by_etag_and_a_change_is_read_again() -> None:
    github = FakeGitHub(contents={(REPO, CONFIG_PATH): "model: claude-a\n"})
    configs = RepoConfigs(Defaults())
    first = await configs.resolve(github, REPO)
    again = await configs.resolve(github, REPO)
    assert first == again and again.effective is not None and again.effective.model == "claude-a"
    assert [status for *_, status in github.file_reads] == [200, 304]  # the second read was conditional
    assert github.file_reads[1][2] is not None  # with the first answer's ETag
    github.contents[(REPO, CONFIG_PATH)] = "model: claude-b\n"
    changed = await configs.resolve(github, REPO)
    assert changed.effective is not None and changed.effective.model == "claude-b"
    assert github.file_reads[-1][3] == 200


async def test_an_invalid_file_stays_invalid_from_the_cache_with_the_same_error() -> None:
    github = FakeGitHub(contents={(REPO, CONFIG_PATH): "pr_mode: maybe\n"})
    configs = RepoConfigs(Defaults())
    first, again = await configs.resolve(github, REPO), await configs.resolve(github, REPO)
    assert first.effective is again.effective is None
    assert str(first.error) == str(again.error) == "pr_mode: Input should be 'none', 'draft' or 'ready'"


async def test_a_repository_phrase_is_used_only_when_the_operator_allows_it() -> None:
    github = FakeGitHub(contents={(REPO, CONFIG_PATH): "trigger: {phrase: '@helper', label: helper}\n"})
    operator = TriggerRules("@claude", "claude", True)
    assert await RepoConfigs(Defaults(repo_triggers=True)).rules(github, REPO, operator) == TriggerRules(
        "@helper", "helper", True)
    assert await RepoConfigs(Defaults()).rules(github, REPO, operator) == operator


def test_the_webhook_prefilter_keeps_a_comment_without_the_default_phrase_when_repositories_choose() -> None:
    payload = example("issue_comment", "created", comment__body="@helper fix it")
    assert never_a_trigger("issue_comment", payload, TriggerRules()) is not None
    assert never_a_trigger("issue_comment", payload, TriggerRules(repo_overrides=True)) is None


@respx.mock(assert_all_called=True)
async def test_the_client_reads_a_file_sends_its_etag_and_takes_304_and_404(respx_mock: respx.MockRouter) -> None:
    """Through the real githubkit client: a file's sha, text and ETag; 304 to the ETag; no file."""
    url = f"https://api.github.test/repos/{REPO}/contents/{CONFIG_PATH}"
    content = base64.b64encode(b"model: claude-a\n").decode()
    respx_mock.get(url, headers={"If-None-Match": '"e1"'}).respond(304)
    respx_mock.get(url).respond(200, json={"type": "file", "encoding": "base64", "content": content, "sha": "abc"},
                                headers={"ETag": '"e1"'})
    respx_mock.get(f"https://api.github.test/repos/octo/.github/contents/{CONFIG_PATH}").respond(
        404, json={"message": "Not Found"})
    client = GitHubClient("ghp_test", base_url="https://api.github.test")
    assert await client.get_file(REPO, CONFIG_PATH) == RepoFile("abc", "model: claude-a\n", '"e1"')
    assert (await client.get_file(REPO, CONFIG_PATH, etag='"e1"')) == RepoFile("", None, '"e1"', not_modified=True)
    assert await client.get_file("octo/.github", CONFIG_PATH) is None


async def test_an_organisation_file_the_token_may_not_read_is_no_fallback_but_the_repositorys_must_be_read() -> None:
    github = FakeGitHub(unreadable={("octo/.github", CONFIG_PATH)})
    resolved = await RepoConfigs(Defaults(model="operator-model")).resolve(github, REPO)
    assert resolved.effective is not None and resolved.effective.model == "operator-model"
    github.unreadable.add((REPO, CONFIG_PATH))  # the repository's own: failing open could lose protected paths
    with pytest.raises(GitHubError):
        await RepoConfigs(Defaults()).resolve(github, REPO)
