"""/metrics after a real work order (real server, real CLI, scripted model, fake GitHub), read with
prometheus-client's parser: every series says what happened, no more and no less."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import route_of
from tests.e2e.harness import CLAUDE, REPO, Stack, script_for, wait_until

pytestmark = pytest.mark.e2e
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "metrics.txt", "content": "counted\n"}}}
STEPS = ("checkout", "plan", "implement", "commit", "push", "pull-request")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A server of its own: its counters start at zero."""
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    running = Stack(Path(tmp_path_factory.mktemp("e2e-metrics")))
    running.configure_repo()
    yield running
    running.stop()


def scrape(stack: Stack) -> Samples:
    answer = stack.http.get("/metrics")
    assert answer.status_code == 200, answer.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def series(found: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in found.items() if n == name and value}


def github_calls_made(stack: Stack) -> Counter[tuple[str, str, str]]:
    """What the fake GitHub recorded, in the metrics' own labels."""
    base = urlparse(stack.api_url).path
    return Counter((c["method"], route_of(c["path"], base), f"{c['status'] // 100}xx") for c in stack.gh.calls())


def github_calls_counted(found: Samples) -> Counter[tuple[str, str, str]]:
    counted = series(found, "awo_github_requests_total")
    return Counter({(dict(k)["method"], dict(k)["route"], dict(k)["status"]): int(v) for k, v in counted.items()})


def test_the_counters_match_one_completed_work_order(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: write metrics.txt."}], [WRITE, {"text": "Wrote metrics.txt."}]))
    assert stack.deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).status_code == 202
    payload = stack.issue_payload(issue, "Count me")
    assert stack.deliver("issues", payload, delivery="d-metrics-1").status_code == 202
    assert stack.deliver("issues", payload, delivery="d-metrics-1").status_code == 200  # a redelivery
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    wait_until(lambda: "✅ Done" in stack.comment_on(issue))
    # the last GitHub answers (the final edit, the outbox) may still be on their way: wait for the counts to agree
    found = wait_until(lambda: (f := scrape(stack)) and github_calls_counted(f) == github_calls_made(stack) and f)

    assert series(found, "awo_deliveries_total") == {
        (("event", "ping"), ("outcome", "ignored")): 1, (("event", "issues"), ("outcome", "queued")): 1,
        (("event", "issues"), ("outcome", "duplicate")): 1}
    assert series(found, "awo_intake_failures_total") == {}
    assert series(found, "awo_work_orders") == {(("status", "completed"),): 1}
    assert found[("awo_queue_depth", ())] == 0 and found[("awo_queue_oldest_age_seconds", ())] == 0
    assert series(found, "awo_leases_lost_total") == {} and found[("awo_leases_expired", ())] == 0
    assert series(found, "awo_claims_total") == {(("attempt", "first"),): 1}

    stored = {s["step"]: s for s in stack.steps(order["agent_work_order_id"])}
    counts = series(found, "awo_step_duration_seconds_count")
    assert counts == {(("step", step), ("success", "true")): 1 for step in STEPS}
    for step in STEPS:
        took = found[("awo_step_duration_seconds_sum", (("step", step), ("success", "true")))]
        assert took == pytest.approx(stored[step]["duration_seconds"], abs=0.001)

    assert order["total_cost_usd"] > 0
    assert series(found, "awo_spend_usd_total") == {(("repository", REPO),): pytest.approx(order["total_cost_usd"])}

    calls = github_calls_counted(found)  # equal, above, to every call the fake GitHub recorded
    assert calls[("POST", "/repos/{owner}/{repo}/pulls", "2xx")] == 1
    assert calls[("GET", "/repos/{owner}/{repo}", "2xx")] >= 1  # the repository's verification
    assert not any(route == "other" for _, route, _ in calls), calls
