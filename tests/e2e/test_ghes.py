"""End to end on GitHub Enterprise Server: the main scenarios, against GHES's own API description.

The fake GitHub serves `ghes-3.19` under /api/v3 (GraphQL at /api/graphql) on its own host, the bot is given
`GITHUB_API_URL=<host>/api/v3`, the repository is configured on that host and every delivery names it. The
stack fails at teardown on any request the GHES description does not allow (FakeGitHubClient.violations()).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CLAUDE, REPO, Stack

# The same scenarios as on github.com, collected again here so they run on this module's GHES stack.
from tests.e2e.test_end_to_end import test_labelled_issue_becomes_a_branch_a_pr_and_a_final_comment  # noqa: F401
from tests.e2e.test_pull_request_conversations import (  # noqa: F401
    test_a_long_conversation_reaches_the_model_whole_minus_hidden_comments_and_a_question_is_answered,
    test_a_review_comment_gets_a_threaded_reply_edited_in_place_and_the_hunk_reaches_the_model,
)
from tests.e2e.test_pull_request_follow_up import (  # noqa: F401
    test_a_comment_on_the_bots_pull_request_adds_a_commit_to_its_branch_and_opens_no_other,
)

pytestmark = pytest.mark.e2e

GHES = "ghes-3.19"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    running = Stack(Path(tmp_path_factory.mktemp("e2e-ghes")), spec=GHES)
    configured = running.configure_repo()
    assert configured["repository_url"] == f"{running.github.url}/{REPO}", configured
    yield running
    running.stop()


def test_every_call_went_to_the_enterprise_api_paths_and_links_name_its_host(stack: Stack) -> None:
    """Runs after the scenarios above (pytest keeps file order): what they sent, and where."""
    calls = stack.gh.calls()
    assert calls, "the scenarios made no GitHub call"
    assert all(c["path"].startswith(("/api/v3/", "/api/graphql")) for c in calls), \
        sorted({c["path"] for c in calls if not c["path"].startswith("/api/")})
    assert [c for c in calls if c["path"] == "/api/graphql"], "the hidden-comment lookup should use GHES's GraphQL"
    reports = [c["body"] for c in stack.gh.comments(REPO) if "<!-- agent-work-order:" in c["body"]]
    commit_links = [r for r in reports if f"]({stack.web}/{REPO}/commit/" in r]
    assert commit_links, "a report should link its commits on the GHES host"
    assert not [r for r in reports if f"https://github.com/{REPO}/commit/" in r]
    assert stack.gh.violations() == []
