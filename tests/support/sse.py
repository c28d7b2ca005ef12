"""Reading a Server-Sent Events response as a browser's EventSource does, for the log stream's tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx


def sse_events(response: httpx.Response) -> Iterator[tuple[float, str, Any]]:
    """(arrival time, event name, JSON data) of each event; comments (pings) are skipped."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield time.monotonic(), name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data += line.partition(":")[2].strip()
