#!/usr/bin/env python3
"""A fast stand-in for the `claude` CLI, for queue and crash tests where the model is not the point.

It speaks the same stream-json as the real CLI: reads the prompt on stdin; in an implement step it writes
`work-<issue or wo>.txt` in the working directory; prints init, assistant (tool use) and result lines.
FAKE_CLAUDE_SLEEP=seconds makes each run take that long (to be killed mid-step); FAKE_CLAUDE_AFTER_TOOL=seconds
keeps an implement step going that long after its tool use (to watch the tool use while the step runs).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> int:
    prompt = sys.stdin.read()
    session = str(uuid.uuid4())
    emit({"type": "system", "subtype": "init", "session_id": session, "cwd": os.getcwd()})
    time.sleep(float(os.environ.get("FAKE_CLAUDE_SLEEP", "0")))
    first = prompt.splitlines()[0] if prompt else ""
    if "step: implement" in first:
        name = "work-" + re.sub(r"[^A-Za-z0-9-]+", "-", first.split(" for ")[-1].split(" — ")[0]) + ".txt"
        Path(name).write_text(f"{first}\n")
        block = {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": name}}
        emit({"type": "assistant", "message": {"content": [block]}, "session_id": session})
        time.sleep(float(os.environ.get("FAKE_CLAUDE_AFTER_TOOL", "0")))
    emit({"type": "result", "subtype": "success", "is_error": False, "result": f"Done: {first}",
          "num_turns": 1, "total_cost_usd": 0.001, "duration_ms": 1, "session_id": session})
    return 0


if __name__ == "__main__":
    sys.exit(main())
