"""The process's own Prometheus counters (prometheus-client), one registry per Runtime, passed down like a client.

Only what happens in this process is counted here: deliveries as intake decides them, intake failures, step
durations, leases lost, GitHub calls and the rate limit GitHub last reported. What is true across a fleet (work
orders by status, the queue, cost by repository) is read from the store at scrape time (bot/web/metrics.py).
Every label has a bounded set of values: event names from a fixed list, an outcome's first word, step names, and
GitHub routes as templates (`/repos/{owner}/{repo}/issues/{number}/comments`), never a raw URL; no label carries a
repository name, so this registry alone may be served without the API token (AWO_METRICS_PORT of `awo worker`).
"""

from __future__ import annotations

import logging
import re
from wsgiref.simple_server import WSGIServer

import httpx
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

from bot.errors import ConfigError
from bot.models import WorkOrder

log = logging.getLogger(__name__)

EVENTS = frozenset({
    "issues", "issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment", "ping",
    "installation", "installation_repositories", "push",
})
OUTCOME_WORD = re.compile(r"^[a-z]{1,20}")
STEP_NAME = re.compile(r"^[a-z][a-z_-]{0,39}$")
STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
# GitHub's routes the bot calls, as templates; a path matching none counts as "other" (bounded cardinality).
_SEGMENT = r"[^/]+"
ROUTES = tuple((re.compile("^" + re.sub(r"\{[a-z_]+\}", _SEGMENT, t) + "$"), t) for t in (
    "/repos/{owner}/{repo}",
    "/repos/{owner}/{repo}/collaborators/{username}/permission",
    "/repos/{owner}/{repo}/issues/{number}",
    "/repos/{owner}/{repo}/issues/{number}/comments",
    "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    "/repos/{owner}/{repo}/issues/{number}/reactions",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/pulls/{number}",
    "/repos/{owner}/{repo}/pulls/{number}/files",
    "/repos/{owner}/{repo}/pulls/{number}/reviews",
    "/repos/{owner}/{repo}/pulls/{number}/comments",
    "/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies",
    "/repos/{owner}/{repo}/pulls/comments/{comment_id}",
    "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
    "/repos/{owner}/{repo}/installation",
    "/app/installations/{installation_id}/access_tokens",
    "/app",
    "/user",
    "/users/{username}",
    "/graphql",
))
CONTENTS = re.compile(r"^/repos/[^/]+/[^/]+/contents/")


def route_of(path: str, base_path: str = "") -> str:
    """The template of a GitHub API path (GHES' `/api/v3` prefix removed); "other" for any we do not call."""
    if path.endswith("/graphql"):  # GHES serves it at /api/graphql, beside (not under) /api/v3
        return "/graphql"
    path = path.removeprefix(base_path.rstrip("/")) or "/"
    if CONTENTS.match(path):
        return "/repos/{owner}/{repo}/contents/{path}"
    return next((template for pattern, template in ROUTES if pattern.match(path)), "other")


def event_of(name: str) -> str:
    return name if name in EVENTS else "other"


def outcome_of(outcome: str) -> str:
    """An outcome's first word (queued, ignored, refused, duplicate, failed...): the rest names issues and actors."""
    found = OUTCOME_WORD.match(outcome)
    return found.group(0) if found else "other"


class Metrics:
    """The process's counters; `github_hooks` are httpx event hooks that count every GitHub answer."""

    def __init__(self) -> None:
        disable_created_metrics()  # no `<name>_created` beside each series: the process start says as much
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deliveries = Counter("awo_deliveries", "Webhook deliveries processed by intake, by event and outcome",
                                  ["event", "outcome"], registry=r)
        self.intake_failures = Counter("awo_intake_failures", "Deliveries intake could not process (recorded as "
                                       "failed)", ["event"], registry=r)
        self.steps = Histogram("awo_step_duration_seconds", "Duration of executed steps, by step and result",
                               ["step", "success"], buckets=STEP_BUCKETS, registry=r)
        self.leases_lost = Counter("awo_leases_lost", "Work orders this process stopped running because another "
                                   "worker took over their lease (or the store went away)", registry=r)
        self.claims = Counter("awo_claims", "Work orders this process claimed: on their first attempt, or again (a "
                              "lease that expired under a stopped worker, a graceful stop's release, or a retry)",
                              ["attempt"], registry=r)
        self.lease_reclaims = Counter("awo_lease_reclaims", "Work orders this process claimed from another worker "
                                      "whose lease had expired (a crashed or stalled worker's work taken over)",
                                      registry=r)
        self.leases_expired = Counter("awo_leases_expired_failed", "Work orders failed by the claim loop: their "
                                      "lease expired on their last allowed attempt", registry=r)
        self.github_calls = Counter("awo_github_requests", "GitHub API answers, by method, route template and "
                                    "status class", ["method", "route", "status"], registry=r)
        self.rate_limit = Gauge("awo_github_rate_limit_remaining", "x-ratelimit-remaining of GitHub's last answer, "
                                "by rate-limit resource", ["resource"], registry=r)

    def delivery(self, event: str, outcome: str) -> None:
        self.deliveries.labels(event_of(event), outcome_of(outcome)).inc()

    def claimed(self, work_order: WorkOrder) -> None:
        self.claims.labels("first" if work_order.attempt <= 1 else "again").inc()
        if work_order.reclaimed_from is not None:
            self.lease_reclaims.inc()

    def intake_failure(self, event: str) -> None:
        self.intake_failures.labels(event_of(event)).inc()

    def step(self, name: str, seconds: float, success: bool) -> None:
        self.steps.labels(name if STEP_NAME.match(name) else "other", str(success).lower()).observe(seconds)

    def github_hooks(self, base_url: str) -> dict[str, list[object]]:
        base_path = httpx.URL(base_url).path

        async def counted(response: httpx.Response) -> None:
            self.github_response(response, base_path)

        return {"request": [], "response": [counted]}

    def github_response(self, response: httpx.Response, base_path: str = "") -> None:
        request = response.request
        status = f"{response.status_code // 100}xx"
        self.github_calls.labels(request.method, route_of(request.url.path, base_path), status).inc()
        remaining = response.headers.get("x-ratelimit-remaining", "")
        if remaining.isdigit():
            resource = response.headers.get("x-ratelimit-resource", "core")
            self.rate_limit.labels(resource if STEP_NAME.match(resource) else "other").set(int(remaining))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> WSGIServer:
        """This registry alone on host:port (a thread), for `awo worker`, which has no HTTP server of its own."""
        try:
            server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError("AWO_METRICS_PORT", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        log.info("metrics on http://%s:%d/metrics", host, port)
        return server
