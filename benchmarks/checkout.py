"""Checkout on a big repository: `git clone`, `git clone --depth 1`, a new worktree, and a pool slot.

A generated 20k-file / 2k-commit repository (made once with `git fast-import`, cached under
~/.cache/awo-bench) is the remote. Every round first pushes a new upstream commit, so each work order's base
moves, then times each way of getting a checkout of it, interleaved so that load from elsewhere on the
machine falls on all alike. Wall time and the CPU time of git itself (children's user + system) are printed;
the pool's figures are a warm slot's (the first work order, which adds the slot, is left out).

    python -m benchmarks.checkout [--rounds 2] [--pool-rounds 8] [--files 20000] [--commits 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from bot.checkout import Checkout
from bot.remotes import RemotePolicy

CACHE = Path.home() / ".cache" / "awo-bench"
PATH = "/usr/local/bin:/usr/bin:/bin"
FILE_BYTES = 2048  # of random bytes, written as hex: ~4 KiB a file, ~80 MiB checked out at 20k files
Timed = tuple[float, float]  # wall seconds, CPU seconds of child processes


def paths(files: int) -> list[str]:
    return [f"src/d{n // 100:03d}/m{n % 100:02d}.txt" for n in range(files)]


def stream(files: int, commits: int, seed: int = 12) -> Iterator[bytes]:
    """A fast-import stream: one commit adding every file, then commits each appending to three of them."""
    rng = random.Random(seed)
    names = paths(files)
    contents = [rng.randbytes(FILE_BYTES).hex().encode() + b"\n" for _ in names]
    for number in range(commits):
        touched = range(files) if number == 0 else rng.sample(range(files), 3)
        yield commit_head(number, f"commit {number}")
        for index in touched:
            if number:
                contents[index] += f"change {number}\n".encode()
            yield f"M 100644 inline {names[index]}\ndata {len(contents[index])}\n".encode() + contents[index]
            yield b"\n"


def commit_head(number: int, message: str, parent: str | None = None) -> bytes:
    when = 1_700_000_000 + number * 60
    start = f"from {parent}\n" if parent else ""
    return (f"commit refs/heads/main\ncommitter Bench <bench@example.com> {when} +0000\n"
            f"data {len(message)}\n{message}\n{start}").encode()


def fast_import(bare: Path, chunks: Iterator[bytes]) -> None:
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in chunks:
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def generated(files: int, commits: int) -> Path:
    """The cached bare repository, made on first use."""
    bare = CACHE / f"checkout-{files}-{commits}.git"
    if (bare / "awo-complete").exists():
        return bare
    shutil.rmtree(bare, ignore_errors=True)
    bare.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(bare)], check=True)
    fast_import(bare, stream(files, commits))
    (bare / "awo-complete").write_text("")
    print(f"generated {bare} in {time.perf_counter() - started:.1f} s")
    return bare


def upstream_commit(remote: Path, round_: int, files: int) -> None:
    """A new commit on the remote's main changing a few files: the next work order's base."""
    chunks = [commit_head(10**6 + round_, f"round {round_}", "refs/heads/main^0")]
    for name in random.Random(round_).sample(paths(files), 3):
        text = f"round {round_}\n".encode()
        chunks.append(f"M 100644 inline {name}\ndata {len(text)}\n".encode() + text + b"\n")
    fast_import(remote, iter(chunks))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def timed(action: Callable[[], Awaitable[object]]) -> Timed:
    wall, cpu = time.perf_counter(), children_cpu()
    await action()
    return time.perf_counter() - wall, children_cpu() - cpu


async def clone(url: str, target: Path, *options: str) -> None:
    proc = await asyncio.create_subprocess_exec("git", "clone", "--quiet", *options, url, str(target))
    if await proc.wait() != 0:
        raise SystemExit(f"git clone {' '.join(options)} failed")


class Ways:
    """Each way of getting a checkout of `remote`, as one work order would."""

    def __init__(self, scratch: Path, remote: Path) -> None:
        self.scratch, self.remote = scratch, remote
        env = {"PATH": PATH, "HOME": str(scratch)}
        policy = RemotePolicy(protocols=("file",))
        self.worktree = Checkout(scratch / "plain", env, policy=policy, pool_slots=0)
        self.pooled = Checkout(scratch / "pooled", env, policy=policy, pool_slots=2)

    async def clone(self, key: int, *options: str) -> Timed:
        target = self.scratch / f"clone-{key}"
        spent = await timed(lambda: clone(f"file://{self.remote}", target, *options))
        shutil.rmtree(target)
        return spent

    async def checkout(self, checkout: Checkout, key: int) -> tuple[Timed, Timed]:
        """Prepare, then give back (remove the worktree, or reset and free the slot)."""
        holder: list[object] = []

        async def prepare() -> None:
            holder.append(await checkout.prepare(str(self.remote), f"claude/issue-{key}-{key:08x}",
                                                 f"wo-{key:08x}", "main", None))

        prepared = await timed(prepare)
        given_back = await timed(lambda: checkout.remove(holder[0]))  # type: ignore[arg-type]
        return prepared, given_back


async def rounds(ways: Ways, baseline: int, pooled: int, files: int) -> dict[str, list[Timed]]:
    """Round 0 clones the mirrors and adds the slot (cold: left out); the slow ways run `baseline` rounds,
    the pool `pooled` rounds (each round's base is one commit further)."""
    figures: dict[str, list[Timed]] = {}
    for round_ in range(max(baseline, pooled) + 1):
        upstream_commit(ways.remote, round_, files)
        key = round_ + 1
        results: dict[str, Timed] = {}
        if 0 < round_ <= baseline:
            results["git clone"] = await ways.clone(key)
            results["git clone --depth 1"] = await ways.clone(key, "--depth", "1")
        if round_ <= baseline:
            results["worktree add (prepare)"], results["worktree remove"] = await ways.checkout(ways.worktree, key)
        if round_ <= pooled:
            results["pool slot (prepare)"], results["pool slot (give back)"] = await ways.checkout(ways.pooled, key)
        if round_:
            for name, spent in results.items():
                figures.setdefault(name, []).append(spent)
        print(f"round {round_}: " + ", ".join(f"{name} {wall:.2f} s" for name, (wall, _) in results.items()),
              flush=True)
    return figures


def report(figures: dict[str, list[Timed]]) -> float:
    wall = {name: statistics.median(w for w, _ in spent) for name, spent in figures.items()}
    cpu = {name: statistics.median(c for _, c in spent) for name, spent in figures.items()}
    for name in figures:
        print(f"{name:26s} median {wall[name] * 1000:8.0f} ms wall, {cpu[name] * 1000:8.0f} ms git CPU")
    pool = "pool slot (prepare)"
    for other in ("git clone", "git clone --depth 1", "worktree add (prepare)"):
        print(f"pool slot prepare vs {other}: {wall[other] / wall[pool]:.1f}x faster (wall), "
              f"{cpu[other] / max(cpu[pool], 1e-6):.1f}x less git CPU")
    return min(wall["git clone"] / wall[pool] / 10, wall["git clone --depth 1"] / wall[pool] / 3)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the slow ways (clones, worktree add)")
    parser.add_argument("--pool-rounds", type=int, default=8, help="rounds of the pool slot")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--commits", type=int, default=2_000)
    args = parser.parse_args()
    cached = generated(args.files, args.commits)
    with tempfile.TemporaryDirectory(prefix="awo-bench-checkout-") as scratch:
        remote = Path(scratch) / "remote.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", str(cached), str(remote)], check=True)
        ways = Ways(Path(scratch), remote)
        figures = await rounds(ways, args.rounds, args.pool_rounds, args.files)
        checked_out = sum(p.stat().st_size for p in (Path(scratch) / "pooled" / "worktrees").rglob("*.txt"))
    print(f"{args.files} files, {args.commits} commits, {checked_out / 2**20:.0f} MiB checked out")
    margin = report(figures)
    print("target (>= 10x git clone and >= 3x git clone --depth 1):", "met" if margin >= 1 else "NOT met")


if __name__ == "__main__":
    asyncio.run(main())
