"""The agent's OS sandbox: the Claude CLI runs under bubblewrap, seeing only the system, itself and one worktree.

The CLI's own permission rules keep honest edits in the worktree; this is what holds when they do not
(a prompt-injected tool call, a CLI bug): the data folder, the mirrors, other worktrees, the bot's home and
environment are simply not there. See SECURITY.md for what it does not cover.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from bot import process

SandboxKind = Literal["bwrap", "none"]

# Read-only: what a dynamically linked program, DNS and TLS need. Not all of /etc: it holds host secrets.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_PATHS = (
    "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
    "/etc/host.conf", "/etc/gai.conf", "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/ld.so.cache",
    "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
)
# New namespaces for everything but the network (the CLI must reach ANTHROPIC_BASE_URL); no capabilities.
ISOLATION = (
    "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--die-with-parent", "--new-session", "--cap-drop", "ALL",
)
INSTALL_HINT = "install it (`apt-get install -y bubblewrap`) or set AWO_AGENT_SANDBOX=none to run the agent unsandboxed"


@dataclass(frozen=True)
class Jail:
    """What one agent run may touch: its worktree (read-write, `.git` read-only) and its private scratch."""

    worktree: Path
    scratch: Path  # HOME, CLAUDE_CONFIG_DIR and TMPDIR live here; deleted after the run
    program: Path  # the CLI, resolved


@dataclass(frozen=True)
class SandboxStatus:
    kind: SandboxKind
    available: bool
    detail: str


class Sandbox(Protocol):
    kind: SandboxKind

    async def check(self) -> str | None:
        """None when agent runs can start, else why not, in one line."""

    def wrap(self, argv: Sequence[str], jail: Jail) -> list[str]: ...


class NoSandbox:
    """The operator's explicit opt-out (AWO_AGENT_SANDBOX=none): the CLI runs as the bot's user."""

    kind: SandboxKind = "none"

    async def check(self) -> str | None:
        return None

    def wrap(self, argv: Sequence[str], jail: Jail) -> list[str]:
        return [str(jail.program), *argv[1:]]


class Bubblewrap:
    """bubblewrap (Debian's `bubblewrap` package): new mount, pid, ipc, uts and user namespaces."""

    kind: SandboxKind = "bwrap"

    def __init__(self, bwrap: str | None) -> None:
        self.bwrap = bwrap
        self._working = False

    async def check(self) -> str | None:
        if self.bwrap is None:
            return f"AWO_AGENT_SANDBOX=bwrap but bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
        if self._working:
            return None
        done = await process.run([self.bwrap, *ISOLATION, *system_binds(), "--", "/bin/true"], timeout=20)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1][:200]
            return f"AWO_AGENT_SANDBOX=bwrap but bubblewrap cannot create a sandbox here ({why}); see SECURITY.md"
        self._working = True
        return None

    def wrap(self, argv: Sequence[str], jail: Jail) -> list[str]:
        assert self.bwrap is not None, "check() first"
        return [self.bwrap, *ISOLATION, *system_binds(), *program_binds(jail.program), *private_binds(jail),
                "--chdir", str(jail.worktree), "--", str(jail.program), *argv[1:]]


def system_binds() -> list[str]:
    """The read-only system, a private /proc, /dev and /tmp; merged-/usr symlinks kept as symlinks."""
    args: list[str] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_PATHS:
        args += ["--ro-bind-try", path, path]
    return [*args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


def program_binds(program: Path) -> list[str]:
    """The CLI read-only: its npm package folder if it is in one, else the binary alone (never its siblings,
    which may be the bot's own folder)."""
    package = package_root(program)
    target = str(package or program)
    return ["--ro-bind", target, target]


def package_root(program: Path) -> Path | None:
    """`.../node_modules/<pkg>` or `.../node_modules/@scope/<pkg>` holding the program, if any."""
    parts = program.parts
    if "node_modules" not in parts[:-1]:
        return None
    at = len(parts) - 1 - parts[::-1].index("node_modules")
    width = 3 if at + 1 < len(parts) and parts[at + 1].startswith("@") else 2
    return Path(*parts[: at + width]) if at + width < len(parts) else None


def private_binds(jail: Jail) -> list[str]:
    """The worktree read-write, its `.git` pointer read-only (the bot's own git reads it later), the scratch."""
    tree, scratch = str(jail.worktree), str(jail.scratch)
    args = ["--bind", tree, tree]
    git_file = jail.worktree / ".git"
    if git_file.exists():
        args += ["--ro-bind", str(git_file), str(git_file)]
    return [*args, "--bind", scratch, scratch]


def resolve_program(cli_path: str, path_env: str) -> Path | None:
    """The CLI's real file: looked up on the agent's PATH, symlinks (node_modules/.bin) followed."""
    found = shutil.which(cli_path, path=path_env)
    return Path(found).resolve() if found else None


def build_sandbox(kind: SandboxKind, path_env: str) -> Sandbox:
    if kind == "none":
        return NoSandbox()
    return Bubblewrap(shutil.which("bwrap", path=path_env))


async def probe_sandbox(sandbox: Sandbox) -> SandboxStatus:
    """For start-up, `awo doctor` and /health."""
    problem = await sandbox.check()
    if problem is not None:
        return SandboxStatus(sandbox.kind, False, problem)
    if isinstance(sandbox, Bubblewrap):
        return SandboxStatus("bwrap", True, f"bubblewrap at {sandbox.bwrap}: the agent sees only its worktree")
    return SandboxStatus(sandbox.kind, True, "AWO_AGENT_SANDBOX=none: the agent runs unsandboxed, as the bot's user")
