"""Mapping between models and the flat rows of the SQL backends."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

JSON_FIELDS = frozenset({"metadata", "default_commands", "payload", "data"})


def iso(moment: datetime) -> str:
    """A sortable UTC timestamp (fixed width, so text comparison orders it)."""
    return moment.isoformat(timespec="microseconds")


def to_cell(name: str, value: Any, *, text_json: bool) -> Any:
    if isinstance(value, datetime):
        return iso(value) if text_json else value
    if isinstance(value, Enum):
        return value.value
    if name in JSON_FIELDS:
        return json.dumps(value) if text_json else value
    return value


def to_row(model: BaseModel, *, text_json: bool = True, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Columns named like the model's fields."""
    return {
        name: to_cell(name, getattr(model, name), text_json=text_json)
        for name in type(model).model_fields
        if name not in exclude
    }


def from_row(cls: type[M], row: dict[str, Any]) -> M:
    """A model from a row; JSON stored as text is decoded, unknown columns are dropped."""
    data = {key: row[key] for key in cls.model_fields if key in row}
    for key in JSON_FIELDS & data.keys():
        if isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return cls.model_validate(data)
