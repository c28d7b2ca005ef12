"""Which GitHub a repository lives on: github.com or a GitHub Enterprise Server. Pure URL rules, no I/O.

A repository is its host plus `owner/name`: `ghe.example.com/o/r` and `github.com/o/r` are different
repositories, so every lookup that starts from a URL compares the host too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

GITHUB_WEB = "https://github.com"
# GHES serves REST under /api/v3 and GraphQL at /api/graphql on the same host as its web pages.
GHES_REST = "/api/v3"


def host_of(url: str) -> str:
    """The host (and port) of a URL, lower-case, never its userinfo; "" for a slug or a local path."""
    if "://" not in url:
        return ""
    return urlsplit(url.strip()).netloc.rpartition("@")[2].lower()


def repository_web_origin(api_url: str, override: str | None = None) -> str:
    """Where `owner/repo` slugs and their links live: AWO_GITHUB_WEB_URL, else the GHES host of a
    `https://h/api/v3` API URL, else github.com (api.github.com, or a proxy in front of it)."""
    if override:
        parts = urlsplit(override)
        return f"{parts.scheme}://{parts.netloc}"
    parts = urlsplit(api_url)
    if parts.path.rstrip("/").endswith(GHES_REST):
        return f"{parts.scheme}://{parts.netloc}"
    return GITHUB_WEB


def same_host(url: str, other: str) -> bool:
    """Whether two repository URLs are on one GitHub; a slug or path (no host) constrains nothing."""
    mine, theirs = host_of(url), host_of(other)
    return not mine or not theirs or mine == theirs
