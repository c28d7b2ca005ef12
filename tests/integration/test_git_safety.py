"""Attacks on the bot's git, replayed on real git: where the token goes, where clones come from, what runs.

Each test plays what an attacker controls (a request's or a stored row's URL, a repository's config and
hooks, the agent's file writes, a work order row) and checks what a user would: the headers a listener
on loopback received, files on disk, branches on the remote, the work order's status and reason.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from bot.checkout import Checkout, Identity, Worktree, mirror_name, safe_rmtree
from bot.errors import GitError, GitHubError
from bot.github import RepoInfo
from bot.models import Repository, Status, WorkOrder
from bot.remotes import RemotePolicy
from bot.repositories import verify_repository
from bot.runtime import Runtime, build_runtime
from bot.settings import project_root
from bot.store.sqlite import SqliteStore
from bot.testing import FakeAgent, FakeGitHub
from tests.conftest import make_settings
from tests.gitrepo import HeaderRecorder, branches, git, make_remote, show
from tests.integration.test_work_orders import claim_and_run

REPO = "Codertocat/Hello-World"
TOKEN = "ghs_gitSafetyTokenThatMustNeverLeak0123"
BASIC = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "remotes")


def checkout_in(tmp_path: Path, policy: RemotePolicy, path: str = PATH) -> Checkout:
    (tmp_path / "home").mkdir(exist_ok=True)
    return Checkout(tmp_path / "data", {"PATH": path, "HOME": str(tmp_path / "home")}, timeout=20, policy=policy)


async def runtime_for(tmp_path: Path, clone_url: str, agent: FakeAgent, **settings: object) -> Runtime:
    """An in-process worker whose store configures REPO with `clone_url`."""
    values: dict[str, object] = {"git_protocols": ("https", "file"), **settings}
    runtime = build_runtime(make_settings(tmp_path, **values),
                            github=FakeGitHub(permissions={"Codertocat": "write"}), agent=agent, workers=1)
    await runtime.store.open()
    await runtime.store.add_repository(Repository(
        repository_url=f"https://github.com/{REPO}", default_branch="main", clone_url=clone_url))
    return runtime


def work_order(issue: int, **changes: object) -> WorkOrder:
    base = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=issue,
                     user_request="write hello.txt", metadata={"default_branch": "main", "commands": ["implement"]})
    return base.model_copy(update=changes)


# ---------------------------------------------------------------- where the token goes


async def test_the_token_header_goes_to_the_github_host_and_to_no_other(tmp_path: Path) -> None:
    with HeaderRecorder() as github, HeaderRecorder() as attacker:
        checkout = checkout_in(tmp_path, RemotePolicy(github.url, ("http",)))
        for host in (github, attacker):
            with pytest.raises(GitError):
                await checkout.git("ls-remote", "--", f"{host.url}/o/r.git", cwd=tmp_path, token=TOKEN)
    assert github.authorizations() and all(BASIC in value for value in github.authorizations())
    assert attacker.requests, "git did talk to the other host"
    assert attacker.authorizations() == []


async def test_the_token_is_never_written_to_disk(tmp_path: Path, remote: Path) -> None:
    checkout = checkout_in(tmp_path, RemotePolicy(protocols=("https", "file")))
    tree = await checkout.prepare(str(remote), "claude/issue-1-0123abcd", "wo-0123abcd", "main", TOKEN)
    assert_no_token_under(tmp_path / "data")  # what the agent could read while it runs
    (tree.path / "hello.txt").write_text("hello\n")
    assert (await checkout.staged_changes(tree))[0] == ["hello.txt"]
    await checkout.commit(tree, "hello", Identity("Bot", "bot@example.com"))
    await checkout.push(tree, TOKEN)
    assert_no_token_under(tmp_path / "data")
    assert "extraheader" not in git("config", "--file", str(tree.mirror / "config"), "--list", cwd=tmp_path)


def assert_no_token_under(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and BASIC.encode() not in data, path


# ---------------------------------------------------------------- where clones come from


async def test_a_work_order_clones_from_the_configured_repository_never_from_its_row(
    tmp_path: Path, remote: Path
) -> None:
    with HeaderRecorder() as attacker:
        runtime = await runtime_for(tmp_path, str(remote), FakeAgent(files={"hello.txt": "hello\n"}),
                                    git_protocols=("http", "file"))
        # the row's URL names another repository on the configured host (another host matches nothing)
        order = work_order(1, repository_url="https://github.com/evil/x",
                           metadata={"clone_url": f"{attacker.url}/evil.git", "commands": ["implement"]})
        done = await claim_and_run(runtime, order)
        await runtime.store.close()
    assert done.status is Status.COMPLETED, done.error_message
    assert attacker.requests == []
    assert show(remote, f"claude/issue-1-{done.short_id}", "hello.txt") == "hello"


async def test_a_repository_that_is_not_configured_is_not_cloned(tmp_path: Path, remote: Path) -> None:
    runtime = await runtime_for(tmp_path, str(remote), FakeAgent())
    done = await claim_and_run(runtime, work_order(2, repo_full_name="octo/elsewhere", repository_url=str(remote)))
    await runtime.store.close()
    assert done.status is Status.FAILED
    assert "octo/elsewhere is not a configured repository" in (done.error_message or "")
    assert not (tmp_path / "data" / "mirrors").exists() or not any((tmp_path / "data" / "mirrors").glob("*.git"))


async def test_a_configured_clone_url_on_another_host_is_refused(tmp_path: Path) -> None:
    with HeaderRecorder() as github, HeaderRecorder() as attacker:
        runtime = await runtime_for(tmp_path, f"{attacker.url}/o/r.git", FakeAgent(),
                                    git_protocols=("http",), github_api_url=github.url)
        done = await claim_and_run(runtime, work_order(3))
        await runtime.store.close()
    assert done.status is Status.FAILED
    assert f"not on the GitHub host {github.url}" in (done.error_message or "")
    assert attacker.requests == [] and github.requests == []


async def test_verification_refuses_a_clone_url_on_another_host_and_keeps_githubs(tmp_path: Path) -> None:
    policy = RemotePolicy("https://github.com", ("https",))
    repo = Repository(repository_url=f"https://github.com/{REPO}")
    github = FakeGitHub(repos={REPO: RepoInfo(REPO, "Codertocat", "Hello-World", "main",
                                              "https://attacker.example/x.git", "https://github.com/" + REPO)})
    with pytest.raises(GitHubError, match="not on the GitHub host") as refused:
        await verify_repository(repo, github, policy)
    assert refused.value.status == 502
    github.repos[REPO] = dataclasses.replace(github.repos[REPO], clone_url=f"https://u:p@github.com/{REPO}.git")
    verified = await verify_repository(repo, github, policy)
    assert verified.clone_url == f"https://github.com/{REPO}.git" and verified.is_verified


@pytest.mark.parametrize("url", [
    pytest.param("fd::17", id="fd"), pytest.param("ext::sh -c touch% {marker}", id="ext"),
    pytest.param("file:///etc", id="file-url"), pytest.param("{remote}", id="local-path"),
    pytest.param("-uhelp", id="option"), pytest.param("--upload-pack=touch {marker}", id="upload-pack"),
    pytest.param("git@github.com:o/r.git", id="scp"), pytest.param("ssh://github.com/o/r.git", id="ssh"),
    pytest.param("https://github.com/o/r.git\n[core]fsmonitor=x", id="newline"),
])
async def test_remote_helpers_local_paths_and_options_are_refused_before_git_runs(
    tmp_path: Path, remote: Path, url: str
) -> None:
    marker = tmp_path / "pwned"
    url = url.format(marker=marker, remote=remote)
    checkout = checkout_in(tmp_path, RemotePolicy())
    started = time.monotonic()
    with pytest.raises(GitError, match="refusing remote"):
        await checkout.prepare(url, "claude/issue-1-0123abcd", "wo-0123abcd", "main", TOKEN)
    assert time.monotonic() - started < 2
    assert not marker.exists() and not (tmp_path / "data" / "mirrors").exists()


async def test_git_itself_refuses_a_protocol_outside_the_allow_list(tmp_path: Path, remote: Path) -> None:
    https_only = checkout_in(tmp_path, RemotePolicy(protocols=("https",)))
    with pytest.raises(GitError, match="transport 'file' not allowed"):
        await https_only.git("ls-remote", "--", str(remote), cwd=tmp_path)
    local = checkout_in(tmp_path, RemotePolicy(protocols=("https", "file")))
    assert "refs/heads/main" in await local.git("ls-remote", "--", str(remote), cwd=tmp_path)


# ---------------------------------------------------------------- nothing a repository or the agent writes runs


def evil_script(tmp_path: Path, log: Path) -> Path:
    script = tmp_path / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {log}\nenv >> {log}\ncat >/dev/null\n')
    script.chmod(0o755)
    return script


HOOKS = ("post-checkout", "pre-commit", "post-commit", "commit-msg", "pre-push", "reference-transaction",
         "post-index-change", "fsmonitor-watchman")


def evil_config(script: Path, hooks: Path) -> str:
    return (f"[core]\n\tfsmonitor = {script}\n\thooksPath = {hooks}\n\tsshCommand = {script}\n"
            f'[filter "evil"]\n\tclean = {script}\n\tsmudge = {script}\n\trequired = true\n'
            f"[diff]\n\texternal = {script}\n[commit]\n\tgpgSign = true\n[gpg]\n\tprogram = {script}\n")


async def test_a_tampered_mirror_and_worktree_run_nothing(tmp_path: Path, remote: Path) -> None:
    ran = tmp_path / "ran.log"
    script = evil_script(tmp_path, ran)
    hooks = tmp_path / "evil-hooks"
    hooks.mkdir()
    for hook in HOOKS:
        (hooks / hook).symlink_to(script)
    agent = FakeAgent(files={"hello.txt": "hello\n"})
    runtime = await runtime_for(tmp_path, str(remote), agent)
    first = await claim_and_run(runtime, work_order(1))
    assert first.status is Status.COMPLETED, first.error_message
    # a tampered mirror, as an earlier agent run would leave it: hooks in place, config rewritten
    mirror = runtime.settings.data_dir / "mirrors" / mirror_name(str(remote))
    for hook in HOOKS:
        (mirror / "hooks" / hook).symlink_to(script)
    with (mirror / "config").open("a") as config:
        config.write(evil_config(script, hooks))
    # and this run's agent edits the mirror's config, the worktree's .git pointer and .gitattributes
    decoy = tmp_path / "decoy"
    git("init", "--quiet", str(decoy), cwd=tmp_path)
    (decoy / ".git" / "config").write_text(evil_config(script, hooks))
    agent.files = {
        "hello.txt": "hello again\n", ".gitattributes": "* filter=evil diff=evil\n",
        ".git": f"gitdir: {decoy / '.git'}\n", str(mirror / "config"): (mirror / "config").read_text(),
    }
    second = await claim_and_run(runtime, work_order(2))
    await runtime.store.close()
    assert not ran.exists(), ran.read_text()[:2000]
    assert second.status is Status.COMPLETED, second.error_message
    assert show(remote, f"claude/issue-2-{second.short_id}", "hello.txt") == "hello again"
    assert "fsmonitor" not in (mirror / "config").read_text()


# ---------------------------------------------------------------- rows read from the store


def test_rmtree_stays_inside_the_data_folder(tmp_path: Path) -> None:
    root = tmp_path / "data" / "worktrees"
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (root / "wo-0123abcd").mkdir(parents=True)
    (root / "escape").symlink_to(victim)
    for path in (root / ".." / ".." / "victim", root / "escape", root, root / "wo-0123abcd" / ".." / ".."):
        with pytest.raises(GitError, match="refusing to remove"):
            safe_rmtree(root, path)
    assert (victim / "keep").is_dir()
    safe_rmtree(root, root / "wo-0123abcd")
    assert not (root / "wo-0123abcd").exists()


async def test_a_work_order_id_that_climbs_out_of_the_data_folder_is_refused(tmp_path: Path, remote: Path) -> None:
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    runtime = await runtime_for(tmp_path, str(remote), FakeAgent(files={"hello.txt": "x"}))
    done = await claim_and_run(runtime, work_order(4, agent_work_order_id="../../victim"))
    await runtime.store.close()
    assert done.status is Status.FAILED
    assert "not of the form wo-<8 hex digits>" in (done.error_message or "")
    assert (victim / "keep").is_dir() and branches(remote) == ["main"]


async def test_a_stored_branch_main_is_never_pushed(tmp_path: Path, remote: Path) -> None:
    main_before = git("rev-parse", "main", cwd=remote)
    runtime = await runtime_for(tmp_path, str(remote), FakeAgent(files={"hello.txt": "x"}))
    done = await claim_and_run(runtime, work_order(5, git_branch_name="main"))
    await runtime.store.close()
    # refused at checkout, before the agent spends anything on a branch it could never push
    assert done.status is Status.FAILED and (done.error_message or "").startswith("checkout: refusing branch 'main'")
    assert branches(remote) == ["main"] and git("rev-parse", "main", cwd=remote) == main_before


async def test_push_refuses_the_default_branch_whatever_the_worktree_says(tmp_path: Path, remote: Path) -> None:
    main_before = git("rev-parse", "main", cwd=remote)
    checkout = checkout_in(tmp_path, RemotePolicy(protocols=("file",)))
    tree = await checkout.prepare(str(remote), "claude/issue-6-0123abcd", "wo-0123abcd", "main", None)
    (tree.path / "hello.txt").write_text("x")
    await checkout.staged_changes(tree)
    await checkout.commit(tree, "x", Identity("Bot", "bot@example.com"))
    for branch in ("main", "trunk"):
        forged: Worktree = dataclasses.replace(tree, branch=branch, default_branch=branch)
        with pytest.raises(GitError, match="refusing branch"):
            await checkout.push(forged, None)
    assert branches(remote) == ["main"] and git("rev-parse", "main", cwd=remote) == main_before


# ---------------------------------------------------------------- credentials in URLs


async def test_userinfo_never_reaches_argv_folder_names_or_listings(tmp_path: Path) -> None:
    bin_dir, argv_log = tmp_path / "bin", tmp_path / "argv.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec /usr/bin/git "$@"\n')
    wrapper.chmod(0o755)
    with HeaderRecorder() as github:
        checkout = checkout_in(tmp_path, RemotePolicy(github.url, ("http",)), path=f"{bin_dir}:{PATH}")
        url = github.url.replace("http://", "http://octo:hunter2@") + "/o/r.git"
        with pytest.raises(GitError):
            await checkout.prepare(url, "claude/issue-1-0123abcd", "wo-0123abcd", "main", None)
    assert "clone" in argv_log.read_text() and "hunter2" not in argv_log.read_text()
    assert all("hunter2" not in p.name for p in (tmp_path / "data" / "mirrors").iterdir())
    assert "hunter2" not in mirror_name(url) and github.requests
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    await store.add_repository(Repository(repository_url="https://octo:hunter2@github.com/o/r",
                                          clone_url="https://octo:hunter2@github.com/o/r.git"))
    await store.create_work_order(WorkOrder(repository_url="https://octo:hunter2@github.com/o/r"))
    listed = [r.model_dump(mode="json") for r in await store.list_repositories()]
    listed += [w.model_dump(mode="json") for w in await store.list_work_orders()]
    await store.close()
    assert "hunter2" not in json.dumps(listed) and "https://github.com/o/r.git" in json.dumps(listed)


# ---------------------------------------------------------------- a relative data folder


async def test_a_relative_data_folder_keeps_mirrors_where_it_says(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # relative to the project folder (whatever the current folder), and kept where it says from then on
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    relative = Path(os.path.relpath(tmp_path / "data", project_root()))
    settings = make_settings(tmp_path, data_dir=relative, git_protocols=("file",))
    assert not relative.is_absolute() and settings.data_dir == tmp_path / "data"
    checkout = Checkout(settings.data_dir, {"PATH": PATH, "HOME": str(tmp_path)}, policy=settings.remote_policy)
    tree = await checkout.prepare(str(remote), "claude/issue-1-0123abcd", "wo-0123abcd", "main", None)
    assert (tmp_path / "data" / "mirrors" / mirror_name(str(remote)) / "HEAD").is_file()
    assert tree.path == tmp_path / "data" / "worktrees" / "wo-0123abcd"
    assert subprocess.run(["git", "status", "--short"], cwd=tree.path, capture_output=True,
                          env={"PATH": PATH, "HOME": str(tmp_path)}, check=True).returncode == 0
    assert not os.path.exists(tmp_path / "data" / "mirrors" / "data")
