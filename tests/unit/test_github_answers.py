"""GitHub (or a proxy in front of it) answering something that is not GitHub's JSON is a GitHubError."""

from __future__ import annotations

import pytest
import respx

from bot.errors import GitHubError
from bot.github import GitHubClient

API = "https://api.github.test"
PERMISSION = f"{API}/repos/o/r/collaborators/u/permission"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("<html><body>Down for maintenance</body></html>", "text/html", "not JSON"),
        ('{"permission": "wri', "application/json", "not JSON"),  # truncated
        ("[]", "application/json", "list where an object was expected"),
    ],
    ids=["html", "truncated", "list"],
)
async def test_an_answer_that_is_not_githubs_json_is_a_github_error(body: str, content_type: str, message: str) -> None:
    with respx.mock:
        respx.get(PERMISSION).respond(200, text=body, headers={"content-type": content_type})
        with pytest.raises(GitHubError, match=message) as raised:
            await GitHubClient("ghp_x", API).permission("o/r", "u")
    assert raised.value.status is None  # no GitHub status: intake retries it as transient


async def test_a_comment_answered_with_html_is_a_github_error() -> None:
    with respx.mock:
        html = {"content-type": "text/html"}
        respx.post(f"{API}/repos/o/r/issues/1/comments").respond(201, text="<html>", headers=html)
        with pytest.raises(GitHubError, match="comment: GitHub answered 201 with a body that is not JSON"):
            await GitHubClient("ghp_x", API).create_comment("o/r", 1, "hi")
