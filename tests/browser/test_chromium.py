"""The browser tests fail, naming the install command, on a machine without Chromium: they are never skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, launch_args

pytestmark = pytest.mark.browser


def test_a_missing_chromium_fails_the_test_with_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        launch_args(tmp_path / "no-chromium-here")
    assert "make install" in str(failed.value) and "apt-get install -y chromium" in str(failed.value)


def test_chromium_is_debians_headless_and_quiet_on_a_closed_network() -> None:
    args = launch_args()
    assert args["executable_path"] == str(CHROMIUM) == "/usr/bin/chromium" and args["headless"] is True
    assert {"--disable-background-networking", "--disable-component-update", "--disable-sync"} <= set(args["args"])
