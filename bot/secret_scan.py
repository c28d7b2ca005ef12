"""Finding the bot's own secrets in text, raw or in the encodings an agent (or a leak) would use."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

MIN_SECRET = 8  # shorter values would match ordinary text; real tokens and keys are far longer
BASIC_PREFIX = "x-access-token:"  # how git sends the token: `Authorization: basic base64(x-access-token:<token>)`
DIFF_FILE = re.compile(r"^diff --git a/(.*) b/(.*)$")


@dataclass(frozen=True)
class Hit:
    """Where a secret was found and in which encoding; never the value."""

    path: str
    encoding: str


def _base64_cores(data: bytes, alphabet: str) -> list[str]:
    """The base64 text of `data` at each of the three byte alignments it can have inside a larger blob.

    Only the characters that depend on `data` alone are kept, so the secret is found wherever it sits.
    """
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        if alphabet == "base64url":
            encoded = encoded.translate(str.maketrans("+/", "-_"))
        start, end = -(-offset // 3) * 4, (offset + len(data)) // 3 * 4
        cores.append(encoded[start:end])
    return [core for core in cores if len(core) >= MIN_SECRET]


@lru_cache(maxsize=64)
def variants(secret: str) -> tuple[tuple[str, str], ...]:
    """(encoding name, text) pairs under which `secret` may appear, longest first."""
    raw = secret.encode()
    found: dict[str, str] = {}
    for text, name in ((secret, "raw"), (quote(secret, safe=""), "url-encoded"), (raw.hex(), "hex"),
                       (raw.hex().upper(), "hex"), (secret[::-1], "reversed")):
        found.setdefault(text, name)
    for alphabet in ("base64", "base64url"):
        for core in _base64_cores(raw, alphabet):
            found.setdefault(core, alphabet)
        for core in _base64_cores(f"{BASIC_PREFIX}{secret}".encode(), alphabet):
            found.setdefault(core, f"{alphabet} (basic auth)")
    return tuple(sorted(((name, text) for text, name in found.items()), key=lambda p: len(p[1]), reverse=True))


def usable(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in secrets if s and len(s) >= MIN_SECRET}))


def encodings_in(text: str, secrets: Iterable[str]) -> list[str]:
    """The encodings under which any of `secrets` appears in `text` (empty: none does)."""
    return sorted({name for secret in usable(secrets) for name, form in variants(secret) if form in text})


def without_secrets(text: str, secrets: Iterable[str], mask: str = "***") -> str:
    """`text` with every known form of every secret replaced by `mask`."""
    forms = sorted({form for secret in usable(secrets) for _, form in variants(secret)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, mask)
    return text


def scan_diff(diff: str, secrets: Iterable[str]) -> list[Hit]:
    """Secrets in the lines a unified diff (`git diff --text`) adds, by file.

    Every `+` line counts, the `+++ b/<path>` header too (a file name can leak), and the added lines are also
    read joined without newlines, so base64 wrapped at 76 columns is still found.
    """
    kept = usable(secrets)
    if not kept:
        return []
    added: dict[str, list[str]] = {}
    path = ""
    for line in diff.splitlines():
        header = DIFF_FILE.match(line)
        if header:
            path = header.group(2)
        elif line.startswith("+"):
            added.setdefault(path, []).append(line[1:])
    return [Hit(p, name) for p, lines in added.items()
            for name in encodings_in("\n".join(lines) + "\n" + "".join(lines), kept)]
