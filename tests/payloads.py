"""Real webhook payloads from @octokit/webhooks-examples (pinned in tests/fixtures/package.json)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

INDEX = Path(__file__).parent / "fixtures/node_modules/@octokit/webhooks-examples/api.github.com/index.json"


@cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    if not INDEX.exists():
        raise RuntimeError(f"{INDEX} is missing: run `make test` (it runs npm install in tests/fixtures)")
    return {entry["name"]: entry["examples"] for entry in json.loads(INDEX.read_text())}


def example(event: str, action: str | None = None, **edits: Any) -> dict[str, Any]:
    """A deep copy of the first real payload for (event, action), with dotted-path edits applied."""
    for payload in _examples()[event]:
        if action is None or payload.get("action") == action:
            edited = _delivered_now(copy.deepcopy(payload))
            for path, value in edits.items():
                _set(edited, path.split("__"), value)
            return edited
    raise KeyError(f"no example for {event}.{action}")


def _delivered_now(payload: dict[str, Any]) -> dict[str, Any]:
    """GitHub sends an event as it happens: the times admission's age window reads are now, unless edited."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for part, field in (("issue", "updated_at"), ("comment", "created_at"), ("comment", "updated_at"),
                        ("review", "submitted_at"), ("pull_request", "updated_at")):
        if isinstance(payload.get(part), dict) and field in payload[part]:
            payload[part][field] = stamp
    return payload


def _set(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
