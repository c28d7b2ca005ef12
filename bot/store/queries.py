"""SQL lives in .sql files as named blocks (`-- name: claim`), loaded once."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\S+)\s*$", re.MULTILINE)


@cache
def load(filename: str) -> dict[str, str]:
    """Named blocks of `bot/store/sql/<filename>`."""
    text = resources.files("bot.store").joinpath("sql", filename).read_text()
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
