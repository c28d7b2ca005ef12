"""A Docker engine, the base image and the project's image, made ready on this machine (used by tests and benchmarks).

No registry image can be pulled here: `debian:bookworm-slim` is made from Debian's mirror with debootstrap, cached
as a tarball between runs. Everything that cannot be had raises `EngineUnavailable` with what to do: the image
tests fail with that message, they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "debian:bookworm-slim"
IMAGE = "agent-work-orders:test"
POSTGRES_IMAGE = "postgres:15-bookworm"  # the name compose.yaml uses; here, a stand-in built from Debian's package
STAND_IN = "org.agent-work-orders.test-stand-in"  # the label that tells our stand-in from the official image
CACHE = Path(os.environ.get("AWO_IMAGE_CACHE", "/var/cache/awo-image"))
MIRROR = os.environ.get("AWO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DOCKERD = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false"]
PACKAGES = {"docker": "docker.io", "dockerd": "docker.io", "debootstrap": "debootstrap",
            "docker-compose": "docker-compose"}
# What a slim image leaves out of a minbase rootfs: package caches and lists, documentation.
SLIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
           "usr/share/locale")


class EngineUnavailable(RuntimeError):
    """Docker (or what makes the base image) is missing and cannot be installed or started here."""


def run(argv: list[str], timeout: float = 600, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd)


def ensure_tools() -> None:
    missing = sorted({package for tool, package in PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise EngineUnavailable(f"the image tests need {' '.join(missing)}: run `sudo apt-get install -y "
                                f"{' '.join(missing)}` (Debian's Docker engine, debootstrap, compose)")
    done = run(["apt-get", "install", "-y", *missing])
    if done.returncode != 0:
        run(["apt-get", "update"])
        done = run(["apt-get", "install", "-y", *missing])
    if done.returncode != 0:
        raise EngineUnavailable(f"apt-get install {' '.join(missing)} failed: {done.stderr.strip()[-500:]}")


def engine_answers() -> bool:
    return run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0


def ensure_engine() -> None:
    """Start dockerd in the background (no bridge, no iptables: everything uses the host's network) if needed."""
    ensure_tools()
    if engine_answers():
        return
    if os.geteuid() != 0:
        raise EngineUnavailable("the Docker engine does not answer and only root can start it here: "
                                f"run `sudo {' '.join(DOCKERD)} &`, or add this user to the docker group")
    log = Path(tempfile.gettempdir()) / "awo-dockerd.log"
    # Detached through a shell that exits at once: the engine outlives this test run (later runs reuse it), and no
    # Popen of a still-running child is left to be collected mid-session (a ResourceWarning, an error here).
    subprocess.run(["sh", "-c", 'nohup "$@" >>"$AWO_DOCKERD_LOG" 2>&1 </dev/null &', "start-dockerd", *DOCKERD],
                   env={**os.environ, "AWO_DOCKERD_LOG": str(log)}, check=True, start_new_session=True, timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(0.5)
    raise EngineUnavailable(f"dockerd did not answer within 60 s; its log: {log}\n{log.read_text()[-2000:]}")


def image_exists(tag: str) -> bool:
    return run(["docker", "image", "inspect", tag], timeout=30).returncode == 0


def ensure_base_image() -> None:
    """`debian:bookworm-slim`, imported from a cached debootstrap tarball (made once, ~30 s) when absent."""
    if image_exists(BASE_IMAGE):
        return
    tarball = CACHE / "debian-bookworm-minbase.tar"
    if not tarball.exists():
        make_rootfs_tarball(tarball)
    done = run(["docker", "import", "--change", 'CMD ["bash"]', str(tarball), BASE_IMAGE])
    if done.returncode != 0:
        raise EngineUnavailable(f"docker import of {tarball} failed: {done.stderr.strip()[-500:]}")


def make_rootfs_tarball(tarball: Path) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="awo-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        done = run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR], timeout=900)
        if done.returncode != 0:
            raise EngineUnavailable(f"debootstrap from {MIRROR} failed (set AWO_DEBIAN_MIRROR to a reachable "
                                    f"mirror): {done.stderr.strip()[-800:]}")
        for folder in SLIMMED:
            shutil.rmtree(rootfs / folder, ignore_errors=True)
            (rootfs / folder).mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        done = run(["tar", "-C", str(rootfs), "-cf", str(partial), "."])
        if done.returncode != 0:
            raise EngineUnavailable(f"tar of the rootfs failed: {done.stderr.strip()[-500:]}")
        partial.rename(tarball)


def extra_ca_certificates() -> str:
    """The CA certificates this host added locally (a TLS-intercepting proxy's, say): the build needs them too."""
    folder = Path("/usr/local/share/ca-certificates")
    return "".join(path.read_text() for path in sorted(folder.rglob("*.crt"))) if folder.is_dir() else ""


def build(tag: str = IMAGE, context: Path = ROOT, *, no_cache: bool = False, dockerfile: str = "Dockerfile") -> float:
    """`docker build --network host`; returns its wall time in seconds."""
    argv = ["docker", "build", "--network", "host", "-t", tag, "-f", str(context / dockerfile),
            "--build-arg", f"EXTRA_CA_CERTS={extra_ca_certificates()}"]
    started = time.monotonic()
    done = run([*argv, *(["--no-cache"] if no_cache else []), str(context)], timeout=1200)
    if done.returncode != 0:
        raise AssertionError(f"docker build of {tag} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return time.monotonic() - started


def ensure_postgres_image() -> None:
    """A stand-in for the official `postgres:15-bookworm` (which cannot be pulled here), built from Debian's;
    an official image already there is used as it is."""
    label = "{{index .Config.Labels \"" + STAND_IN + "\"}}"
    done = run(["docker", "image", "inspect", "--format", label, POSTGRES_IMAGE])
    if done.returncode != 0 or done.stdout.strip() == "yes":
        build(POSTGRES_IMAGE, ROOT / "tests/image/postgres")


def ready() -> str:
    """The engine running, the base image there, the project's image freshly built (cached layers reused)."""
    ensure_engine()
    ensure_base_image()
    build()
    return IMAGE
