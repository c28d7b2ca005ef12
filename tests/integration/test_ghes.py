"""GitHub Enterprise Server on real git and a real store: the token goes to the GHES host only, and a
repository is its host plus `owner/name` (a GHES `o/r` is never github.com's `o/r`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import GitError
from bot.models import Repository, Status
from bot.store import repository_for
from bot.store.sqlite import SqliteStore
from bot.testing import FakeAgent
from tests.conftest import make_settings
from tests.gitrepo import HeaderRecorder, make_remote
from tests.integration.test_git_safety import BASIC, REPO, TOKEN, checkout_in, runtime_for, work_order
from tests.integration.test_work_orders import claim_and_run


async def test_with_a_ghes_api_url_the_token_header_goes_to_that_host_and_to_no_other(tmp_path: Path) -> None:
    with HeaderRecorder() as ghes, HeaderRecorder() as elsewhere:
        settings = make_settings(tmp_path, github_api_url=f"{ghes.url}/api/v3", git_protocols=("http",))
        checkout = checkout_in(tmp_path, settings.remote_policy)
        for host in (ghes, elsewhere):
            with pytest.raises(GitError):
                await checkout.git("ls-remote", "--", f"{host.url}/o/r.git", cwd=tmp_path, token=TOKEN)
    assert ghes.authorizations() and all(BASIC in value for value in ghes.authorizations())
    assert elsewhere.requests, "git did talk to the other host"
    assert elsewhere.authorizations() == []


async def test_a_repository_on_another_host_does_not_match_the_configured_one(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    try:
        await store.add_repository(Repository(repository_url="https://github.com/o/r"))
        assert await repository_for(store, "O/R", "https://ghe.example.com/o/r") is None
        found = await repository_for(store, "o/r", "https://github.com/O/R")
        assert found is not None and found.repository_url == "https://github.com/o/r"
        await store.add_repository(Repository(repository_url="https://ghe.example.com/o/r"))
        ghes = await repository_for(store, "o/r", "https://ghe.example.com/o/r")
        assert ghes is not None and ghes.repository_url == "https://ghe.example.com/o/r"
    finally:
        await store.close()


async def test_a_work_order_for_the_same_name_on_another_host_clones_nothing(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "remotes")
    with HeaderRecorder() as ghes:
        runtime = await runtime_for(tmp_path, str(remote), FakeAgent(files={"hello.txt": "hello\n"}),
                                    git_protocols=("http", "file"))
        done = await claim_and_run(runtime, work_order(3, repository_url=f"{ghes.url}/{REPO}"))
        await runtime.store.close()
    assert done.status is Status.FAILED
    assert f"{REPO} is not a configured repository" in (done.error_message or "")
    assert ghes.requests == []
