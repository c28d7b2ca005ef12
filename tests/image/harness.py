"""The end-to-end stack of tests/e2e with the bot in its container: `docker run --network host` of the image.

The scripted model and fake GitHub stay on the host's loopback; the bare remote is mounted at the same path, so the
payload's clone_url means the same inside and outside.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import Stack, wait_until
from tests.gitrepo import GIT_ENV
from tests.image.engine import ROOT, run

SECCOMP = ROOT / "docker/seccomp-bwrap.json"
# What README and compose.yaml tell operators to pass for the agent sandbox.
SANDBOX_OPTIONS = ("--security-opt", f"seccomp={SECCOMP}", "--security-opt", "systempaths=unconfined",
                   "--security-opt", "no-new-privileges:true", "--cap-drop", "ALL")
# The host's paths and settings the container has its own values for.
HOST_ONLY = {"PATH", "HOME", "CLAUDE_CLI_PATH", "SQLITE_PATH", "AWO_DATA_DIR"}


CONTAINER_USER = "10001:10001"


def give_to_container(remote: Path) -> None:
    """The bare remote belongs to the container's user, who pushes to it (git refuses a repository of another's)."""
    subprocess.run(["chown", "-R", CONTAINER_USER, str(remote)], check=True)


def host_git(stack: Stack, *args: str) -> str:
    """git on the host, reading the container user's remote: named safe in a global config of its own."""
    config = stack.root / "host-gitconfig"
    config.write_text(f"[safe]\n\tdirectory = {stack.remote}\n")
    done = subprocess.run(["git", *args], cwd=stack.remote, capture_output=True, text=True, check=True,
                          env={**GIT_ENV, "GIT_CONFIG_GLOBAL": str(config)})
    return done.stdout.strip()


def abandon(stack: Stack) -> None:
    """Stop the fakes of a stack whose server never came up (its constructor raises: no stop() follows)."""
    stack.gh.close()
    stack.github.stop()
    stack.model.stop()


class ContainerStack(Stack):
    """`Stack` whose server is the image, run as README says (volume, env, sandbox options) on the host network."""

    def __init__(self, root: Path, image: str, *, options: tuple[str, ...] = SANDBOX_OPTIONS, **env: str) -> None:
        self.image = image
        self.options = options
        self.name = f"awo-test-{os.getpid()}-{time.monotonic_ns()}"
        super().__init__(root, None, **env)

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        give_to_container(self.remote)
        env = {k: v for k, v in self.environment(extra).items() if k not in HOST_ONLY}
        # names only on the command line: the values (the token among them) come from the client's environment
        names = [arg for key in sorted(env) for arg in ("-e", key)]
        argv = ["docker", "run", "--rm", "--name", self.name, "--network", "host", *self.options,
                "-v", f"{self.remote.parent}:{self.remote.parent}", *names, self.image, "serve"]
        with self.log_path.open("ab") as log:
            server = subprocess.Popen(argv, env={**env, "PATH": os.environ["PATH"]}, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(self._up, timeout=60)
        except AssertionError:
            run(["docker", "rm", "--force", self.name], timeout=60)
            abandon(self)
            raise AssertionError(f"the container did not answer /health:\n{self.log()[-3000:]}") from None
        return server

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/health", timeout=10).json()  # type: ignore[no-any-return]

    def inspect(self) -> dict[str, Any]:
        done = run(["docker", "inspect", self.name], timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)[0]  # type: ignore[no-any-return]

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return run(["docker", "exec", self.name, *argv], timeout=60)

    def stop(self) -> None:
        run(["docker", "stop", "--time", "15", self.name], timeout=60)
        super().stop()
