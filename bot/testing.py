"""In-memory fakes of the ports, for tests and dry runs: they keep state that tests assert on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.errors import GitHubError
from bot.github import PullRequest, RepoInfo


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
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def git_token(self) -> str | None:
        return self.token

    async def get_repository(self, full_name: str) -> RepoInfo:
        if full_name not in self.repos:
            raise GitHubError(f"get {full_name}: GitHub answered 404: Not Found", 404)
        return self.repos[full_name]

    async def permission(self, full_name: str, login: str) -> str:
        return self.permissions.get(login, "none")

    async def viewer_login(self) -> str | None:
        return self.login

    async def add_reaction(self, full_name: str, issue_number: int, comment_id: int | None, content: str) -> None:
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
