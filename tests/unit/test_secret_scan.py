"""The bot's secrets are recognised raw and encoded, in diffs and in any text the bot shows."""

from __future__ import annotations

import base64

import pytest

from bot.report import redact
from bot.secret_scan import Hit, scan_diff

TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
KEY = "sk-ant-api03-abcdefghijklmnop"
FORMS = {
    "raw": TOKEN,
    "basic auth": base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode(),
    "base64 aligned": base64.b64encode(TOKEN.encode()).decode(),
    "base64 offset 1": base64.b64encode(b"a" + TOKEN.encode()).decode(),
    "base64 offset 2": base64.b64encode(b"ab" + TOKEN.encode() + b"tail").decode(),
    "base64url": base64.urlsafe_b64encode(b"\xff\xfe" + TOKEN.encode()).decode(),
    "hex": TOKEN.encode().hex(),
    "HEX": TOKEN.encode().hex().upper(),
    "reversed": TOKEN[::-1],
}


@pytest.mark.parametrize("form", list(FORMS))
def test_redact_removes_every_encoding_of_a_secret(form: str) -> None:
    shown = redact(f"the agent printed {FORMS[form]} here", [TOKEN, KEY])
    assert "***" in shown
    assert TOKEN not in shown and TOKEN.encode().hex() not in shown.lower()
    assert base64.b64encode(TOKEN.encode()).decode()[:20] not in shown


@pytest.mark.parametrize("form", list(FORMS))
def test_a_diff_adding_a_secret_names_the_file_not_the_value(form: str) -> None:
    diff = (f"diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n hi\n+fine\n"
            f"diff --git a/app/settings.py b/app/settings.py\n--- /dev/null\n+++ b/app/settings.py\n"
            f"@@ -0,0 +1 @@\n+++ {FORMS[form]}\n")
    hits = scan_diff(diff, [TOKEN, KEY])
    assert hits and {hit.path for hit in hits} == {"app/settings.py"}
    assert all(TOKEN not in hit.encoding for hit in hits)


def test_a_removed_line_or_a_short_secret_is_no_hit() -> None:
    diff = f"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +0,0 @@\n-{TOKEN}\n+abc\n"
    assert scan_diff(diff, [TOKEN, "abc"]) == []
    assert scan_diff(f"diff --git a/x b/x\n+{TOKEN}\n", []) == []
    assert scan_diff(f"diff --git a/x b/x\n+{KEY}\n", [TOKEN, KEY]) == [Hit("x", "raw")]
