"""The container image's figures: size, cold `docker build` (no cache), rebuild after a code change, and container
start until /health answers and until Docker calls it healthy. Needs the engine of `make test-image`."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import summary
from tests.e2e.harness import free_port
from tests.image import engine
from tests.image.harness import SANDBOX_OPTIONS

TAG = "agent-work-orders:bench"
# what the build context holds (see .dockerignore)
CONTEXT = ("Dockerfile", ".dockerignore", "bot", "migrations", "pyproject.toml", "README.md", "package.json",
           "package-lock.json")


def copy_context(dest: Path) -> Path:
    for name in CONTEXT:
        source = engine.ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def size_mb(tag: str) -> float:
    done = engine.run(["docker", "image", "inspect", "--format", "{{.Size}}", tag], timeout=30)
    return int(done.stdout) / 1e6


def layers(tag: str) -> list[str]:
    done = engine.run(["docker", "history", "--format", "{{.Size}}\t{{.CreatedBy}}", tag], timeout=30)
    return [line[:110] for line in done.stdout.splitlines() if not line.startswith("0B")]


def start_to_healthy(tag: str) -> tuple[float, float]:
    """Seconds from `docker run` to /health answering 200, and to Docker's `healthy` (the image's own check)."""
    port = free_port()
    started = time.monotonic()
    done = engine.run(["docker", "run", "--detach", "--network", "host", *SANDBOX_OPTIONS,
                       "-e", f"AGENT_WORK_ORDERS_PORT={port}", tag], timeout=60)
    container = done.stdout.strip()
    answered = healthy = 0.0
    try:
        while not healthy and time.monotonic() - started < 120:
            if not answered:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        answered = time.monotonic() - started
                except httpx.TransportError:
                    pass
            state = engine.run(["docker", "inspect", "--format", "{{json .State.Health}}", container], timeout=30)
            if json.loads(state.stdout).get("Status") == "healthy":
                healthy = time.monotonic() - started
            time.sleep(0.05)
    finally:
        engine.run(["docker", "rm", "--force", "--volumes", container], timeout=60)
    return answered, healthy


def main() -> None:
    engine.ensure_engine()
    engine.ensure_base_image()
    with tempfile.TemporaryDirectory(prefix="awo-bench-image-") as scratch:
        context = copy_context(Path(scratch))
        cold = engine.build(TAG, context, no_cache=True)
        print(f"cold docker build (no cache, base image present): {cold:.1f} s")
        print(f"image size: {size_mb(TAG):.0f} MB (base {size_mb(engine.BASE_IMAGE):.0f} MB)")
        for line in layers(TAG):
            print(f"  layer {line}")
        warm = engine.build(TAG, context)
        print(f"rebuild, nothing changed: {warm:.1f} s")
        with (context / "bot/__init__.py").open("a") as module:
            module.write("# a code change\n")
        changed = engine.build(TAG, context)
        print(f"rebuild after a change to bot/: {changed:.1f} s")
    runs = [start_to_healthy(TAG) for _ in range(3)]
    print(summary("container start -> /health 200", [a for a, _ in runs], "s", 1.0))
    print(summary("container start -> docker 'healthy' (interval 10 s)", [h for _, h in runs], "s", 1.0))


if __name__ == "__main__":
    main()
