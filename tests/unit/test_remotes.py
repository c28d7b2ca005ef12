"""URL rules: the GitHub host that receives the token, the transports git may use, no credentials kept."""

from __future__ import annotations

import pytest

from bot.checkout import auth_env, check_branch, check_key, check_ref, mirror_name
from bot.errors import GitError
from bot.remotes import RemotePolicy, strip_userinfo, web_origin


@pytest.mark.parametrize(("api_url", "override", "origin"), [
    ("https://api.github.com", None, "https://github.com"),
    ("https://ghe.example.com/api/v3", None, "https://ghe.example.com"),
    ("http://127.0.0.1:8123", None, "http://127.0.0.1:8123"),
    ("https://api.github.com", "https://github.example.com/some/path", "https://github.example.com"),
])
def test_the_web_origin_derives_from_the_api_url(api_url: str, override: str | None, origin: str) -> None:
    assert web_origin(api_url, override) == origin


def test_the_auth_header_is_scoped_to_the_origin_and_only_in_the_environment() -> None:
    env = auth_env("ghs_x", "https://ghe.example.com")
    assert env["GIT_CONFIG_KEY_0"] == "http.https://ghe.example.com/.extraheader"
    assert auth_env(None) == {}


@pytest.mark.parametrize(("url", "clean"), [
    ("https://user:pass@github.com/o/r.git", "https://github.com/o/r.git"),
    ("https://x-access-token:ghs_abc@github.com/o/r", "https://github.com/o/r"),
    ("https://github.com/o/r.git", "https://github.com/o/r.git"),
    ("/srv/git/r.git", "/srv/git/r.git"),
])
def test_userinfo_is_stripped(url: str, clean: str) -> None:
    assert strip_userinfo(url) == clean
    assert "pass" not in mirror_name(url) and "ghs_abc" not in mirror_name(url)


GHES = RemotePolicy("https://ghe.example.com", ("https",))


@pytest.mark.parametrize("url", [
    "https://ghe.example.com/o/r.git", "HTTPS://GHE.example.com/o/r.git",
])
def test_a_clone_url_on_the_github_host_over_https_is_allowed(url: str) -> None:
    assert GHES.check(url) == url


@pytest.mark.parametrize(("url", "why"), [
    ("https://github.com/o/r.git", "not on the GitHub host"),
    ("https://ghe.example.com.attacker.net/o/r.git", "not on the GitHub host"),
    ("http://ghe.example.com/o/r.git", "protocol 'http' is not allowed"),
    ("file:///srv/r.git", "protocol 'file' is not allowed"),
    ("/srv/r.git", "protocol 'file' is not allowed"),
    ("ghe.example.com:o/r.git", "protocol 'ssh' is not allowed"),
    ("fd::3", "not a plain URL"),
    ("ext::sh -c id", "not a plain URL"),
    ("-uhelp", "not a plain URL"),
    ("", "not a plain URL"),
])
def test_other_hosts_transports_and_helpers_are_refused(url: str, why: str) -> None:
    with pytest.raises(GitError, match=why):
        GHES.check(url)


def test_file_is_allowed_only_where_enabled() -> None:
    assert GHES.with_file().check("/srv/r.git") == "/srv/r.git"
    assert GHES.with_file().protocols == ("https", "file")


@pytest.mark.parametrize("key", ["../x", "wo-0123abcd/../../x", "wo-0123ABCD", "wo-0123abc", "", "/tmp"])
def test_a_work_order_id_must_have_the_bots_shape(key: str) -> None:
    with pytest.raises(GitError, match="wo-<8 hex digits>"):
        check_key(key)


@pytest.mark.parametrize(("branch", "default"), [
    ("main", "main"), ("claude/x", "claude/x"), ("feature/x", None), ("claude/../main", None),
    ("claude/-x y", None), ("claude/x.lock", None), ("-claude/x", None), ("claude/", None),
])
def test_the_bot_writes_only_claude_branches_never_the_default(branch: str, default: str | None) -> None:
    with pytest.raises(GitError, match="refusing branch"):
        check_branch(branch, default)
    assert check_branch("claude/issue-7-0123abcd", "main") == "claude/issue-7-0123abcd"


@pytest.mark.parametrize("name", ["-x", "a..b", "main.lock", "x y", "refs/../HEAD", "", "a/"])
def test_a_stored_default_branch_must_be_a_plain_branch_name(name: str) -> None:
    with pytest.raises(GitError, match="refusing branch name"):
        check_ref(name)
    assert check_ref("release/2.x") == "release/2.x"
