"""The world a runner-like job of the action runs in: fake GitHub (OpenAPI-checked), the scripted model behind the
real Claude CLI, a bare remote, and a runner's folders (the same RUNNER_TEMP path every job, as on a hosted runner,
emptied between jobs; the cache kept)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.action.harness import Job, JobResult, run_action
from tests.e2e.harness import API_KEY, REPO, TOKEN, copy_project, path_without_claude
from tests.gitrepo import git, make_remote
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.fake_github import FakeGitHub, FakeGitHubClient
from tests.support.openapi import DEFAULT_SPEC, description

WEB = "https://github.com"


class ActionStack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.remote = make_remote(root / "remotes")
        self.model = FakeAnthropicServer().start()
        self.github = FakeGitHub(spec=DEFAULT_SPEC).start()
        self.api_url = self.github.url + description(DEFAULT_SPEC).prefix
        self.gh: FakeGitHubClient = self.github.client()
        self.gh.seed({
            "tokens": [TOKEN],
            "repos": {REPO: {"default_branch": "main", "clone_url": str(self.remote)}},
            "permissions": {REPO: {"Codertocat": "write", "reader": "read"}},
        })
        self.action_dir = copy_project(root / "action")
        self.cache = root / "cache"
        self.cache.mkdir()
        self.runner = root / "runner"
        self.workspace = self.runner / "work/Hello-World/Hello-World"
        self._runs = itertools.count(9001)
        self._numbers = itertools.count(301)
        self.rules: list[dict[str, Any]] = []

    def new_number(self) -> int:
        return next(self._numbers)

    def script(self, rules: list[dict[str, Any]]) -> None:
        self.model.set_script(rules + self.rules)
        self.rules = rules + self.rules

    def job(self, event: str, payload: dict[str, Any], ref: str = "refs/heads/main") -> Job:
        """A fresh runner for one job: its workspace a full checkout of the remote, its event file written."""
        shutil.rmtree(self.runner, ignore_errors=True)
        temp, workspace, home = self.runner / "_temp", self.workspace, self.runner / "home"
        for folder in (temp / "_github_workflow", home):
            folder.mkdir(parents=True)
        git("clone", "--quiet", str(self.remote), str(workspace), cwd=self.runner)
        event_path = temp / "_github_workflow/event.json"
        event_path.write_text(json.dumps(payload))
        run_id = str(next(self._runs))
        sha = git("rev-parse", "HEAD", cwd=workspace)
        env = {
            "PATH": path_without_claude(), "HOME": str(home), "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(event_path), "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REPOSITORY": REPO, "GITHUB_REPOSITORY_OWNER": REPO.split("/")[0], "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_ATTEMPT": "1", "GITHUB_REF": ref, "GITHUB_SHA": sha, "GITHUB_SERVER_URL": WEB,
            "GITHUB_API_URL": self.api_url, "GITHUB_ACTOR": "Codertocat", "GITHUB_JOB": "work-order",
            "GITHUB_ACTION_PATH": str(self.action_dir), "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64", "LANG": "C.UTF-8",
            # the test world: the remote is a bare repository on disk, the model a scripted server on loopback
            "AWO_GIT_PROTOCOLS": "https,file", "ANTHROPIC_BASE_URL": self.model.url, "AWO_STEP_TIMEOUT_SECONDS": "30",
        }
        contexts: dict[str, Any] = {
            "github": {"event_name": event, "event": payload, "repository": REPO, "repository_owner": "Codertocat",
                       "token": TOKEN, "server_url": WEB, "api_url": self.api_url, "workspace": str(workspace),
                       "action_path": str(self.action_dir), "run_id": run_id, "run_attempt": "1", "ref": ref,
                       "sha": sha, "actor": "Codertocat", "job": "work-order", "event_path": str(event_path)},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(temp), "name": "harness",
                       "tool_cache": str(self.runner / "toolcache")},
            "env": {},
        }
        return Job(env, contexts, temp, self.cache)

    def run(self, event: str, payload: dict[str, Any], ref: str = "refs/heads/main", **given: str) -> JobResult:
        """The action as a workflow's step runs it, with the one secret the README asks for."""
        return run_action(self.action_dir, self.job(event, payload, ref), {"anthropic_api_key": API_KEY, **given})

    def stop(self) -> None:
        violations = self.gh.violations()
        self.gh.close()
        self.github.stop()
        self.model.stop()
        assert violations == [], f"requests GitHub's OpenAPI description does not allow: {violations}"


def no_secret_in(root: Path, secrets: tuple[str, ...]) -> list[Path]:
    """Files under `root` holding any of the secrets (the runner's files, logs and the agent's folders)."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 5_000_000:
                continue
            data = path.read_bytes()
            if any(s.encode() in data for s in secrets):
                found.append(path)
    return found
