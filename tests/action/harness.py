"""A runner-like harness for the composite action: it runs action.yml as a GitHub runner would.

Every `${{ }}` (inputs' defaults, `if:`, `env:`, `with:`, outputs) is evaluated by GitHub's own evaluator
(@actions/expressions, through expressions.mjs) against the job's `github`/`inputs`/`env`/`steps`/`runner`
contexts; `run:` steps run with `bash --noprofile --norc -eo pipefail` in a runner-like environment with
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV and GITHUB_PATH honoured between steps; `uses:` steps of
well-known actions are stubbed (the cache stub really restores and saves folders by key).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.action.runner_files import read

HERE = Path(__file__).resolve().parent
EVALUATOR = HERE / "expressions.mjs"
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def evaluate(contexts: dict[str, Any], items: list[tuple[str, str]]) -> list[Any]:
    """Templates and conditions, evaluated in one call of GitHub's evaluator."""
    request = {"contexts": contexts, "items": [{"kind": kind, "text": text} for kind, text in items]}
    done = subprocess.run(["node", str(EVALUATOR)], input=json.dumps(request), capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"the expression evaluator failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@dataclass
class StepRecord:
    name: str
    outcome: str  # success, failure or skipped
    seconds: float = 0.0
    log: str = ""


@dataclass
class JobResult:
    code: int
    outputs: dict[str, str]
    summary: str
    steps: list[StepRecord]
    seconds: float

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.steps if s.name == name)

    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.outcome}, {s.seconds:.1f} s)\n{s.log}" for s in self.steps)


@dataclass
class Job:
    """One job's state: contexts, files, and the cache stub's saves at the end (`post` of actions/cache)."""

    runner_env: dict[str, str]
    contexts: dict[str, Any]
    temp: Path
    cache_root: Path
    env_file_values: dict[str, str] = field(default_factory=dict)
    path_entries: list[str] = field(default_factory=list)
    posts: list[Callable[[], None]] = field(default_factory=list)
    summary: str = ""
    seq: int = 0

    def process_env(self, step_env: dict[str, str]) -> dict[str, str]:
        env = {**self.runner_env, **self.env_file_values, **step_env}
        if self.path_entries:
            env["PATH"] = os.pathsep.join([*reversed(self.path_entries), env["PATH"]])
        return env

    def files(self) -> tuple[Path, Path, Path, Path]:
        self.seq += 1
        names = ("output", "summary", "env", "path")
        paths = tuple(self.temp / "_runner_file_commands" / f"{n}_{self.seq}" for n in names)
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        return paths  # type: ignore[return-value]


def action_inputs(spec: dict[str, Any], given: dict[str, str], contexts: dict[str, Any]) -> dict[str, str]:
    """What `with:` gave, else each input's default (evaluated: `${{ github.token }}` is the usual one)."""
    names = list(spec.get("inputs") or {})
    unknown = set(given) - set(names)
    if unknown:
        raise AssertionError(f"inputs action.yml does not declare: {sorted(unknown)}")
    defaults = evaluate(contexts, [("template", str(spec["inputs"][n].get("default", ""))) for n in names])
    return {name: given.get(name, default) for name, default in zip(names, defaults, strict=True)}


UsesStub = Callable[[Job, dict[str, str]], dict[str, str]]


def setup_python(job: Job, given: dict[str, str]) -> dict[str, str]:
    """actions/setup-python: the requested Python from this machine; with update-environment false, PATH is left."""
    version = given.get("python-version", "")
    found = shutil.which(f"python{version}")
    if found is None or subprocess.run([found, "--version"], capture_output=True).returncode != 0:
        raise AssertionError(f"setup-python stub: no working python{version} on this machine")
    if given.get("update-environment", "true") != "false":
        job.path_entries.append(str(Path(found).parent))
    return {"python-version": version, "python-path": found}


def cache(job: Job, given: dict[str, str]) -> dict[str, str]:
    """actions/cache: restore the paths saved under the exact key; save them at the job's end on a miss. As the real
    one does, a tar archive of absolute paths (hard links kept), compressed with zstd when the machine has it."""
    key = given["key"]
    paths = [p.strip() for p in given["path"].splitlines() if p.strip()]
    archive = job.cache_root / (key.replace("/", "_") + ".tar")
    compress = ["--use-compress-program", "zstd -T0"] if shutil.which("zstd") else []
    if archive.is_file():
        subprocess.run(["tar", *compress, "-xPf", str(archive)], check=True)
        return {"cache-hit": "true"}

    def save() -> None:
        job.cache_root.mkdir(parents=True, exist_ok=True)
        present = [p for p in paths if Path(p).exists()]
        staging = archive.with_suffix(".tmp")
        subprocess.run(["tar", *compress, "-cPf", str(staging), *present], check=True)
        staging.rename(archive)

    job.posts.append(save)
    return {"cache-hit": "false"}


STUBS: dict[str, UsesStub] = {"actions/setup-python": setup_python, "actions/cache": cache}


def stub_for(uses: str) -> UsesStub:
    name, _, ref = uses.partition("@")
    if len(ref) != 40 or any(c not in "0123456789abcdef" for c in ref):
        raise AssertionError(f"{uses} is not pinned to a full commit SHA")
    if name not in STUBS:
        raise AssertionError(f"no stub for {name}")
    return STUBS[name]


def run_action(action_dir: Path, job: Job, given: dict[str, str]) -> JobResult:
    """Run the composite action in `action_dir` within `job`, as its `uses:` step with `with: given`."""
    started = time.monotonic()
    spec = yaml.safe_load((action_dir / "action.yml").read_text())
    assert spec["runs"]["using"] == "composite"
    job.contexts["inputs"] = action_inputs(spec, given, job.contexts)
    job.contexts["steps"] = {}
    records: list[StepRecord] = []
    failed = False
    for number, step in enumerate(spec["runs"]["steps"]):
        name = step.get("name") or step.get("id") or f"step {number}"
        if failed or not _wanted(job, step):
            records.append(StepRecord(name, "skipped"))
            continue
        record = _run_step(job, step, name)
        records.append(record)
        failed = record.outcome == "failure"
    if not failed:
        for post in job.posts:
            post()
    job.posts.clear()
    outputs_spec = spec.get("outputs") or {}
    names = list(outputs_spec)
    values = evaluate(job.contexts, [("template", str(outputs_spec[n]["value"])) for n in names])
    return JobResult(1 if failed else 0, dict(zip(names, values, strict=True)), job.summary, records,
                     time.monotonic() - started)


def _wanted(job: Job, step: dict[str, Any]) -> bool:
    condition = step.get("if")
    if condition is None:
        return True
    [truth] = evaluate(job.contexts, [("condition", str(condition))])
    return bool(truth)


def _run_step(job: Job, step: dict[str, Any], name: str) -> StepRecord:
    started = time.monotonic()
    env_spec = {k: str(v) for k, v in (step.get("env") or {}).items()}
    with_spec = {k: str(v) for k, v in (step.get("with") or {}).items()}
    evaluated = evaluate(job.contexts, [("template", v) for v in (*env_spec.values(), *with_spec.values())])
    step_env = dict(zip(env_spec, evaluated[: len(env_spec)], strict=True))
    given = dict(zip(with_spec, evaluated[len(env_spec):], strict=True))
    if "uses" in step:
        outputs, outcome, log = stub_for(step["uses"])(job, given), "success", f"(stub of {step['uses']})"
    else:
        if "${{" in step["run"]:
            raise AssertionError(f"step {name!r}: an expression inside `run:` (template injection)")
        assert step.get("shell") == "bash", f"step {name!r}: a composite run step names its shell"
        outputs, outcome, log = _run_shell(job, step["run"], step_env)
    if step.get("id"):
        job.contexts["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
    return StepRecord(name, outcome, time.monotonic() - started, log)


def _run_shell(job: Job, script: str, step_env: dict[str, str]) -> tuple[dict[str, str], str, str]:
    output, summary, env_file, path_file = job.files()
    script_path = job.temp / f"step_{job.seq}.sh"
    script_path.write_text(script)
    env = job.process_env(step_env)
    env.update({"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ENV": str(env_file),
                "GITHUB_PATH": str(path_file)})
    done = subprocess.run([*SHELL, str(script_path)], env=env, cwd=job.runner_env["GITHUB_WORKSPACE"],
                          capture_output=True, text=True, timeout=600)
    job.summary += summary.read_text()
    job.env_file_values.update(read(env_file))
    job.path_entries += [line for line in path_file.read_text().splitlines() if line.strip()]
    return read(output), "success" if done.returncode == 0 else "failure", done.stdout + done.stderr
