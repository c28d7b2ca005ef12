"""The agent's configuration on a pull request, as its base branch has it.

A pull request can change `CLAUDE.md`, `.claude/` or `.mcp.json`: files the agent reads as its instructions
and tools. Run on the PR's head, the agent would follow the PR's own rules while working on it. So before it
runs, those paths are made as the base branch's commit has them, and before the bot commits they are put back
as HEAD has them: the restoration is never committed, the PR's own change to them stays as the PR made it.

Git runs through the `Checkout`'s own runner (pinned config, hardened environment, the git folder named);
the files are removed here, by code that never follows a link.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# What the agent reads as its configuration, at any depth (`**/` matches the root too); `.claude` on its own
# catches a `.claude` that is a link or a file in one commit and a folder in the other.
PATHSPECS = (
    ":(glob)**/CLAUDE.md", ":(glob)**/CLAUDE.local.md", ":(glob)**/.claude", ":(glob)**/.claude/**",
    ":(top).mcp.json", ":(top).github/agent-work-orders.yml",
)
Git = Callable[..., Awaitable[str]]


@dataclass(frozen=True)
class Pin:
    """What `pin_agent_config` did: the base commit, the pinned paths HEAD has none of (deleted when unpinning,
    the others restored), and each pinned path's state right after pinning (to see what the agent edited)."""

    commit: str
    not_in_head: tuple[str, ...]
    marks: tuple[tuple[str, str], ...]


async def to_base(git: Git, root: Path, commit: str) -> tuple[tuple[str, ...], Pin]:
    """Make the paths of PATHSPECS that differ between HEAD and `commit` as `commit` has them: restored or
    created (by git, from the commit, in the files only: never the index) or deleted; a leading link or file in
    the way of one goes too. The paths changed, and how to put them back."""
    listed = await git("diff", "--no-renames", "--no-ext-diff", "--no-textconv", "-z", "--name-status",
                       "HEAD", commit, "--", *PATHSPECS, cwd=root)
    only_base, both, only_head = differing(listed)
    restore = only_base + both
    shadows = shadowing(root, restore)
    delete(root, only_head + shadows)
    if restore:
        await git("--literal-pathspecs", "restore", f"--source={commit}", "--worktree", "--", *restore, cwd=root)
    pinned = tuple(sorted({*restore, *only_head, *shadows}))
    return pinned, Pin(commit, tuple(only_base), marks(root, pinned))


async def back_to_head(git: Git, root: Path, pinned: tuple[str, ...], record: Pin) -> list[str]:
    """Every pinned path back as HEAD has it; the ones the agent edited since `to_base`."""
    touched = edited(root, record)
    delete(root, list(record.not_in_head))
    back = [path for path in pinned if path not in record.not_in_head]
    if back:
        await git("--literal-pathspecs", "restore", "--source=HEAD", "--worktree", "--", *back, cwd=root)
    return touched


def differing(name_status: str) -> tuple[list[str], list[str], list[str]]:
    """From `git diff -z --name-status HEAD <base>`: the paths only the base has, those both have (differing),
    and those only HEAD has."""
    fields = [field for field in name_status.split("\0") if field]
    only_base: list[str] = []
    both: list[str] = []
    only_head: list[str] = []
    for status, path in zip(fields[::2], fields[1::2], strict=True):
        {"A": only_base, "D": only_head}.get(status[:1], both).append(path)
    return only_base, both, only_head


def shadowing(root: Path, paths: list[str]) -> list[str]:
    """Leading components of `paths` that are not folders in the worktree (a link to elsewhere, a file): they
    go too, so that a path is written inside the worktree and never through a link."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            lead = "/".join(parts[:depth])
            kind = _kind(root / lead)
            if kind == "absent":
                break
            if kind != "dir":
                found.add(lead)
                break
    return sorted(found)


def _kind(path: Path) -> str:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "absent"
    return "dir" if stat.S_ISDIR(mode) else "link" if stat.S_ISLNK(mode) else "file"


def reachable(root: Path, path: str) -> Path | None:
    """The path inside the worktree, or None if a leading component is missing or not a real folder."""
    current = root
    for part in path.split("/")[:-1]:
        current = current / part
        if _kind(current) != "dir":
            return None
    return current / path.split("/")[-1]


def mark(root: Path, path: str) -> str:
    """A path's state, read without following any link: gone, a folder, a link's target, or a file's mode and
    content hash."""
    found = reachable(root, path)
    if found is None:
        return "absent"
    try:
        info = found.lstat()
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(info.st_mode):
        return f"link {os.readlink(found)}"
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    digest = hashlib.sha256()
    with found.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return f"file {info.st_mode & 0o111:o} {digest.hexdigest()}"


def marks(root: Path, paths: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((path, mark(root, path)) for path in paths)


def edited(root: Path, pin: Pin) -> list[str]:
    """The pinned paths whose state changed since pinning (the agent wrote, deleted or replaced them)."""
    return [path for path, was in pin.marks if mark(root, path) != was]


def delete(root: Path, paths: list[str]) -> None:
    """Remove each path (a file, a link itself, a folder) if it is really inside the worktree, deepest first,
    then the folders this left empty: nothing outside the worktree is touched."""
    for path in sorted(paths, key=lambda p: p.count("/"), reverse=True):
        found = reachable(root, path)
        if found is None:
            continue
        kind = _kind(found)
        if kind == "dir":
            shutil.rmtree(found)
        elif kind != "absent":
            found.unlink()
        _prune_empty(root, found.parent)


def _prune_empty(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
