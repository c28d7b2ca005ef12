"""How the browser tests start Chromium: Debian's package, headless, quiet on a closed network.

Playwright's own browser builds are never downloaded (`playwright install` cannot work offline); the wheel's
driver drives the system Chromium through `executable_path`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium phones home (updates, sync, QUIC probes) and, on a closed network,
# has those connections refused en masse; --no-sandbox because the tests run as root in CI.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
MISSING = (f"{CHROMIUM} is missing: run `make install` (or `sudo apt-get install -y chromium`); "
           "the browser tests use Debian's Chromium and never download one")


def launch_args(executable: Path = CHROMIUM) -> dict[str, Any]:
    """Playwright's launch options; fails (never skips) the test asking for them when Chromium is not installed."""
    if not os.access(executable, os.X_OK):
        pytest.fail(MISSING, pytrace=False)
    return {"executable_path": str(executable), "headless": True, "args": FLAGS}
