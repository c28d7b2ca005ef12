"""End to end against the container: a labelled issue becomes a PR, the agent sandboxed by bubblewrap inside it."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.harness import API_KEY, API_TOKEN, REPO, SECRET, TOKEN, script_for, wait_until
from tests.image.harness import ContainerStack, host_git

pytestmark = pytest.mark.e2e

PLAN = [{"text": "Plan: create hello.txt containing a greeting."}]
WRITE_HELLO = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from claude\n"}}}
# what a prompt-injected agent would try: the bot's data folder (its database) and its home
ESCAPE = {"tool_use": [{"name": "Read", "input": {"file_path": "/data/work-orders.db"}},
                       {"name": "Write", "input": {"file_path": "/data/pwned.txt", "content": "pwned"}},
                       {"name": "Write", "input": {"file_path": "/home/awo/pwned.txt", "content": "pwned"}}]}


def test_the_container_runs_the_agent_under_bubblewrap(stack: ContainerStack) -> None:
    sandbox = stack.health()["agent_sandbox"]
    assert sandbox["kind"] == "bwrap" and sandbox["available"], sandbox


def test_labelled_issue_becomes_a_pr_from_the_container(stack: ContainerStack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [ESCAPE, WRITE_HELLO, {"text": "Added hello.txt with a greeting."}]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Say hello")).status_code == 202

    order = stack.finished(issue, timeout=120)
    assert order["status"] == "completed", (order, stack.log()[-3000:])
    branch = order["git_branch_name"]
    assert branch in host_git(stack, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()
    assert host_git(stack, "show", f"{branch}:hello.txt") == "hello from claude"
    assert host_git(stack, "diff", "--name-only", "main", branch) == "hello.txt"

    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == branch]
    assert order["pr_url"] == pull["html_url"]
    [pr_call] = [c for c in stack.gh.calls("POST", r"/pulls$") if c["json"]["head"] == branch]
    assert f"Closes #{issue}" in pr_call["json"]["body"] and pr_call["token"] == TOKEN

    body = wait_until(lambda: "✅ Done" in stack.comment_on(issue) and stack.comment_on(issue))
    assert pull["html_url"] in body and branch in body
    for step in ("checkout", "plan", "implement", "commit", "push", "pull-request"):
        assert f"- [x] **{step}**" in body

    # the escape attempts reached nothing: inside the sandbox neither the data folder nor the home is there
    for planted in ("/data/pwned.txt", "/home/awo/pwned.txt"):
        assert stack.exec("test", "-e", planted).returncode == 1, planted
    assert stack.exec("test", "-s", "/data/work-orders.db").returncode == 0  # the bot's own store is there
    seen = str(stack.model.requests())
    assert "hello.txt" in seen
    assert "SQLite format 3" not in seen  # the database's header never reached the model
    for secret in (TOKEN, SECRET):
        assert secret not in seen, "a GitHub credential reached the model"
    assert TOKEN not in stack.log() and API_KEY not in stack.log()

    # the dashboard is in the image: its login, its assets, and the work order's page behind a login
    with httpx.Client(base_url=stack.url, timeout=10, follow_redirects=False) as browser:
        assert browser.get("/static/dashboard.css").status_code == 200
        assert browser.get(f"/work-orders/{order['agent_work_order_id']}").status_code == 303
        assert browser.post("/login", data={"token": API_TOKEN, "next": "/"}).status_code == 303
        page = browser.get(f"/work-orders/{order['agent_work_order_id']}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and 'id="timeline"' in page.text and pull["html_url"] in page.text


# What a compromised CLI could run where the agent runs: the bot's own bubblewrap command, in the container.
JAILED = r"""
import json, subprocess, sys, tempfile
from pathlib import Path
from bot.sandbox import Bubblewrap, Jail
Path("/data/canary.txt").write_text("DATA-FOLDER-CANARY")
tree = Path(tempfile.mkdtemp(dir="/data"))
scratch = Path(tempfile.mkdtemp())
attack = ("cat /data/canary.txt; ls -a /data /home/awo; cat /home/awo/.profile; cat /proc/[0-9]*/environ; "
          "echo pwned > /data/pwned.txt; echo pwned > /home/awo/pwned.txt; echo inside > inside.txt")
argv = Bubblewrap("/usr/bin/bwrap").wrap(["sh", "-c", attack], Jail(tree, scratch, Path("/usr/bin/sh")))
done = subprocess.run(argv, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, cwd=tree, timeout=60)
print(json.dumps({"out": done.stdout + done.stderr, "inside": (tree / "inside.txt").read_text()}))
"""


def test_shell_code_in_the_agent_s_place_sees_neither_the_data_folder_nor_the_bot(stack: ContainerStack) -> None:
    done = stack.exec("python3", "-c", JAILED)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["inside"] == "inside\n"  # the worktree is writable
    assert "DATA-FOLDER-CANARY" not in seen["out"] and "work-orders.db" not in seen["out"]
    assert TOKEN not in seen["out"] and SECRET not in seen["out"]  # no /proc/<pid>/environ of the bot
    assert "# ~/.profile" not in seen["out"]  # the bot's home is not there
    for planted in ("/data/pwned.txt", "/home/awo/pwned.txt"):
        assert stack.exec("test", "-e", planted).returncode == 1, planted
