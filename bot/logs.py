"""Logging set up once: one format for every logger (ours and uvicorn's), JSON lines on request.

A line written while a work order runs carries its id, repository and issue, wherever it was logged:
the worker binds them in a context variable, which every task started from there inherits.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from bot.models import WorkOrder

CONTEXT: ContextVar[Mapping[str, object]] = ContextVar("awo_log_context", default=MappingProxyType({}))
# Attributes every LogRecord has; anything else on a record was passed in `extra=` and belongs in the line.
# uvicorn's `color_message` repeats the message with terminal colour codes.
STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn installs its own handlers and format unless they are emptied; then its records reach ours.
THIRD_PARTY = ("uvicorn", "uvicorn.error", "uvicorn.access", "psycopg", "psycopg.pool")


def fields(work_order: WorkOrder) -> dict[str, object]:
    """The context of one line about a work order (for `extra=` where no context is bound)."""
    return {"work_order_id": work_order.id, "repo": work_order.repo_full_name, "issue": work_order.issue_number}


@contextmanager
def work_order_context(work_order: WorkOrder) -> Iterator[None]:
    """Every line logged inside (and in tasks started inside) names this work order."""
    token = CONTEXT.set(fields(work_order))
    try:
        yield
    finally:
        CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (a handler filter: it sees records of every logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in CONTEXT.get().items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """The classic line, with `key=value` context at its end."""

    def __init__(self) -> None:
        super().__init__(TEXT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={v}" for k, v in extras(record).items())
        if not context:
            return line
        first, newline, rest = line.partition("\n")  # a traceback stays below the line it belongs to
        return f"{first} [{context}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            **extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def handler(fmt: str, stream: Any = None) -> logging.Handler:
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    out.addFilter(ContextFilter())
    return out


def configure(level: str, fmt: str = "text", stream: Any = None) -> None:
    """Route every logger through one handler on the root, in one format."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt, stream))
    root.setLevel(level)
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
