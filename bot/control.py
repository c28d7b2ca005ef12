"""Stop and retry: what may be cancelled or retried, and what is said when it may not (pure)."""

from __future__ import annotations

from bot.errors import Conflict
from bot.models import Status, WorkOrder

STOPPED = "stopped on request"  # the error_message of a work order cancelled on request
RETRYABLE = (Status.FAILED, Status.CANCELLED)


def not_cancellable(work_order: WorkOrder) -> Conflict:
    return Conflict(f"work order {work_order.id} is {work_order.status}: only a pending or running one can be "
                    "cancelled")


def not_retryable(work_order: WorkOrder) -> Conflict:
    return Conflict(f"work order {work_order.id} is {work_order.status}: only a failed or cancelled one can be "
                    "retried")


# Commands: a trigger that names one is not a request, and never starts an agent.
STOP = "stop"  # `@claude stop` / `@claude cancel`: cancel the waiting or running work order(s)
RETRY = "retry"  # `@claude retry`: run the last failed or cancelled work order again
UNLABELED = "unlabeled"  # the trigger label was removed: cancel the waiting work order(s)
COMMAND_WORDS = {"stop": STOP, "cancel": STOP, "retry": RETRY}


def command_in(request: str) -> str | None:
    """The command a request starts with (its first word, any case, trailing punctuation aside), or None."""
    words = request.split(maxsplit=1)
    return COMMAND_WORDS.get(words[0].rstrip(".,:;!?").lower()) if words else None
