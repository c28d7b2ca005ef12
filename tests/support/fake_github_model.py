"""The fake GitHub's model: records, their GitHub-shaped JSON, and the state (see fake_github.py).

The records are what the fake stores; the ``render_*`` functions turn them into the
objects api.github.com returns. Their key sets mirror the real payloads in
@octokit/webhooks-examples plus what githubkit's REST models require. No HTTP here.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import itertools
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import quote

WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
DEFAULT_BOT = "awo-bot[bot]"
PULLS_DOC = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
SEED_KEYS = {"bot_login", "tokens", "repos", "permissions", "issues", "comments", "pulls", "reviews",
             "review_comments", "app"}
SAME_REPO = "="  # Pull.head_repo: the head is a branch of the base repository's name under head_owner
PHRASES = {status.value: status.phrase for status in HTTPStatus}
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
# `permission` is GitHub's legacy base role: maintain shows as write, triage as read.
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write",
                     "triage": "read", "read": "read", "none": "none"}
FIRST_PULL = 5000  # the first PR number the fake gives (see add_pull)
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
Json = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_id(text: str) -> int:
    return 10_000_000 + zlib.crc32(text.lower().encode())


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def fake_sha(*parts: str) -> str:
    return hashlib.sha1(":".join(parts).encode()).hexdigest()


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    clone_url: str | None = None
    private: bool = False
    description: str | None = None
    default_permission: str = "none"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def id(self) -> int:
        return stable_id(self.full_name)


@dataclass
class Issue:
    repo: str
    number: int
    title: str
    user: str
    body: str | None = None
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class Comment:
    id: int
    repo: str
    issue_number: int
    body: str
    user: str
    html_url: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    minimized: bool = False
    edits: list[Json] = field(default_factory=list)


@dataclass
class Reaction:
    id: int
    repo: str
    subject: Literal["issue", "comment", "review_comment"]
    subject_id: int
    content: str
    user: str
    created_at: str = field(default_factory=now)


@dataclass
class Pull:
    id: int
    repo: str
    number: int
    title: str
    head: str
    head_owner: str
    base: str
    user: str
    html_url: str
    body: str | None = None
    draft: bool = False
    state: str = "open"
    maintainer_can_modify: bool = False
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    head_repo: str | None = SAME_REPO
    files: list[Any] = field(default_factory=list)

    @property
    def head_label(self) -> str:
        return f"{self.head_owner}:{self.head}"


def error(status: int, message: str, doc: str = DOCS, errors: list[Json] | None = None) -> Json:
    body: Json = {"message": message, "documentation_url": doc, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body


def render_user(api: str, login: str) -> Json:
    uid = stable_id(login)
    bot = login.endswith("[bot]")
    users = f"{api}/users/{quote(login)}"
    return {
        "login": login, "id": uid, "node_id": node_id("Bot" if bot else "User", uid),
        "avatar_url": f"https://avatars.githubusercontent.com/{'in/' if bot else 'u/'}{uid}?v=4",
        "gravatar_id": "", "url": users,
        "html_url": f"{WEB}/apps/{login.removesuffix('[bot]')}" if bot else f"{WEB}/{login}",
        "followers_url": f"{users}/followers", "following_url": f"{users}/following{{/other_user}}",
        "gists_url": f"{users}/gists{{/gist_id}}", "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{users}/subscriptions", "organizations_url": f"{users}/orgs",
        "repos_url": f"{users}/repos", "events_url": f"{users}/events{{/privacy}}",
        "received_events_url": f"{users}/received_events",
        "type": "Bot" if bot else "User", "user_view_type": "public", "site_admin": False,
    }


def render_account(api: str, login: str) -> Json:
    """GET /user: a PublicUser (githubkit tries PrivateUser first, then PublicUser)."""
    profile = dict.fromkeys(("name", "company", "blog", "location", "email", "hireable", "bio"))
    counts = {"public_repos": 0, "public_gists": 0, "followers": 0, "following": 0}
    stamps = {"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
    return render_user(api, login) | profile | {"twitter_username": None} | counts | stamps


REPO_URL_TEMPLATES = {
    "forks_url": "/forks", "keys_url": "/keys{/key_id}", "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams", "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}",
    "events_url": "/events", "assignees_url": "/assignees{/user}", "branches_url": "/branches{/branch}",
    "tags_url": "/tags", "blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}", "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages", "stargazers_url": "/stargazers", "contributors_url": "/contributors",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}", "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}", "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}", "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}", "downloads_url": "/downloads", "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}", "deployments_url": "/deployments",
}
REPO_DEFAULTS: Json = {
    "fork": False, "homepage": None, "size": 0, "stargazers_count": 0, "watchers_count": 0,
    "language": None, "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": True,
    "has_pages": False, "has_discussions": False, "forks_count": 0, "mirror_url": None, "archived": False,
    "disabled": False, "license": None, "allow_forking": True, "is_template": False,
    "web_commit_signoff_required": False, "topics": [], "forks": 0, "watchers": 0,
    "temp_clone_token": None, "network_count": 0, "subscribers_count": 0, "custom_properties": {},
    "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
}


def render_repo(api: str, repo: Repo, open_issues: int = 0) -> Json:
    url = f"{api}/repos/{repo.full_name}"
    links = {key: url + suffix for key, suffix in REPO_URL_TEMPLATES.items()}
    return {
        "id": repo.id, "node_id": node_id("Repository", repo.id), "name": repo.name,
        "full_name": repo.full_name, "private": repo.private, "owner": render_user(api, repo.owner),
        "html_url": f"{WEB}/{repo.full_name}", "description": repo.description, "url": url,
        **links, **REPO_DEFAULTS,
        "pushed_at": now(), "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": repo.clone_url or f"{WEB}/{repo.full_name}.git", "svn_url": f"{WEB}/{repo.full_name}",
        "open_issues_count": open_issues, "open_issues": open_issues, "default_branch": repo.default_branch,
        "visibility": "private" if repo.private else "public",
    }


def render_permission(api: str, login: str, role: str) -> Json:
    rank = ROLES.index(role)
    flags = {flag: rank <= i for i, flag in enumerate(("admin", "maintain", "push", "triage", "pull"))}
    user = render_user(api, login) | {"permissions": flags, "role_name": role}
    return {"permission": LEGACY_PERMISSION[role], "role_name": role, "user": user}


def reaction_rollup(url: str) -> Json:
    return {"url": url, "total_count": 0, **dict.fromkeys(REACTIONS, 0)}


def render_label(api: str, repo: str, name: str) -> Json:
    lid = stable_id(f"{repo}#{name}")
    return {"id": lid, "node_id": node_id("Label", lid), "url": f"{api}/repos/{repo}/labels/{quote(name)}",
            "name": name, "color": "ededed", "default": False, "description": None}


def render_issue(api: str, issue: Issue, author: Json, association: str, comments: int,
                 pull: Pull | None) -> Json:
    url = f"{api}/repos/{issue.repo}/issues/{issue.number}"
    iid = stable_id(f"{issue.repo}#{issue.number}")
    kind = "pull" if pull else "issues"
    body: Json = {
        "url": url, "repository_url": f"{api}/repos/{issue.repo}", "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments", "events_url": f"{url}/events",
        "html_url": f"{WEB}/{issue.repo}/{kind}/{issue.number}", "id": iid, "node_id": node_id("Issue", iid),
        "number": issue.number, "title": issue.title, "user": author,
        "labels": [render_label(api, issue.repo, name) for name in issue.labels], "state": issue.state,
        "locked": False, "assignee": None, "assignees": [], "milestone": None, "comments": comments,
        "created_at": issue.created_at, "updated_at": issue.updated_at,
        "closed_at": None if issue.state == "open" else issue.updated_at,
        "author_association": association, "active_lock_reason": None, "body": issue.body,
        "reactions": reaction_rollup(f"{url}/reactions"), "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None, "state_reason": None, "draft": pull.draft if pull else False,
    }
    if pull:
        pulls = f"{api}/repos/{issue.repo}/pulls/{issue.number}"
        body["pull_request"] = {"url": pulls, "html_url": pull.html_url, "diff_url": f"{pull.html_url}.diff",
                                "patch_url": f"{pull.html_url}.patch", "merged_at": None}
    return body


def render_comment(api: str, comment: Comment, author: Json, association: str) -> Json:
    url = f"{api}/repos/{comment.repo}/issues/comments/{comment.id}"
    return {
        "url": url, "html_url": comment.html_url,
        "issue_url": f"{api}/repos/{comment.repo}/issues/{comment.issue_number}",
        "id": comment.id, "node_id": node_id("IssueComment", comment.id), "user": author,
        "created_at": comment.created_at, "updated_at": comment.updated_at,
        "author_association": association, "body": comment.body,
        "reactions": reaction_rollup(f"{url}/reactions"), "performed_via_github_app": None,
    }


def render_reaction(api: str, reaction: Reaction) -> Json:
    return {"id": reaction.id, "node_id": node_id("Reaction", reaction.id),
            "user": render_user(api, reaction.user), "content": reaction.content,
            "created_at": reaction.created_at}


def _branch(api: str, owner: str, ref: str, repo: Repo | None) -> Json:
    return {"label": f"{owner}:{ref}", "ref": ref, "sha": fake_sha(owner, ref),
            "user": render_user(api, owner), "repo": _branch_repo(api, repo) if repo else None}


def _branch_repo(api: str, repo: Repo) -> Json:
    """A PR's head/base repository: its description has no null temp_clone_token, so GitHub leaves it out."""
    return {k: v for k, v in render_repo(api, repo).items() if k != "temp_clone_token"}


def _pull_links(api: str, pull: Pull) -> Json:
    url = f"{api}/repos/{pull.repo}/pulls/{pull.number}"
    issue = f"{api}/repos/{pull.repo}/issues/{pull.number}"
    statuses = f"{api}/repos/{pull.repo}/statuses/{fake_sha(pull.head_owner, pull.head)}"
    return {"url": url, "diff_url": f"{pull.html_url}.diff", "patch_url": f"{pull.html_url}.patch",
            "issue_url": issue, "commits_url": f"{url}/commits", "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/repos/{pull.repo}/pulls/comments{{/number}}",
            "comments_url": f"{issue}/comments", "statuses_url": statuses}


def render_pull(api: str, pull: Pull, base: Repo, head: Repo | None, comments: int | None = None) -> Json:
    """A PullRequest; with ``comments=None`` the shorter PullRequestSimple used by list."""
    urls = _pull_links(api, pull)
    links = {"self": urls["url"], "html": pull.html_url, "issue": urls["issue_url"],
             "comments": urls["comments_url"], "review_comments": urls["review_comments_url"],
             "review_comment": urls["review_comment_url"], "commits": urls["commits_url"],
             "statuses": urls["statuses_url"]}
    body: Json = {
        **urls, "id": pull.id, "node_id": node_id("PullRequest", pull.id), "html_url": pull.html_url,
        "number": pull.number, "state": pull.state, "locked": False, "title": pull.title,
        "user": render_user(api, pull.user), "body": pull.body, "created_at": pull.created_at,
        "updated_at": pull.updated_at, "closed_at": pull.closed_at, "merged_at": None,
        "merge_commit_sha": None, "assignee": None, "assignees": [], "requested_reviewers": [],
        "requested_teams": [], "labels": [], "milestone": None, "draft": pull.draft,
        "head": _branch(api, pull.head_owner, pull.head, head),
        "base": _branch(api, base.owner, pull.base, base),
        "_links": {rel: {"href": href} for rel, href in links.items()},
        "author_association": "NONE", "auto_merge": None, "active_lock_reason": None,
    }
    if comments is None:
        return body
    return body | {
        "merged": False, "mergeable": None, "rebaseable": None, "mergeable_state": "unknown",
        "merged_by": None, "comments": comments, "review_comments": 0,
        "maintainer_can_modify": pull.maintainer_can_modify, "commits": 1, "additions": 1,
        "deletions": 1, "changed_files": 1,
    }


# ---------------------------------------------------------------- state


class GitHubError(Exception):
    """Raised by handlers; becomes a GitHub-shaped error response."""

    def __init__(self, status: int, message: str, doc: str = DOCS, errors: list[Json] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error(status, message, doc, errors)


class SeedError(ValueError):
    """A /_fake/state seed that does not fit the format."""


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    path_regex: str
    status: int = 502
    method: str | None = None
    times: int | None = 1
    body: Json | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        status_ok = isinstance(self.status, int) and 100 <= self.status <= 599
        times_ok = self.times is None or (isinstance(self.times, int) and self.times >= 1)
        if not (status_ok and times_ok and isinstance(self.path_regex, str)):
            raise SeedError(f"a fault needs 100 <= status <= 599, times >= 1 or null, a path_regex: {self}")
        try:
            re.compile(self.path_regex)
        except re.error as exc:
            raise SeedError(f"bad path_regex {self.path_regex!r}: {exc}") from exc

    def matches(self, method: str, path: str) -> bool:
        wanted = self.method in (None, "*") or str(self.method).upper() == method
        return wanted and re.search(self.path_regex, path) is not None

    def fire(self) -> Reply:
        if self.times is not None:
            self.times -= 1
        body = self.body if self.body is not None else error(self.status, PHRASES.get(self.status, "Error"))
        return Reply(self.status, body, dict(self.headers))


@dataclass
class FakeState:
    bot_login: str = DEFAULT_BOT
    tokens: set[str] = field(default_factory=set)
    repos: dict[str, Repo] = field(default_factory=dict)
    permissions: dict[str, dict[str, str]] = field(default_factory=dict)
    issues: dict[tuple[str, int], Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    pulls: dict[tuple[str, int], Pull] = field(default_factory=dict)
    reviews: dict[int, Any] = field(default_factory=dict)
    reviews_by_pull: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    review_comments: dict[int, Any] = field(default_factory=dict)
    review_comments_by_pull: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    calls: list[Json] = field(default_factory=list)
    violations: list[Json] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(2_000_000_001))
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    app: Any = None  # a GitHub App (fake_github_app.FakeApp), seeded under "app"

    def repo(self, owner: str, name: str) -> Repo:
        found = self.repos.get(f"{owner}/{name}".lower())
        if found is None:
            raise GitHubError(404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
        return found

    def role(self, repo: Repo, login: str) -> str:
        return self.permissions.get(repo.full_name.lower(), {}).get(login.lower(), repo.default_permission)

    def association(self, repo: Repo, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        return "NONE" if self.role(repo, login) == "none" else "COLLABORATOR"

    def pull(self, repo: Repo, number: int) -> Pull | None:
        return self.pulls.get((repo.full_name.lower(), number))

    def issue(self, repo: Repo, number: int) -> Issue:
        """Seeded issue, the issue half of a PR, or (lenient) a placeholder for any other number."""
        seeded = self.issues.get((repo.full_name.lower(), number))
        if seeded:
            return seeded
        pull = self.pull(repo, number)
        if pull:
            return Issue(repo.full_name, number, pull.title, pull.user, pull.body, pull.state,
                         created_at=pull.created_at, updated_at=pull.updated_at)
        return Issue(repo.full_name, number, f"Issue #{number}", repo.owner, None,
                     created_at="2024-01-01T00:00:00Z", updated_at="2024-01-01T00:00:00Z")

    def comments_on(self, repo: Repo, number: int) -> list[Comment]:
        key = repo.full_name.lower()
        return [c for c in self.comments.values() if c.repo.lower() == key and c.issue_number == number]

    def add_comment(self, repo: Repo, issue_number: int, body: str | None = None, user: str | None = None,
                    id: int | None = None, created_at: str | None = None, minimized: bool = False,  # noqa: A002
                    edits: list[Json] | None = None) -> Comment:
        from .fake_github_threads import history

        text, revisions = history(body, edits)
        cid = id or next(self.ids)
        kind = "pull" if self.pull(repo, issue_number) else "issues"
        url = f"{WEB}/{repo.full_name}/{kind}/{issue_number}#issuecomment-{cid}"
        stamp = created_at or now()
        comment = Comment(cid, repo.full_name, issue_number, text, user or self.bot_login, url, stamp,
                          revisions[-1]["edited_at"] if revisions else stamp, minimized, revisions)
        self.comments[cid] = comment
        return comment

    def add_pull(self, repo: Repo, head: str, base: str, title: str, user: str | None = None,
                 body: str | None = None, draft: bool = False, state: str = "open",
                 maintainer_can_modify: bool = False, number: int | None = None,
                 head_repo: str | None = SAME_REPO, files: list[Json] | None = None) -> Pull:
        from .fake_github_threads import PullFile

        head_owner, _, ref = head.rpartition(":")
        # Issues and PRs share one numbering on GitHub. Tests name issues by number in payloads alone (never
        # seeded here), so PRs are numbered from FIRST_PULL on: a PR never takes the number of such an issue.
        numbers = [n for (key, n) in [*self.issues, *self.pulls] if key == repo.full_name.lower()]
        number = number or max([*numbers, FIRST_PULL - 1]) + 1
        pull = Pull(next(self.ids), repo.full_name, number, title, ref, head_owner or repo.owner, base,
                    user or self.bot_login, f"{WEB}/{repo.full_name}/pull/{number}", body, draft, state,
                    maintainer_can_modify, head_repo=head_repo,
                    files=[bind_spec(PullFile, f) for f in files or []])
        self.pulls[(repo.full_name.lower(), number)] = pull
        return pull

    def take_fault(self, method: str, path: str) -> Reply | None:
        for fault in self.faults:
            if fault.matches(method, path):
                reply = fault.fire()
                self.faults = [f for f in self.faults if f.times is None or f.times > 0]
                return reply
        return None

    def record(self, call: Json) -> None:
        """Append a call ({method, path, query, json, status, authorization, faulted}), numbered and timed."""
        auth = call.get("authorization")
        token = auth.partition(" ")[2] if auth else None
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.calls.append({"seq": next(self.seq), "time": stamp, **call, "token": token})

    def reset(self) -> None:
        fresh = FakeState(bot_login=self.bot_login, tokens=self.tokens)
        self.__dict__.update(fresh.__dict__)

    def snapshot(self) -> Json:
        return {
            "bot_login": self.bot_login, "tokens": sorted(self.tokens),
            "repos": {r.full_name: asdict(r) for r in self.repos.values()}, "permissions": self.permissions,
            "issues": [asdict(i) for i in self.issues.values()],
            "comments": [asdict(c) for c in self.comments.values()],
            "reactions": [asdict(r) for r in self.reactions],
            "pulls": [asdict(p) | {"head_label": p.head_label} for p in self.pulls.values()],
            "reviews": [asdict(r) for r in self.reviews.values()],
            "review_comments": [asdict(c) for c in self.review_comments.values()],
            "faults": [asdict(f) for f in self.faults],
        }

    def seed(self, data: Any) -> None:
        """Merge a seed (see the module docstring of fake_github.py) into the state; not atomic."""
        if not isinstance(data, Mapping) or set(data) - SEED_KEYS:
            raise SeedError(f"a seed is an object with keys from {sorted(SEED_KEYS)}")
        self.bot_login = str(data.get("bot_login", self.bot_login))
        if "tokens" in data:
            self.tokens = set(_section(data, "tokens", list))
        for full_name, spec in _section(data, "repos").items():
            owner, name = _split_repo(full_name)
            self.repos[full_name.lower()] = bind_spec(Repo, spec, owner=owner, name=name)
        for full_name, people in _section(data, "permissions").items():
            self._seed_roles(self._seeded(full_name), people)
        for full_name, items in _section(data, "issues").items():
            repo = self._seeded(full_name)
            for spec in items:
                issue = bind_spec(Issue, {"user": repo.owner, **spec}, repo=repo.full_name)
                self.issues[(full_name.lower(), issue.number)] = issue
        for kind, add in (("comments", self.add_comment), ("pulls", self.add_pull)):
            for full_name, items in _section(data, kind).items():
                for spec in items:
                    bind_spec(add, spec, repo=self._seeded(full_name))
        from .fake_github_threads import seed_threads

        seed_threads(self, data)
        from .fake_github_app import seed_app

        seed_app(self, data)

    def _seeded(self, full_name: str) -> Repo:
        found = self.repos.get(full_name.lower())
        if found is None:
            raise SeedError(f"repo {full_name!r} is not seeded under 'repos'")
        return found

    def _seed_roles(self, repo: Repo, people: Any) -> None:
        if not isinstance(people, Mapping):
            raise SeedError(f"permissions for {repo.full_name} must map login -> role")
        bad = {login: role for login, role in people.items() if role not in ROLES}
        if bad:
            raise SeedError(f"unknown roles {bad}; use one of {ROLES}")
        table = self.permissions.setdefault(repo.full_name.lower(), {})
        table.update({login.lower(): role for login, role in people.items()})


def _section(data: Mapping[str, Any], key: str, kind: type = dict) -> Any:
    value = data.get(key, kind())
    if not isinstance(value, kind):
        raise SeedError(f"seed key {key!r} must be a JSON {'array' if kind is list else 'object'}")
    return value


def _split_repo(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    if not owner or not name or "/" in name:
        raise SeedError(f"repo names are 'owner/name', got {full_name!r}")
    return owner, name


def bind_spec(target: Callable[..., Any], spec: Any, **fixed: Any) -> Any:
    if not isinstance(spec, Mapping):
        raise SeedError(f"expected an object for {getattr(target, '__name__', target)}, got {spec!r}")
    try:
        inspect.signature(target).bind(**fixed, **spec)
    except TypeError as exc:
        raise SeedError(f"{getattr(target, '__name__', target)}: {exc}") from exc
    return target(**fixed, **spec)
