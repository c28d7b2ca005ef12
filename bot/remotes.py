"""Where the bot may fetch from and send its token to: pure URL rules, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bot.errors import GitError

PROTOCOLS = frozenset({"https", "http", "file"})
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Anything git could read as a remote helper (`fd::`, `ext::`), an option (`-u...`) or a second line of config.
UNSAFE = re.compile(r"::|^-|[\x00-\x20\x7f\"\\]")


def strip_userinfo(url: str) -> str:
    """`https://user:pass@host/x` → `https://host/x`: credentials never stored, logged, listed or in argv."""
    if not SCHEME.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def web_origin(api_url: str, override: str | None = None) -> str:
    """The GitHub host git talks to: api.github.com → github.com, GHES `https://h/api/v3` → `https://h`."""
    if override:
        parts = urlsplit(override)
        return f"{parts.scheme}://{parts.netloc}"
    parts = urlsplit(api_url)
    host = "github.com" if parts.netloc == "api.github.com" else parts.netloc
    return f"{parts.scheme}://{host}"


def protocol_of(url: str) -> str:
    """The transport git would use: a URL's scheme, `file` for an absolute path, `ssh` for `host:path`."""
    match = SCHEME.match(url)
    if match:
        return match.group(1).lower()
    return "file" if url.startswith("/") else "ssh"


@dataclass(frozen=True)
class RemotePolicy:
    """Which transports git may use and the one origin (GitHub's) that receives the token."""

    origin: str = "https://github.com"
    protocols: tuple[str, ...] = ("https",)

    def with_file(self) -> RemotePolicy:
        """`awo run` on a local path: `file` for this process only."""
        return RemotePolicy(self.origin, tuple(dict.fromkeys((*self.protocols, "file"))))

    def check(self, url: str) -> str:
        """The URL if git may clone it under this policy, else GitError (before git runs)."""
        if not url or UNSAFE.search(url):
            raise GitError(f"refusing remote {strip_userinfo(url)!r}: not a plain URL or path")
        protocol = protocol_of(url)
        if protocol not in self.protocols:
            allowed = ", ".join(self.protocols)
            raise GitError(f"refusing remote {strip_userinfo(url)!r}: protocol {protocol!r} is not allowed "
                           f"(allowed: {allowed}; see AWO_GIT_PROTOCOLS)")
        if protocol in ("http", "https") and not self.on_origin(url):
            raise GitError(f"refusing remote {strip_userinfo(url)!r}: not on the GitHub host {self.origin}")
        return url

    def on_origin(self, url: str) -> bool:
        parts, origin = urlsplit(url), urlsplit(self.origin)
        return (parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()) == (origin.scheme, origin.netloc.lower())
