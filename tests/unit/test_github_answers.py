"""GitHub (or a proxy in front of it) answering something that is not GitHub's JSON is a GitHubError."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from bot.errors import GitHubError
from bot.github import NODES_QUERY, GitHubClient

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


def issue_comment(number: int) -> dict[str, object]:
    return {"id": number, "node_id": f"IC_{number}", "user": {"login": "octocat"}, "author_association": "MEMBER",
            "body": f"comment {number}", "created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z"}


async def test_a_250_comment_thread_is_read_page_by_page_until_a_short_page() -> None:
    pages = {"1": 100, "2": 100, "3": 50}
    with respx.mock:
        route = respx.get(f"{API}/repos/o/r/issues/12/comments").mock(side_effect=lambda request: httpx.Response(
            200, json=[issue_comment((int(request.url.params["page"]) - 1) * 100 + i + 1)
                       for i in range(pages[request.url.params["page"]])]))
        remarks = await GitHubClient("ghp_x", API).list_issue_comments("o/r", 12)
    assert [r.id for r in remarks] == list(range(1, 251))
    assert [c.request.url.params["per_page"] for c in route.calls] == ["100"] * 3
    assert remarks[0].author == "octocat" and remarks[0].body == "comment 1" and remarks[0].kind == "comment"


async def test_review_comments_and_files_keep_their_place_on_the_diff() -> None:
    comment = {**issue_comment(5), "path": "app.py", "line": None, "original_line": 9, "side": "RIGHT",
               "diff_hunk": "@@ -1 +1 @@", "in_reply_to_id": 4}
    changed = {"filename": "new.py", "previous_filename": "old.py", "status": "renamed", "additions": 2,
               "deletions": 1}
    with respx.mock:
        respx.get(f"{API}/repos/o/r/pulls/12/comments").respond(200, json=[comment])
        respx.get(f"{API}/repos/o/r/pulls/12/files").respond(200, json=[changed])
        client = GitHubClient("ghp_x", API)
        (remark,) = await client.list_review_comments("o/r", 12)
        (file,) = await client.list_pull_files("o/r", 12)
    assert (remark.path, remark.line, remark.side, remark.in_reply_to_id) == ("app.py", 9, "RIGHT", 4)
    assert (file.path, file.previous_path, file.status, file.additions, file.deletions) == (
        "new.py", "old.py", "renamed", 2, 1)


async def test_node_states_ask_100_ids_a_query_with_the_agreed_query() -> None:
    asked: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        assert sent["query"] == NODES_QUERY
        asked.append(sent["variables"]["ids"])
        nodes = [{"id": i, "isMinimized": i == "N7", "minimizedReason": "spam" if i == "N7" else None,
                  "lastEditedAt": "2026-03-02T00:00:00Z" if i == "N3" else None,
                  "userContentEdits": {"nodes": [{"editedAt": "2026-03-02T00:00:00Z", "diff": "new"},
                                                 {"editedAt": "2026-03-01T00:00:00Z", "diff": "old"}]
                                       if i == "N3" else []}} for i in sent["variables"]["ids"]]
        return httpx.Response(200, json={"data": {"nodes": nodes}})

    with respx.mock:
        respx.post(f"{API}/graphql").mock(side_effect=answer)
        states = await GitHubClient("ghp_x", API).node_states([f"N{i}" for i in range(250)])
    assert [len(ids) for ids in asked] == [100, 100, 50] and len(states) == 250
    assert states["N7"].minimized and not states["N8"].minimized
    assert [text for _, text in states["N3"].edits] == ["old", "new"]  # oldest first


async def test_a_node_deleted_since_it_was_listed_is_absent_not_a_failure() -> None:
    body = {"data": {"nodes": [None, {"id": "N2", "isMinimized": False}]},
            "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a node with the global id of 'N1'"}]}
    with respx.mock:
        respx.post(f"{API}/graphql").respond(200, json=body)
        states = await GitHubClient("ghp_x", API).node_states(["N1", "N2"])
    assert list(states) == ["N2"]


async def test_replying_to_and_editing_a_review_comment_hit_their_urls() -> None:
    with respx.mock:
        reply = respx.post(f"{API}/repos/o/r/pulls/12/comments/55/replies").respond(201, json={"id": 77})
        edit = respx.patch(f"{API}/repos/o/r/pulls/comments/77").respond(200, json={"id": 77})
        react = respx.post(f"{API}/repos/o/r/pulls/comments/55/reactions").respond(201, json={"id": 1})
        client = GitHubClient("ghp_x", API)
        assert await client.reply_to_review_comment("o/r", 12, 55, "On it.") == 77
        await client.update_review_comment("o/r", 77, "Done.")
        await client.add_reaction("o/r", 12, 55, "eyes", kind="review_comment")
        await client.add_reaction("o/r", 12, 56, "eyes", kind="review")  # reviews take no reactions: no call
    assert json.loads(reply.calls.last.request.content) == {"body": "On it."}
    assert json.loads(edit.calls.last.request.content) == {"body": "Done."}
    assert json.loads(react.calls.last.request.content) == {"content": "eyes"}


async def test_a_review_comment_reply_answered_with_an_error_is_a_github_error() -> None:
    with respx.mock:
        respx.post(f"{API}/repos/o/r/pulls/12/comments/55/replies").respond(404, json={"message": "Not Found"})
        with pytest.raises(GitHubError, match="reply: GitHub answered 404: Not Found") as raised:
            await GitHubClient("ghp_x", API).reply_to_review_comment("o/r", 12, 55, "On it.")
    assert raised.value.status == 404


@pytest.mark.parametrize(("where", "pages_read"), [(150, 2), (None, 3)])
async def test_a_comment_is_found_by_its_marker_reading_pages_only_until_it_is_found(
    where: int | None, pages_read: int,
) -> None:
    pages = {"1": 100, "2": 100, "3": 50}

    def page(request: httpx.Request) -> httpx.Response:
        first = (int(request.url.params["page"]) - 1) * 100
        comments = [issue_comment(first + i + 1) for i in range(pages[request.url.params["page"]])]
        for comment in comments:
            if comment["id"] == where:
                comment["body"] = "<!-- agent-work-order:wo-1 --> ⏳"
        return httpx.Response(200, json=comments)

    with respx.mock:
        route = respx.get(f"{API}/repos/o/r/issues/12/comments").mock(side_effect=page)
        found = await GitHubClient("ghp_x", API).find_comment("o/r", 12, "<!-- agent-work-order:wo-1 -->")
    assert found == where and len(route.calls) == pages_read
