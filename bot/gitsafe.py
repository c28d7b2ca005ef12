"""What git may be given, and how it runs: ref and work order names the bot accepts, the environment and
pinned config of every git command, the token as a header for the GitHub host only, mirror names and
config, and removal confined to the data folder. Pure functions; `checkout` runs git with them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from bot.errors import GitError
from bot.remotes import RemotePolicy, strip_userinfo

WORK_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
WORK_ORDER_KEY = re.compile(r"^wo-[0-9a-f]{8}$")
REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
BRANCH = re.compile(r"^claude/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# Overrides whatever a tampered repository config says: command-line config wins over every file.
PINNED = (
    "core.hooksPath=/dev/null", "core.fsmonitor=false", "core.sshCommand=false", "credential.helper=",
    "commit.gpgSign=false", "tag.gpgSign=false", "push.gpgSign=false", "protocol.allow=never",
)


def auth_env(token: str | None, origin: str = "https://github.com") -> dict[str, str]:
    """The token as an HTTP header for the GitHub host only: never in argv, never in a file."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{origin.rstrip('/')}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def hardened_env(base_env: Mapping[str, str], policy: RemotePolicy) -> dict[str, str]:
    """No system or global config, no prompts, and only the allowed transports."""
    return {
        **base_env, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ":".join(policy.protocols), "GIT_PROTOCOL_FROM_USER": "0",
    }


def pinned_args(policy: RemotePolicy) -> list[str]:
    allowed = [f"protocol.{name}.allow=always" for name in policy.protocols]
    return [arg for value in (*PINNED, *allowed) for arg in ("-c", value)]


def mirror_config(clone_url: str) -> str:
    """The whole config of a mirror: what the bot wrote, and nothing a tampering could have added."""
    return (
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
        f'[remote "origin"]\n\turl = {clone_url}\n\tfetch = {WORK_BRANCHES}\n'
    )


def mirror_name(clone_url: str) -> str:
    """A stable folder name for a remote: readable slug plus a hash of the URL (credentials never in it)."""
    clone_url = strip_userinfo(clone_url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", clone_url.rstrip("/").removesuffix(".git"))[-60:].strip("-.")
    return f"{slug}-{hashlib.sha1(clone_url.encode()).hexdigest()[:8]}.git"


def safe_rmtree(root: Path, path: Path) -> None:
    """Remove `path` only if it resolves to a folder strictly inside `root` (never a link out of it)."""
    resolved, top = path.resolve(), root.resolve()
    if path.is_symlink() or resolved == top or not resolved.is_relative_to(top):
        raise GitError(f"refusing to remove {path}: not inside {top}")
    if resolved.exists():
        shutil.rmtree(resolved)


def check_key(key: str) -> str:
    """A worktree is named after its work order id, which must have the shape the bot gives it."""
    if not WORK_ORDER_KEY.match(key):
        raise GitError(f"refusing work order id {key[:40]!r}: not of the form wo-<8 hex digits>")
    return key


def check_ref(name: str) -> str:
    """A branch name read from a row or a payload, before it becomes part of a ref git resolves."""
    if not REF.match(name) or ".." in name or name.endswith((".lock", "/", ".")):
        raise GitError(f"refusing branch name {name[:80]!r}")
    return name


def check_branch(branch: str, default_branch: str | None = None, pull_request: bool = False) -> str:
    """Branches the bot creates start with `claude/`, are plain ref names and never the default branch; a pull
    request's own head branch (checked against GitHub when the work order was admitted and again when it was
    claimed) may have any plain name, and is never the default branch either."""
    shape = REF if pull_request else BRANCH
    bad = not shape.match(branch) or ".." in branch or branch.endswith((".lock", ".", "/"))
    if bad or branch == default_branch:
        allowed = "a pull request's branch" if pull_request else "claude/... branches"
        raise GitError(f"refusing branch {branch[:80]!r}: the bot only writes {allowed}, never the default branch")
    return branch
