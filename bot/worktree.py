"""What a checkout hands out: a work order's worktree and where it started, and the pure helpers that read a
start point from the mirror's refs. `checkout` runs the git behind them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import pin
from bot.errors import GitError


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str
    base: str  # the commit the branch started from
    resumed: bool  # the branch already existed on the remote (an earlier attempt pushed it)
    mirror: Path | None = None  # the bare mirror it belongs to (never read back from the worktree)
    git_dir: Path | None = None  # its folder inside the mirror, recorded before the agent ran
    remote: str = ""  # the clone URL the mirror fetches from
    default_branch: str = ""  # the remote's default branch: never pushed to
    start: str = ""  # the commit HEAD was at when prepared: the bot's own commits are those after it
    pinned: tuple[str, ...] = ()  # paths made as the PR's base branch has them while the agent runs
    pin_record: pin.Pin | None = None  # how to put them back, and the base commit they came from
    pull_request: bool = False  # a pull request's own branch (any plain name), not one the bot made


@dataclass(frozen=True)
class Early:
    """What a work order's checkout will ask for, known at its claim."""

    clone_url: str
    branch: str
    key: str
    default_branch: str | None
    pull_request: bool = False


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def default_ref(default_branch: str) -> str:
    return f"refs/remotes/origin/{default_branch}"


def start_commit(listed: str, start_ref: str) -> str:
    """The commit of the ref the worktree was checked out at, from `_refs`' listing."""
    return dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)[start_ref]


def start_point(listed: str, branch: str, default_branch: str, pull_request: bool = False) -> tuple[str, bool, str]:
    """From `_refs`' listing: the start ref, whether the branch resumes, and the default branch's commit. A pull
    request's branch must be on the remote: the bot never makes one anew."""
    remote_branch, base_ref = f"refs/remotes/origin/{branch}", default_ref(default_branch)
    commits = dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)
    if base_ref not in commits:
        raise GitError(f"the remote has no branch {default_branch!r} (its default branch, as configured)")
    if remote_branch in commits:
        return remote_branch, True, commits[base_ref]
    if pull_request:
        raise GitError(f"the pull request's branch {branch[:100]!r} is not on the remote (deleted?)")
    return base_ref, False, commits[base_ref]
