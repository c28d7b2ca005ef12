"""The runner-like harness itself: what it runs and refuses as a runner would (a tiny action of our own)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.action.harness import Job, run_action

PIN = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684"


def job(tmp_path: Path) -> Job:
    temp, work = tmp_path / "temp", tmp_path / "work"
    temp.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_WORKSPACE": str(work), "RUNNER_TEMP": str(temp)}
    contexts = {"github": {"token": "t0k", "event_name": "issues"}, "runner": {"os": "Linux", "temp": str(temp)},
                "env": {}}
    return Job(env, contexts, temp, tmp_path / "cache")


def action(tmp_path: Path, steps: list[dict[str, object]], inputs: dict[str, object] | None = None) -> Path:
    folder = tmp_path / "action"
    folder.mkdir(exist_ok=True)
    spec = {"name": "t", "description": "t", "inputs": inputs or {},
            "outputs": {"said": {"description": "d", "value": "${{ steps.last.outputs.said }}"}},
            "runs": {"using": "composite", "steps": steps}}
    (folder / "action.yml").write_text(yaml.safe_dump(spec))
    return folder


def test_env_path_and_outputs_pass_between_steps_and_defaults_are_evaluated(tmp_path: Path) -> None:
    steps = [
        {"shell": "bash", "run": 'echo "FROM_ENV=one" >> "$GITHUB_ENV"; mkdir -p "$RUNNER_TEMP/bin"\n'
                                 'printf "#!/bin/sh\\necho tool\\n" > "$RUNNER_TEMP/bin/t"\n'
                                 'chmod +x "$RUNNER_TEMP/bin/t"; echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"'},
        {"id": "last", "shell": "bash", "env": {"TOKEN_IN": "${{ inputs.token }}"},
         "run": 'echo "said=$FROM_ENV-$(t)-$TOKEN_IN" >> "$GITHUB_OUTPUT"; echo "# hi" >> "$GITHUB_STEP_SUMMARY"'},
    ]
    result = run_action(action(tmp_path, steps, {"token": {"description": "d", "default": "${{ github.token }}"}}),
                        job(tmp_path), {})

    assert result.code == 0 and result.outputs == {"said": "one-tool-t0k"} and result.summary == "# hi\n"


def test_a_failing_step_stops_the_rest_and_pipefail_holds(tmp_path: Path) -> None:
    steps = [{"shell": "bash", "run": "false | true"},
             {"id": "last", "shell": "bash", "run": "echo said=x >> $GITHUB_OUTPUT"}]
    result = run_action(action(tmp_path, steps), job(tmp_path), {})
    assert result.code == 1 and [s.outcome for s in result.steps] == ["failure", "skipped"]


@pytest.mark.parametrize(("step", "problem"), [
    ({"shell": "bash", "run": "echo ${{ github.token }}"}, "template injection"),
    ({"uses": "actions/cache@v4", "with": {"path": "x", "key": "k"}}, "not pinned"),
    ({"uses": "someone/else@" + "a" * 40}, "no stub"),
])
def test_what_a_careful_runner_refuses(tmp_path: Path, step: dict[str, object], problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        run_action(action(tmp_path, [step]), job(tmp_path), {})


def test_an_undeclared_input_or_context_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="does not declare"):
        run_action(action(tmp_path, []), job(tmp_path), {"nope": "1"})
    with pytest.raises(AssertionError, match="Unrecognized named-value: 'secrets'"):
        run_action(action(tmp_path, [{"if": "secrets.x == 'y'", "shell": "bash", "run": "true"}]), job(tmp_path), {})


def test_the_cache_stub_restores_what_a_successful_job_saved(tmp_path: Path) -> None:
    steps = [
        {"id": "cache", "uses": PIN, "with": {"path": "${{ runner.temp }}/kept", "key": "k-1"}},
        {"id": "last", "shell": "bash", "if": "steps.cache.outputs.cache-hit != 'true'",
         "run": 'mkdir -p "$RUNNER_TEMP/kept" && echo data > "$RUNNER_TEMP/kept/f"\necho said=made >> $GITHUB_OUTPUT'},
    ]
    first = run_action(action(tmp_path, steps), job(tmp_path), {})
    (tmp_path / "temp/kept/f").unlink()
    second = run_action(action(tmp_path, steps), job(tmp_path), {})

    assert first.outputs == {"said": "made"} and second.step("last").outcome == "skipped"
    assert (tmp_path / "temp/kept/f").read_text() == "data\n"
