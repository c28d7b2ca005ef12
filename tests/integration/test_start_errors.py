"""A bad setting stops `awo serve` and `awo worker` with one line naming it; an outage does not stop them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"]])
@pytest.mark.parametrize("url", ["postgresql://127.0.0.1:1/db?bogus=1", "not a url at all"])
def test_a_malformed_database_url_is_one_line_naming_it(tmp_path: Path, command: list[str], url: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "STATE_STORAGE_TYPE": "postgres", "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith(tuple("0123456789"))]  # log lines
    assert len(lines) == 1 and lines[0].startswith("awo: DATABASE_URL: "), done.stderr
    assert "Traceback" not in done.stderr
