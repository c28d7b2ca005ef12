"""In-memory fakes of the ports, for tests and dry runs: they keep state that tests assert on."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.errors import GitHubError
from bot.github import ChangedFile, IssueInfo, NodeState, PullRequest, Remark, RepoFile, RepoInfo


@dataclass
class FakeGitHub:
    """GitHubPort in memory: permissions to answer, and the comments, reactions and PRs it received."""

    permissions: dict[str, str] = field(default_factory=dict)
    repos: dict[str, RepoInfo] = field(default_factory=dict)
    comments: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # id → (repo, issue, body)
    reactions: list[tuple[str, int, int | None, str]] = field(default_factory=list)
    pulls: list[tuple[str, PullRequest, dict[str, object]]] = field(default_factory=list)
    token: str | None = None
    login: str | None = "awo-bot"  # GET /user's answer; None as for an App token
    issues: dict[tuple[str, int], IssueInfo] = field(default_factory=dict)
    files: dict[tuple[str, int], list[ChangedFile]] = field(default_factory=dict)
    remarks: dict[tuple[str, int], list[Remark]] = field(default_factory=dict)  # a PR's conversation, every kind
    states: dict[str, NodeState] = field(default_factory=dict)  # by node id, as GraphQL would answer
    state_queries: list[list[str]] = field(default_factory=list)  # the node ids of each node_states call
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    # files on each repository's default branch, by (repo, path); the reads asked, with their ETag, and answered
    contents: dict[tuple[str, str], str] = field(default_factory=dict)
    file_reads: list[tuple[str, str, str | None, int]] = field(default_factory=list)  # (repo, path, etag, status)
    unreadable: set[tuple[str, str]] = field(default_factory=set)  # files the token may not read (403)

    async def git_token(self, full_name: str) -> str | None:
        return self.token

    async def get_repository(self, full_name: str) -> RepoInfo:
        if full_name not in self.repos:
            raise GitHubError(f"get {full_name}: GitHub answered 404: Not Found", 404)
        return self.repos[full_name]

    async def permission(self, full_name: str, login: str) -> str:
        return self.permissions.get(login, "none")

    async def viewer_login(self) -> str | None:
        return self.login

    async def add_reaction(
        self, full_name: str, issue_number: int, comment_id: int | None, content: str, *, kind: str = "issue"
    ) -> None:
        if kind != "review":  # reviews take no reactions
            self.reactions.append((full_name, issue_number, comment_id, content))

    async def create_comment(self, full_name: str, issue_number: int, body: str) -> int:
        comment_id = next(self._ids)
        self.comments[comment_id] = (full_name, issue_number, body)
        return comment_id

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        repo, issue, _ = self.comments[comment_id]
        self.comments[comment_id] = (repo, issue, body)

    async def find_comment(self, full_name: str, issue_number: int, marker: str) -> int | None:
        return next((i for i, (r, n, b) in self.comments.items() if (r, n) == (full_name, issue_number)
                     and marker in b), None)

    async def find_pull_request(self, full_name: str, branch: str) -> PullRequest | None:
        return next((p for r, p, _ in self.pulls if r == full_name and p.head == branch), None)

    async def get_pull_request(self, full_name: str, number: int) -> PullRequest:
        found = next((p for r, p, _ in self.pulls if r == full_name and p.number == number), None)
        if found is None:
            raise GitHubError("read pull request: GitHub answered 404: Not Found", 404)
        return found

    async def create_pull_request(
        self, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        number = len(self.pulls) + 1
        pull = PullRequest(number, f"https://github.test/{full_name}/pull/{number}", head, draft, full_name)
        self.pulls.append((full_name, pull, {"base": base, "title": title, "body": body}))
        return pull

    async def get_issue(self, full_name: str, number: int) -> IssueInfo:
        if (full_name, number) not in self.issues:
            raise GitHubError("read issue: GitHub answered 404: Not Found", 404)
        return self.issues[(full_name, number)]

    async def list_pull_files(self, full_name: str, number: int) -> list[ChangedFile]:
        return list(self.files.get((full_name, number), []))

    def _of_kind(self, full_name: str, number: int, kind: str) -> list[Remark]:
        return [r for r in self.remarks.get((full_name, number), []) if r.kind == kind]

    async def list_issue_comments(self, full_name: str, number: int) -> list[Remark]:
        return self._of_kind(full_name, number, "comment")

    async def list_reviews(self, full_name: str, number: int) -> list[Remark]:
        return self._of_kind(full_name, number, "review")

    async def list_review_comments(self, full_name: str, pr_number: int) -> list[Remark]:
        return self._of_kind(full_name, pr_number, "review_comment")

    async def node_states(self, node_ids: list[str]) -> dict[str, NodeState]:
        self.state_queries.append(list(node_ids))
        return {i: self.states[i] for i in node_ids if i in self.states}

    async def reply_to_review_comment(self, full_name: str, pr_number: int, comment_id: int, body: str) -> int:
        thread = self.remarks.setdefault((full_name, pr_number), [])
        top = next((r for r in thread if r.kind == "review_comment" and r.id == comment_id), None)
        if top is None:
            raise GitHubError("reply: GitHub answered 404: Not Found", 404)
        reply_id, now = next(self._ids), datetime.now(UTC)
        thread.append(replace(top, id=reply_id, node_id=f"PRRC_{reply_id}", author=self.login or "awo-bot[bot]",
                              author_association="NONE", body=body, created_at=now, updated_at=now,
                              in_reply_to_id=top.in_reply_to_id or top.id))
        return reply_id

    async def update_review_comment(self, full_name: str, comment_id: int, body: str) -> None:
        for thread in self.remarks.values():
            for index, remark in enumerate(thread):
                if remark.kind == "review_comment" and remark.id == comment_id:
                    thread[index] = replace(remark, body=body, updated_at=datetime.now(UTC))
                    return
        raise GitHubError("edit review comment: GitHub answered 404: Not Found", 404)

    async def find_review_comment(self, full_name: str, pr_number: int, marker: str) -> int | None:
        return next((r.id for r in self._of_kind(full_name, pr_number, "review_comment") if marker in r.body), None)

    async def get_file(self, full_name: str, path: str, *, etag: str | None = None) -> RepoFile | None:
        """As the Contents API: the blob's git sha, an ETag derived from it, 304 for an unchanged one."""
        if (full_name, path) in self.unreadable:
            raise GitHubError("read file: GitHub answered 403: Resource not accessible by integration", 403)
        text = self.contents.get((full_name, path))
        if text is None:
            self.file_reads.append((full_name, path, etag, 404))
            return None
        data = text.encode()
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        status = 304 if etag == f'"{sha}"' else 200
        self.file_reads.append((full_name, path, etag, status))
        return RepoFile("", None, etag, not_modified=True) if status == 304 else RepoFile(sha, text, f'"{sha}"')


@dataclass
class FakeAgent:
    """AgentRunner that writes the given files and answers with `answer`, or fails with `error`."""

    files: dict[str, str] = field(default_factory=dict)
    answer: str = "Done."
    error: str | None = None
    cost_usd: float = 0.01
    requests: list[AgentRequest] = field(default_factory=list)

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        self.requests.append(request)
        result = AgentResult(session_id=f"session-{len(self.requests)}", got_result=True, num_turns=1,
                             cost_usd=self.cost_usd, result_text=self.answer, is_error=self.error is not None,
                             error=self.error)
        if "Write" in request.allowed_tools:
            for name, text in self.files.items():
                Path(request.cwd, name).parent.mkdir(parents=True, exist_ok=True)
                Path(request.cwd, name).write_text(text)
                result.tool_uses.append(f"Write {name}")
        if on_progress is not None:
            await on_progress(result)
        return result
