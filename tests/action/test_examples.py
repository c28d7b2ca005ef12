"""The example workflows, read as GitHub reads them: their job filters and concurrency groups evaluated by GitHub's
own evaluator against real payloads, their permissions and the action's inputs they pass checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.action.harness import evaluate
from tests.payloads import example

ROOT = Path(__file__).resolve().parents[2]
ACTION_INPUTS = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / name).read_text())  # type: ignore[no-any-return]


def job_of(name: str) -> dict[str, Any]:
    [job] = workflow(name)["jobs"].values()
    return job  # type: ignore[no-any-return]


def contexts(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"github": {"event_name": event, "event": payload, "repository": "Codertocat/Hello-World"},
            "inputs": {"prompt": ""}, "secrets": {"ANTHROPIC_API_KEY": "k"}}


CASES = [
    ("issues.yml", "issues", example("issues", "labeled", label__name="claude"), True),
    ("issues.yml", "issues", example("issues", "labeled", label__name="bug"), False),
    ("issues.yml", "issue_comment", example("issue_comment", "created", comment__body="@claude fix it"), True),
    ("issues.yml", "issue_comment", example("issue_comment", "created", comment__body="thanks"), False),
    ("review.yml", "pull_request_review_comment",
     example("pull_request_review_comment", "created", comment__body="@claude rename"), True),
    ("review.yml", "pull_request_review", example("pull_request_review", "submitted", review__body="@claude go"), True),
    ("review.yml", "pull_request_review", example("pull_request_review", "submitted", review__body=None), False),
]


@pytest.mark.parametrize(("name", "event", "payload", "runs"), CASES)
def test_the_job_filter_lets_through_what_may_trigger(name: str, event: str, payload: dict[str, Any],
                                                      runs: bool) -> None:
    job = job_of(name)
    [truth, group] = evaluate(contexts(event, payload), [("condition", job["if"]),
                                                          ("template", job["concurrency"]["group"])])
    assert truth is runs
    number = (payload.get("issue") or payload.get("pull_request"))["number"]
    assert group == f"agent-work-orders-{number}"  # one group per issue or PR, across both workflows


@pytest.mark.parametrize("name", ["issues.yml", "review.yml", "scheduled.yml"])
def test_each_example_is_least_privilege_and_passes_only_declared_inputs(name: str) -> None:
    spec = workflow(name)
    job = job_of(name)
    assert spec["permissions"] == {} and set(job["permissions"]) <= {"contents", "issues", "pull-requests"}
    assert job["concurrency"]["cancel-in-progress"] is False
    [checkout] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["persist-credentials"] is False and checkout["with"]["fetch-depth"] == 0
    [ours] = [s for s in job["steps"] if "agent-work-orders@" in s.get("uses", "")]
    assert set(ours["with"]) <= ACTION_INPUTS


def test_the_scheduled_prompt_falls_back_to_its_fixed_request() -> None:
    [ours] = [s for s in job_of("scheduled.yml")["steps"] if "agent-work-orders@" in s.get("uses", "")]
    [dispatched, scheduled] = [evaluate({**contexts("workflow_dispatch", {}), "inputs": {"prompt": given}},
                                        [("template", ours["with"]["prompt"])])[0] for given in ("Do X", "")]
    assert dispatched == "Do X" and scheduled.startswith("Find one TODO")
