"""Named mutations: each reintroduces one known bug in a scratch copy and runs the one test that must catch it.

A mutation is an entry of a JSON list in `mutations/*.json`: `{"name": ..., "file": "bot/x.py",
"find": "<text present exactly once>", "replace": "<the bug>", "test": "<pytest id>"}`.
It is *caught* when its test fails on the mutated copy. Usage: `python -m tools.mutations [NAME_SUBSTRING ...]`;
exits 1 if any mutation survives or cannot be applied.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("node_modules", "tests/fixtures/node_modules")  # installed dependencies, linked, never copied
TEST_TIMEOUT = 600


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    find: str
    replace: str
    test: str
    source: str


def load(folder: Path = ROOT / "mutations") -> list[Mutation]:
    found = []
    for path in sorted(folder.glob("*.json")):
        for entry in json.loads(path.read_text()):
            found.append(Mutation(source=path.name, **entry))
    return found


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode()
    return [name for name in listed.split("\0") if name and not name.startswith(SHARED)]


def scratch_copy(into: Path) -> None:
    """The project's files as they are in the working tree, with the installed dependencies linked."""
    for name in tracked_files():
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in SHARED:
        if (ROOT / name).exists():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            (into / name).symlink_to(ROOT / name)


def apply(mutation: Mutation, copy: Path) -> str | None:
    """Mutate the copy; the reason it cannot be applied, or None."""
    path = copy / mutation.file
    if not path.is_file():
        return f"{mutation.file} does not exist"
    text = path.read_text()
    count = text.count(mutation.find)
    if count != 1:
        return f"the text to find occurs {count} times in {mutation.file}"
    path.write_text(text.replace(mutation.find, mutation.replace))
    return None


def run_test(mutation: Mutation, copy: Path) -> tuple[bool, float]:
    """True if the test failed (the mutation is caught)."""
    python = ROOT / ".venv/bin/python"
    argv = [str(python if python.exists() else sys.executable), "-m", "pytest", "-x", "-q", "-p", "no:randomly",
            "-p", "no:cacheprovider", mutation.test]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=copy, env=env, capture_output=True, timeout=TEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        return True, time.monotonic() - started  # a hang is a failing test too
    return done.returncode not in (0, 5), time.monotonic() - started


def check(mutation: Mutation) -> str:
    with tempfile.TemporaryDirectory(prefix="awo-mutant-") as scratch:
        copy = Path(scratch)
        scratch_copy(copy)
        problem = apply(mutation, copy)
        if problem:
            return f"NOT APPLIED ({problem})"
        caught, seconds = run_test(mutation, copy)
        return f"{'caught' if caught else 'SURVIVED'} in {seconds:.1f} s"


def main(filters: list[str]) -> int:
    mutations = [m for m in load() if not filters or any(f in m.name for f in filters)]
    results = []
    for mutation in mutations:
        verdict = check(mutation)
        results.append(verdict.startswith("caught"))
        print(f"[{mutation.source}] {mutation.name}: {verdict}\n    test: {mutation.test}", flush=True)
    print(f"\nmutation score: {sum(results)}/{len(results)} caught")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
