"""A push the remote refused because the branch moved meanwhile: how to tell, and what to say if the bot's
commits do not apply on the new head, and their re-application (git through the `Checkout`'s own runner)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.errors import GitError
from bot.process import Completed

Run = Callable[..., Awaitable[Completed]]

# `git push --porcelain`: `!<TAB>from:to<TAB>[rejected] (fetch first)` for a ref the remote has moved.
MOVED = re.compile(r"^!\t\S+\t\[rejected\] \((?:fetch first|non-fast-forward)\)", re.MULTILINE)


def moved(porcelain: str) -> bool:
    """Did the remote refuse the push only because the branch has commits the bot's has not?"""
    return bool(MOVED.search(porcelain))


def conflict(branch: str, now: str) -> str:
    return (f"the branch `{branch}` moved on the remote while the agent worked (now at {now[:7]}) and the "
            "change does not apply on top of it; nothing was pushed. Trigger the work again to redo it on the "
            "new head.")


async def cherry_pick(run: Run, root: Path, branch: str, commits: list[str], onto: str) -> None:
    """The branch moved to `onto` with `commits` picked on it, each committed as by its original committer (the
    author is kept by git); one already on the remote is dropped. If one does not apply: the pick aborted, the
    branch back where it was, and GitError says why."""
    was = (await run("rev-parse", "HEAD", cwd=root)).stdout.strip()
    await run("reset", "--quiet", "--hard", onto, cwd=root)
    for commit in commits:
        who = (await run("show", "-s", "--format=%cn%x00%ce", commit, cwd=root)).stdout.strip()
        name, email = who.split("\0")
        picked = await run("-c", f"user.name={name}", "-c", f"user.email={email}", "cherry-pick", "--allow-empty",
                           commit, cwd=root, check=False)
        if picked.returncode == 0:
            continue
        left = await run("status", "--porcelain", "--untracked-files=no", cwd=root, check=False)
        if left.returncode == 0 and not left.stdout.strip():  # nothing left to commit: the remote has it already
            await run("cherry-pick", "--skip", cwd=root)
            continue
        await run("cherry-pick", "--abort", cwd=root, check=False)
        await run("reset", "--quiet", "--hard", was, cwd=root)
        raise GitError(conflict(branch, onto))
