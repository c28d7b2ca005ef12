"""Where the bot writes about a work order: the issue's (or PR's) conversation, or the review thread it was
asked in, where its comment is a threaded reply (GitHub's review-comment replies) edited in place."""

from __future__ import annotations

from dataclasses import dataclass

from bot.github import GitHubPort
from bot.models import Trigger, WorkOrder


@dataclass(frozen=True)
class Thread:
    repo: str
    number: int  # the issue or pull request
    review_thread: int | None = None  # the top comment of a review thread: the bot replies in it

    async def post(self, github: GitHubPort, body: str) -> int:
        if self.review_thread is None:
            return await github.create_comment(self.repo, self.number, body)
        return await github.reply_to_review_comment(self.repo, self.number, self.review_thread, body)

    async def edit(self, github: GitHubPort, comment_id: int, body: str) -> None:
        if self.review_thread is None:
            await github.update_comment(self.repo, comment_id, body)
        else:
            await github.update_review_comment(self.repo, comment_id, body)

    async def find(self, github: GitHubPort, marker: str) -> int | None:
        """The bot's comment carrying `marker` in this thread (a crash left its id unsaved), if any."""
        if self.review_thread is None:
            return await github.find_comment(self.repo, self.number, marker)
        return await github.find_review_comment(self.repo, self.number, marker)


def thread_of(work_order: WorkOrder) -> Thread | None:
    """Where this work order's progress comment is; None for one not made on GitHub (the API, `awo run`)."""
    if work_order.issue_number is None:
        return None
    reply_to = work_order.metadata.get("reply_to")
    review = reply_to.get("thread") if isinstance(reply_to, dict) and reply_to.get("kind") == "review_comment" else None
    return Thread(work_order.repo_full_name, work_order.issue_number, review if isinstance(review, int) else None)


def thread_for(trigger: Trigger) -> Thread:
    """Where a trigger is answered: its review thread for a comment on a line of the diff, else its conversation."""
    review = trigger.thread_id if trigger.comment_kind == "review_comment" else None
    return Thread(trigger.repo_full_name, trigger.issue_number, review)
