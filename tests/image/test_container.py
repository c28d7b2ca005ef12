"""The container as an operator runs it: non-root, healthy by its own HEALTHCHECK, stopped cleanly by `docker stop`,
orphans reaped by its init, and work orders refused, with the reason, when the sandbox options are left out."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import free_port, wait_until
from tests.image.engine import run
from tests.image.harness import SANDBOX_OPTIONS, ContainerStack

pytestmark = pytest.mark.e2e

GRACE = 10  # docker stop's default


class Container:
    """One detached container of the image, removed afterwards."""

    def __init__(self, image: str, *args: str, entrypoint: str | None = None, options: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        argv = ["docker", "run", "--detach", "--network", "host", *SANDBOX_OPTIONS, *options,
                "-e", f"AGENT_WORK_ORDERS_PORT={self.port}", "-e", "GITHUB_WEBHOOK_SECRET=container-test-secret"]
        if entrypoint:
            argv += ["--entrypoint", entrypoint]
        done = run([*argv, image, *args], timeout=60)
        assert done.returncode == 0, done.stderr
        self.id = done.stdout.strip()

    def state(self) -> dict[str, object]:
        done = run(["docker", "inspect", "--format", "{{json .State}}", self.id], timeout=30)
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def health(self) -> str:
        return str((self.state().get("Health") or {}).get("Status"))  # type: ignore[attr-defined]

    def exec(self, *argv: str) -> str:
        done = run(["docker", "exec", self.id, *argv], timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def logs(self) -> str:
        done = run(["docker", "logs", self.id], timeout=30)
        return done.stdout + done.stderr

    def remove(self) -> None:
        run(["docker", "rm", "--force", "--volumes", self.id], timeout=60)


@pytest.fixture
def served(image: str) -> Iterator[Container]:
    container = Container(image)
    yield container
    container.remove()


def zombies(container: Container) -> list[str]:
    """The processes in the container that have exited but were never waited for."""
    out = container.exec("sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null")
    return [line for line in out.splitlines() if line.split(")")[-1].split()[0] == "Z"]


def test_the_server_runs_as_a_non_root_user(image: str, served: Container) -> None:
    config = json.loads(run(["docker", "image", "inspect", "--format", "{{json .Config}}", image]).stdout)
    assert config["User"] == "10001:10001"
    assert served.exec("id", "-u").strip() == "10001"
    wait_until(lambda: "Application startup complete" in served.logs(), timeout=30)
    owners = served.exec("sh", "-c", "grep -h '^Uid:' /proc/[0-9]*/status").split("\n")
    assert {line.split()[1] for line in owners if line} == {"10001"}  # every process, tini and awo too
    assert served.exec("sh", "-c", "touch /data/probe && stat -c %u /data/probe").strip() == "10001"


def test_the_healthcheck_goes_healthy(served: Container) -> None:
    assert wait_until(lambda: served.health() == "healthy", timeout=60, every=0.5)


def test_docker_stop_ends_the_server_cleanly_within_the_grace_period(served: Container) -> None:
    wait_until(lambda: "Application startup complete" in served.logs(), timeout=30)
    started = time.monotonic()
    done = run(["docker", "stop", "--time", str(GRACE), served.id], timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    state = served.state()
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert took < GRACE - 1, f"docker stop took {took:.1f} s: SIGKILL, not SIGTERM, ended it"
    assert "Application shutdown complete" in served.logs() and "Finished server process" in served.logs()


def test_docker_stop_ends_a_worker_cleanly(image: str) -> None:
    worker = Container(image, "worker", options=("--no-healthcheck",))
    try:
        wait_until(lambda: "started" in worker.logs(), timeout=30)
        assert run(["docker", "stop", "--time", str(GRACE), worker.id], timeout=60).returncode == 0
        assert worker.state()["ExitCode"] == 0
        assert "SIGTERM received: stopping" in worker.logs() and "worker stopped" in worker.logs()
    finally:
        worker.remove()


ORPHAN = "sh -c 'sleep 0.2 & exit 0'; sleep 1"  # the child outlives its parent: PID 1 inherits it


def test_the_init_reaps_orphans_that_awo_alone_would_leave_as_zombies(image: str, served: Container) -> None:
    """The bot kills the process group of a CLI or git run that times out; their orphans go to PID 1."""
    wait_until(lambda: "Application startup complete" in served.logs(), timeout=30)
    served.exec("sh", "-c", ORPHAN)
    assert zombies(served) == []
    bare = Container(image, "serve", entrypoint="awo")  # what the image would be without tini
    try:
        wait_until(lambda: "Application startup complete" in bare.logs(), timeout=30)
        bare.exec("sh", "-c", ORPHAN)
        left = " ".join(zombies(bare))
        assert "(sleep)" in left and "(bwrap)" in left, left  # the start-up sandbox probe leaves one too
    finally:
        bare.remove()


def test_without_the_sandbox_options_work_orders_are_refused_with_the_reason(
    image: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Docker's default seccomp profile and masked /proc stop bubblewrap: the bot says so, and runs no agent."""
    stack = ContainerStack(Path(tmp_path_factory.mktemp("no-sandbox")), image, options=())
    try:
        sandbox = stack.health()["agent_sandbox"]
        assert not sandbox["available"]
        assert "bubblewrap cannot create a sandbox here" in sandbox["detail"] and "SECURITY.md" in sandbox["detail"]
        stack.configure_repo()
        issue = stack.new_issue()
        stack.deliver("issues", stack.issue_payload(issue, "Say hello"))
        order = stack.finished(issue, timeout=60)
        assert order["status"] == "failed"
        assert "bubblewrap cannot create a sandbox here" in order["error_message"], order
        assert stack.model.requests() == []  # no agent ran
        assert "bubblewrap cannot create a sandbox here" in stack.log()
    finally:
        stack.stop()


# x86-64 numbers of calls the seccomp profile refuses, with arguments that would succeed, or fail otherwise than
# with EPERM, if nothing filtered them
REFUSED = {"keyctl": (250, 0, -3, 0), "setns": (308, -1, 0), "open_by_handle_at": (304, -1, 0, 0),
           "ptrace": (101, 0, 0, 0, 0)}
CALLS = """
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, (number, *args) in json.loads(sys.argv[1]).items():
    ctypes.set_errno(0)
    out[name] = (libc.syscall(number, *args), ctypes.get_errno())
print(json.dumps(out))
"""


def test_the_seccomp_profile_still_refuses_what_the_sandbox_does_not_need(image: str) -> None:
    assert os.uname().machine == "x86_64", "the numbers above are x86-64's"
    done = run(["docker", "run", "--rm", "--network", "host", *SANDBOX_OPTIONS, "--entrypoint", "python3", image,
                "-c", CALLS, json.dumps(REFUSED)], timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {name: [-1, errno.EPERM] for name in REFUSED}
