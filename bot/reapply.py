"""A push the remote refused because the branch moved meanwhile: how to tell, and what to say if the bot's
commits do not apply on the new head. Pure; `checkout` runs git."""

from __future__ import annotations

import re

# `git push --porcelain`: `!<TAB>from:to<TAB>[rejected] (fetch first)` for a ref the remote has moved.
MOVED = re.compile(r"^!\t\S+\t\[rejected\] \((?:fetch first|non-fast-forward)\)", re.MULTILINE)


def moved(porcelain: str) -> bool:
    """Did the remote refuse the push only because the branch has commits the bot's has not?"""
    return bool(MOVED.search(porcelain))


def conflict(branch: str, now: str) -> str:
    return (f"the branch `{branch}` moved on the remote while the agent worked (now at {now[:7]}) and the "
            "change does not apply on top of it; nothing was pushed. Trigger the work again to redo it on the "
            "new head.")
