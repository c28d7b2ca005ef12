"""End to end on GitHub Enterprise Server: the main scenarios, against GHES's own API description.

The fake GitHub serves `ghes-3.19` under /api/v3 (GraphQL at /api/graphql) on its own host, the bot is given
`GITHUB_API_URL=<host>/api/v3`, the repository is configured on that host and every delivery names it. The
stack fails at teardown on any request the GHES description does not allow (FakeGitHubClient.violations()).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CLAUDE, REPO, Stack, script_for, wait_until

# The same scenarios as on github.com, collected again here so they run on this module's GHES stack.
from tests.e2e.test_end_to_end import (  # noqa: F401
    PLAN,
    WRITE_HELLO,
    test_labelled_issue_becomes_a_branch_a_pr_and_a_final_comment,
)
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
    # whichever tests ran, in whatever order: REST under /api/v3, GraphQL at /api/graphql, nothing elsewhere
    paths = {c["path"] for c in running.gh.calls()}
    elsewhere = sorted(p for p in paths if not p.startswith(("/api/v3/", "/api/graphql")))
    running.stop()  # fails on any request the GHES description does not allow
    assert elsewhere == [], elsewhere


def test_a_report_links_its_commits_on_the_ghes_host(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [WRITE_HELLO, {"text": "Added hello.txt."}]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Say hello on GHES")).status_code == 202
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    body = wait_until(lambda: "✅ Done" in stack.comment_on(issue) and stack.comment_on(issue))
    assert f"]({stack.web}/{REPO}/commit/" in body and f"https://github.com/{REPO}/commit/" not in body
