"""What the agent sandbox costs per CLI run: the real CLI answering one scripted turn, with and without bwrap."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import summary
from bot.agent import AgentRequest, ClaudeCli, agent_env
from bot.sandbox import SandboxKind, build_sandbox
from tests.e2e.harness import CLAUDE
from tests.support.fake_anthropic import FakeAnthropicServer


async def timings(url: str, tree: Path, count: int) -> dict[SandboxKind, list[float]]:
    """Interleaved, so that load from elsewhere on the machine falls on both alike."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = agent_env(path, {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-bench"})
    kinds: tuple[SandboxKind, ...] = ("none", "bwrap")
    clis = {kind: ClaudeCli(str(CLAUDE), env, build_sandbox(kind, path)) for kind in kinds}
    request = AgentRequest("BENCH-SANDBOX", tree, "claude-sonnet-4-5", 2, ("Read", "Glob", "Grep"), 60)
    spent: dict[SandboxKind, list[float]] = {kind: [] for kind in kinds}
    for round_ in range(count + 1):
        for kind, cli in clis.items():
            started = time.perf_counter()
            result = await cli.run(request)
            assert result.success, result.error
            if round_:  # the first round warms the page cache and the sandbox check
                spent[kind].append(time.perf_counter() - started)
    return spent


async def bare(argv: list[str], count: int) -> list[float]:
    from bot import process

    spent = []
    for _ in range(count):
        started = time.perf_counter()
        await process.run(argv, timeout=10)
        spent.append(time.perf_counter() - started)
    return spent


def main(count: int = 10) -> None:
    from bot.sandbox import ISOLATION, system_binds

    with FakeAnthropicServer([{"match": "BENCH-SANDBOX", "turns": [{"text": "ok"}]}]) as model, \
            tempfile.TemporaryDirectory(prefix="awo-bench-") as tree:
        runs = asyncio.run(timings(model.url, Path(tree), count))
    for kind, spent in runs.items():
        print(summary(f"one CLI run (one scripted turn), AWO_AGENT_SANDBOX={kind}", spent))
    print(summary("/bin/true", asyncio.run(bare(["/bin/true"], 50))))
    print(summary("bwrap ... /bin/true", asyncio.run(bare(["bwrap", *ISOLATION, *system_binds(), "/bin/true"], 50))))


if __name__ == "__main__":
    main()
