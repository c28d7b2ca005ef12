"""A worker dies (kill -9) while it works on a pull request; another finishes: one commit pushed on the PR's branch,
one reply in the PR's thread, no second PR."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import REPO, Fleet, Row, agent_file, agent_text, configure_repository, fetch
from tests.fleet.test_crash import alive
from tests.gitrepo import git, show
from tests.payloads import example

pytestmark = pytest.mark.postgres

BRANCH = "feature/crash"


def the_work_order(fleet: Fleet) -> Row:
    [row] = fetch(fleet.database_url, "SELECT * FROM archon_agent_work_orders")
    return row


def person_branch(fleet: Fleet, scratch: Path) -> str:
    work = scratch / "person"
    git("clone", "--quiet", str(fleet.remote), str(work), cwd=scratch)
    git("checkout", "--quiet", "-b", BRANCH, cwd=work)
    (work / "crash.txt").write_text("crash\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=Octo", "-c", "user.email=o@example.com", "commit", "--quiet", "-m", "start", cwd=work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_a_killed_workers_pull_request_run_is_finished_by_another_with_one_commit_and_one_reply(
    fleet: Fleet, tmp_path: Path,
) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    start = person_branch(fleet, tmp_path)
    fleet.gh.seed({"pulls": {REPO: [{"head": BRANCH, "base": "main", "title": "Crash test", "user": "Codertocat"}]}})
    [pull] = fleet.gh.pulls(REPO)
    number = pull["number"]
    body = "@claude add your file"
    fleet.gh.seed({"comments": {REPO: [{"issue_number": number, "body": body, "user": "Codertocat"}]}})
    [asked] = fleet.gh.comments(REPO, number)
    payload = example("issue_comment", "created", issue__number=number, issue__title="Crash test",
                      issue__pull_request={"url": f"{fleet.github.url}/repos/{REPO}/pulls/{number}"},
                      comment__body=body, comment__id=asked["id"], comment__user__login="Codertocat",
                      sender__login="Codertocat", repository__clone_url=str(fleet.remote))
    receiver = fleet.start_receiver()
    worker_a = fleet.start_worker("worker-a", agent_sleep=300)
    worker_a.worker_id()
    assert receiver.deliver("issue_comment", payload, "pr-crash-1").status_code == 202
    agents = wait_until(worker_a.agent_pids, timeout=30)

    worker_b = fleet.start_worker("worker-b")
    worker_b.worker_id()
    worker_a.kill()
    wait_until(lambda: not any(alive(pid) for pid in agents), timeout=5)

    done = wait_until(lambda: (row := the_work_order(fleet))["status"] not in ("pending", "running") and row,
                      timeout=60)
    assert (done["status"], done["attempt"]) == ("completed", 2), fleet.logs()
    assert done["git_branch_name"] == BRANCH and done["pr_number"] == number
    assert git("rev-list", "--count", f"{start}..{BRANCH}", cwd=fleet.remote) == "1"  # one commit, not two
    assert show(fleet.remote, BRANCH, agent_file(number)) + "\n" == agent_text(number)
    assert len(fleet.gh.pulls(REPO)) == 1  # no second PR
    replies = wait_until(lambda: (r := [c for c in fleet.gh.comments(REPO, number) if "agent-work-order:" in c["body"]])
                         and "✅ Done" in r[0]["body"] and r)
    assert len(replies) == 1, replies  # one reply, edited from queued to done
    sha = git("rev-parse", BRANCH, cwd=fleet.remote)
    assert sha[:7] in replies[0]["body"]
