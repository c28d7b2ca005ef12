"""A malformed GitHub App key stops `awo serve` and `awo worker` at start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_github_app import new_key_pair

PRIVATE, _ = new_key_pair()


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"]])
@pytest.mark.parametrize(("variable", "value"), [
    ("GITHUB_APP_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all\n-----END RSA PRIVATE KEY-----"),
    ("GITHUB_APP_PRIVATE_KEY", PRIVATE[:400]),  # cut short, as a badly quoted .env line leaves it
    ("GITHUB_APP_PRIVATE_KEY_FILE", "app.pem"),  # a file holding a public key
])
def test_a_malformed_app_key_is_one_line_naming_it(tmp_path: Path, command: list[str], variable: str,
                                                    value: str) -> None:
    (tmp_path / "app.pem").write_text(new_key_pair()[1])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_APP_ID": "12345", variable: value}
    done = subprocess.run([sys.executable, "-m", "bot.cli", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr  # a configuration error, before anything starts
    lines = [line for line in done.stderr.splitlines() if not line.startswith(tuple("0123456789"))]  # log lines
    assert len(lines) == 1 and lines[0].startswith(f"awo: configuration error: {variable}: "), done.stderr
    assert "Traceback" not in done.stderr and PRIVATE.splitlines()[1] not in done.stderr
