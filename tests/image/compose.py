"""compose.yaml, unchanged, brought up with the tests' override (tests/image/compose.test.yaml) around the
end-to-end stack's fakes: Postgres, `awo migrate`, `awo serve --workers 0` and scaled workers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import API_KEY, API_TOKEN, SECRET, TOKEN, Stack, free_port, wait_until
from tests.image.engine import ROOT, run
from tests.image.harness import abandon, give_to_container

OVERRIDE = ROOT / "tests/image/compose.test.yaml"
PASSWORD = "compose-test-pg-password"
FILES = ["-f", "compose.yaml", "-f", str(OVERRIDE)]


def implementations() -> dict[str, list[str]]:
    """Debian's docker-compose 1.29 (installed by the tests), and Compose v2 where there is one: `docker compose`,
    or the binary AWO_COMPOSE_V2 names."""
    found = {"compose-1.29": ["docker-compose"]}
    if os.environ.get("AWO_COMPOSE_V2"):
        found["compose-v2"] = [os.environ["AWO_COMPOSE_V2"]]
    elif run(["docker", "compose", "version"], timeout=30).returncode == 0:
        found["compose-v2"] = ["docker", "compose"]
    return found


def user_files(project: Path) -> Path:
    """What a user has after a clone and `cp .env.example .env`: compose.yaml and the seccomp profile."""
    (project / "docker").mkdir(parents=True)
    shutil.copy2(ROOT / "compose.yaml", project / "compose.yaml")
    shutil.copy2(ROOT / "docker/seccomp-bwrap.json", project / "docker/seccomp-bwrap.json")
    return project


def make_network(name: str) -> str:
    """A bridge network for the project; returns its gateway, the host's address on it."""
    done = run(["docker", "network", "create", name], timeout=60)
    assert done.returncode == 0, done.stderr
    done = run(["docker", "network", "inspect", name, "--format", "{{(index .IPAM.Config 0).Gateway}}"], timeout=30)
    return done.stdout.strip()


class ComposeStack(Stack):
    """`Stack` whose bot is compose.yaml's services; `server` follows their logs."""

    def __init__(self, root: Path, image: str, command: list[str], workers: int = 2) -> None:
        self.image = image
        self.workers = workers
        self.command = [*command, *FILES]
        # 1.29 cannot unmask /proc, so bubblewrap cannot run under it; v2 runs compose.yaml as it is
        self.sandboxed = command != ["docker-compose"]
        self.folder = user_files(root / "project")
        self.network = f"awotest{free_port()}"
        gateway = make_network(self.network)
        try:
            super().__init__(root, None, fakes_host=gateway)
        except BaseException:
            run(["docker", "network", "rm", self.network], timeout=60)
            raise

    def dotenv(self) -> str:
        """The user's .env, filled in as .env.example asks (with the fakes' addresses)."""
        values = {
            "POSTGRES_PASSWORD": PASSWORD, "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_TOKEN": TOKEN,
            "ANTHROPIC_API_KEY": API_KEY, "AWO_API_TOKEN": API_TOKEN, "GITHUB_API_URL": self.api_url,
            "ANTHROPIC_BASE_URL": self.model.url, "AWO_PORT": str(self.port),
            "AWO_GIT_PROTOCOLS": "https,file", "AWO_STEP_TIMEOUT_SECONDS": "60",
        }
        if not self.sandboxed:  # what compose.yaml tells 1.29's users to set (README, SECURITY.md)
            values |= {"AWO_UNMASK_PROC": "no-new-privileges", "AWO_AGENT_SANDBOX": "none"}
        return "".join(f"{k}={v}\n" for k, v in values.items())

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run([*self.command, *args], timeout=timeout, env=self._compose_env(), cwd=self.folder)

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        give_to_container(self.remote)
        (self.folder / ".env").write_text(self.dotenv())
        done = self.compose("up", "--detach", "--no-build", "--scale", f"worker={self.workers}")
        if done.returncode != 0:
            self.compose("down", "--volumes", timeout=180)
            abandon(self)
            raise AssertionError(f"docker-compose up failed:\n{done.stdout}{done.stderr}")
        with self.log_path.open("ab") as log:
            follower = subprocess.Popen([*self.command, "logs", "--no-color", "--follow"], cwd=self.folder, stdout=log,
                                        stderr=subprocess.STDOUT, env=self._compose_env(), start_new_session=True)
        try:
            wait_until(self._up, timeout=90)
        except AssertionError:
            logs = self.compose("logs", "--no-color").stdout[-4000:]
            follower.kill()
            self.compose("down", "--volumes", timeout=180)
            abandon(self)
            raise AssertionError(f"compose's serve did not answer:\n{logs}") from None
        return follower

    def _compose_env(self) -> dict[str, str]:
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "AWO_IMAGE": self.image, "TEST_NETWORK": self.network,
                "TEST_REMOTES": str(self.remote.parent), "COMPOSE_PROJECT_NAME": self.network}

    def services(self) -> list[str]:
        """`service exit-code` of every container of the project, stopped ones too."""
        done = run(["docker", "ps", "--all", "--filter", f"label=com.docker.compose.project={self.network}",
                    "--format", '{{.Label "com.docker.compose.service"}} {{.Status}}'], timeout=30)
        return sorted(done.stdout.splitlines())

    def stop(self) -> None:
        self.compose("down", "--volumes", "--timeout", "30", timeout=180)
        try:
            super().stop()
        finally:  # after the fakes: they listen on the network's gateway
            run(["docker", "network", "rm", self.network], timeout=60)

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/health", timeout=10).json()  # type: ignore[no-any-return]
