"""/metrics: behind the token, store-derived gauges true to the rows, bounded labels for GitHub calls."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from bot.errors import ConfigError
from bot.github import GitHubClient
from bot.metrics import Metrics, outcome_of, route_of
from bot.models import Repository, Status, Step, WorkOrder, utcnow
from bot.runtime import Runtime
from bot.store.sqlite import SqliteStore
from bot.web import metrics as metrics_route
from bot.web.metrics import SpendTotals

REPO = "octo/private-repo"
URL = f"https://github.com/{REPO}"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed with prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def seed(runtime: Runtime) -> None:
    async def fill() -> None:
        store = runtime.store
        await store.add_repository(Repository(repository_url=URL))
        old = utcnow() - timedelta(minutes=5)
        await store.create_work_order(WorkOrder(repository_url=URL, repo_full_name=REPO, created_at=old))
        await store.create_work_order(WorkOrder(repository_url=URL, repo_full_name=REPO))
        done = await store.create_work_order(WorkOrder(repository_url=URL, repo_full_name=REPO))
        await store.update_work_order(done.id, {"status": Status.COMPLETED})
        await store.add_step(Step(agent_work_order_id=done.id, step="implement", agent_name="claude", success=True,
                                  duration_seconds=3.0, executed_at=utcnow(), step_order=1, cost_usd=0.25))
    asyncio.run(fill())


def test_metrics_without_the_token_is_refused_and_names_no_repository(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert REPO not in answer.text and "awo_" not in answer.text


def test_store_derived_series_match_the_rows(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert found[("awo_work_orders", (("status", "pending"),))] == 2
    assert found[("awo_work_orders", (("status", "completed"),))] == 1
    assert found[("awo_work_orders", (("status", "cancelled"),))] == 0
    assert found[("awo_queue_depth", ())] == 2
    assert 290 < found[("awo_queue_oldest_age_seconds", ())] < 400
    assert found[("awo_leases_expired", ())] == 0
    assert found[("awo_spend_usd_total", (("repository", REPO),))] == pytest.approx(0.25)


def test_an_empty_queue_waits_for_nothing(client: TestClient) -> None:
    found = samples(client.get("/metrics").text)
    assert found[("awo_queue_oldest_age_seconds", ())] == 0
    assert found[("awo_queue_depth", ())] == 0


@pytest.mark.parametrize(("path", "template"), [
    ("/repos/octo/private-repo/issues/7/comments", "/repos/{owner}/{repo}/issues/{number}/comments"),
    ("/api/v3/repos/octo/r/issues/comments/123456", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("/repos/octo/r/collaborators/mallory/permission", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("/repos/octo/r/contents/.github/agent-work-orders.yml", "/repos/{owner}/{repo}/contents/{path}"),
    ("/repos/octo/r/pulls/3/comments/99/replies", "/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies"),
    ("/graphql", "/graphql"),
    ("/api/graphql", "/graphql"),
    ("/repos/octo/r/some/thing/new", "other"),
    ("/anything-an-attacker-names/0123456789", "other"),
])
def test_github_paths_become_templates_without_names_or_ids(path: str, template: str) -> None:
    assert route_of(path, "/api/v3" if path.startswith("/api/") else "") == template


@pytest.mark.parametrize(("outcome", "word"), [
    ("queued wo-1234abcd", "queued"), ("ignored: not a trigger (octo/r#7)", "ignored"), ("", "other"),
    ("Évil label", "other"),
])
def test_a_delivery_outcome_is_counted_by_its_first_word(outcome: str, word: str) -> None:
    assert outcome_of(outcome) == word


@respx.mock
async def test_github_answers_are_counted_by_route_and_the_rate_limit_kept() -> None:
    metrics = Metrics()
    respx.get("https://ghe.example/api/v3/repos/octo/private-repo").respond(200, json={
        "full_name": REPO, "owner": {"login": "octo"}, "name": "private-repo", "default_branch": "main",
        "clone_url": f"{URL}.git", "html_url": URL}, headers={"x-ratelimit-remaining": "4990",
                                                               "x-ratelimit-resource": "core"})
    respx.get("https://ghe.example/api/v3/repos/octo/private-repo/issues/7").respond(404, json={"message": "x"})
    github = GitHubClient("t", "https://ghe.example/api/v3", metrics=metrics)
    await github.get_repository(REPO)
    with pytest.raises(Exception, match="404"):
        await github.get_issue(REPO, 7)
    found = samples(metrics.exposition().decode())
    assert found[("awo_github_requests_total",
                  (("method", "GET"), ("route", "/repos/{owner}/{repo}"), ("status", "2xx")))] == 1
    assert found[("awo_github_requests_total",
                  (("method", "GET"), ("route", "/repos/{owner}/{repo}/issues/{number}"), ("status", "4xx")))] == 1
    assert found[("awo_github_rate_limit_remaining", (("resource", "core"),))] == 4990
    assert "private-repo" not in metrics.exposition().decode()
    assert "_created" not in metrics.exposition().decode()


def test_a_worker_serves_its_own_counters_on_its_metrics_port() -> None:
    metrics = Metrics()
    metrics.step("implement", 2.0, True)
    server = metrics.serve("127.0.0.1", 0)
    try:
        port = server.server_address[1]
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert answer.status_code == 200
        found = samples(answer.text)
        assert found[("awo_step_duration_seconds_count", (("step", "implement"), ("success", "true")))] == 1
        assert not any(name.startswith("awo_work_orders") for name, _ in found)  # no store, no repository names
        with pytest.raises(ConfigError, match="AWO_METRICS_PORT: cannot listen on 127.0.0.1"):
            Metrics().serve("127.0.0.1", port)  # taken
    finally:
        server.shutdown()
        server.server_close()


def test_a_store_that_cannot_be_read_is_a_503_not_an_empty_fleet(client: TestClient, runtime: Runtime) -> None:
    asyncio.run(runtime.store.close())
    answer = client.get("/metrics")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json() == {"detail": "the store is unavailable: /health says why"}


@pytest.mark.parametrize("settle", [timedelta(0), timedelta(minutes=1)])
async def test_spend_totals_count_each_ledger_row_once_and_a_new_repository_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settle: timedelta,
) -> None:
    """With a settle window of 0 every row is settled at once (read once, by range); with a minute, recent rows are
    read again at each scrape until they settle. Either way each counts once."""
    monkeypatch.setattr(metrics_route, "SETTLE", settle)
    store = SqliteStore(tmp_path / "wo.db")
    await store.open()
    try:
        totals = SpendTotals()

        async def spend(repo: str, cost: float) -> None:
            url = f"https://github.com/{repo}"
            work_order = await store.create_work_order(WorkOrder(repository_url=url, repo_full_name=repo))
            await store.add_step(Step(agent_work_order_id=work_order.id, step="plan", agent_name="claude",
                                      success=True, duration_seconds=1.0, executed_at=utcnow(), step_order=1,
                                      cost_usd=cost))

        async def scrape(*names: str) -> dict[str, float]:
            await asyncio.sleep(0.01)  # the ledger's clock has moved past the rows just written
            return await totals.read(store, names, (await store.queue_stats()).clock)

        await spend(REPO, 1.0)
        assert await scrape(REPO) == {REPO: 1.0}
        await spend(REPO, 0.5)
        await spend("octo/later", 4.0)
        assert await scrape(REPO) == {REPO: 1.5}
        assert await scrape(REPO) == {REPO: 1.5}
        assert await scrape("octo/later", REPO) == {REPO: 1.5, "octo/later": 4.0}
        assert totals.settled == ({REPO: 1.5, "octo/later": 4.0} if not settle else {REPO: 0, "octo/later": 0})
    finally:
        await store.close()


async def test_a_claim_after_an_expired_lease_counts_as_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "wo.db")
    await store.open()
    metrics = Metrics()
    try:
        await store.create_work_order(WorkOrder(repository_url=URL, repo_full_name=REPO))
        for worker in ("w1", "w2"):  # w1's lease of 0 s has expired when w2 claims
            claimed = await store.claim(worker, 0)
            assert claimed is not None
            metrics.claimed(claimed)
            await asyncio.sleep(0.01)
    finally:
        await store.close()
    found = samples(metrics.exposition().decode())
    assert found[("awo_claims_total", (("attempt", "first"),))] == 1
    assert found[("awo_claims_total", (("attempt", "again"),))] == 1
