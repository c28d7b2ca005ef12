"""`awo serve` with LOG_FORMAT=json writes nothing but JSON lines, uvicorn's own lines included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ROOT, free_port, wait_until
from tests.gitrepo import GIT_ENV

pytestmark = pytest.mark.e2e


def _health(port: int) -> dict[str, object] | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()  # type: ignore[no-any-return]
    except httpx.TransportError:
        return None


def test_serve_logs_one_json_object_per_line_with_refusals_and_their_reason(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "LOG_FORMAT": "json",
           "AGENT_WORK_ORDERS_PORT": str(port), "GITHUB_WEBHOOK_SECRET": "s3cret",
           **{k: v for k, v in GIT_ENV.items() if k.startswith("GIT_")}}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: _health(port), timeout=30)
        refused = httpx.post(f"http://127.0.0.1:{port}/webhooks/github", content=b'{"zen": "body-marker"}',
                             headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "forged-1",
                                      "X-Hub-Signature-256": "sha256=" + "0" * 64})
        assert refused.status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # a non-JSON line fails here
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["logger"].startswith("uvicorn") for line in lines), text  # uvicorn's format is gone
    assert "\x1b[" not in text and "\\u001b" not in text  # nor its terminal colours
    [refusal] = [line for line in lines if line.get("delivery_id") == "forged-1"]
    assert refusal["level"] == "WARNING" and refusal["status"] == 401
    assert "X-Hub-Signature-256" in refusal["reason"] and "body-marker" not in text
