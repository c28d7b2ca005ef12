"""A follow-up on a pull request with a long conversation: time to the first model request, and GitHub calls.

The real server and CLI, the scripted model, the fake GitHub and a bare remote (tests/e2e/harness.py). A PR from
a person's branch carries COMMENTS comments, a few reviews and review comments; each round a writer asks a
question in its conversation (an answer, no commit) and the figures are taken from what the fakes recorded:

- webhook sent → first model request (intake, admission, claim, the PR's context read from GitHub, checkout,
  CLI start-up), and the context read alone (the server's log line);
- every GitHub call the follow-up made, by method and path, reads and writes.

    python -m benchmarks.pr_follow_up [--comments 250] [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.e2e.harness import REPO, Stack, script_for, wait_until
from tests.gitrepo import git
from tests.payloads import example

ID = re.compile(r"/\d+(?=/|$)")


def person_branch(stack: Stack, scratch: Path) -> None:
    work = scratch / "person"
    git("clone", "--quiet", str(stack.remote), str(work), cwd=scratch)
    git("checkout", "--quiet", "-b", "feature/bench", cwd=work)
    (work / "bench.txt").write_text("bench\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=Octo", "-c", "user.email=o@example.com", "commit", "--quiet", "-m", "bench", cwd=work)
    git("push", "--quiet", "origin", "feature/bench", cwd=work)


def seed_pull(stack: Stack, comments: int) -> int:
    stack.gh.seed({"pulls": {REPO: [{"head": "feature/bench", "base": "main", "title": "Bench", "user": "Codertocat",
                                     "body": "Closes #1", "files": [{"filename": f"src/f{n}.py", "status": "modified",
                                                                     "additions": n, "deletions": 1}
                                                                    for n in range(40)]}]}})
    number = max(p["number"] for p in stack.gh.pulls(REPO))
    stack.gh.seed({
        "comments": {REPO: [{"issue_number": number, "body": f"comment {n} " + "words " * 30, "user": "Codertocat"}
                            for n in range(comments)]},
        "reviews": {REPO: [{"pull_number": number, "user": "Codertocat", "body": f"review {n}", "state": "COMMENTED"}
                           for n in range(5)]},
        "review_comments": {REPO: [{"pull_number": number, "user": "Codertocat", "body": f"line note {n}",
                                    "path": "bench.txt", "line": 1, "side": "RIGHT", "diff_hunk": "@@ -0,0 +1 @@"}
                                   for n in range(20)]},
    })
    return number


def question(stack: Stack, number: int, round_: int) -> dict[str, object]:
    body = f"@claude round {round_}: why is this here?"
    stack.gh.seed({"comments": {REPO: [{"issue_number": number, "body": body, "user": "Codertocat"}]}})
    [comment] = [c for c in stack.gh.comments(REPO, number) if c["body"] == body]
    return example("issue_comment", "created", issue__number=number, issue__title="Bench",
                   issue__pull_request={"url": f"{stack.github.url}/repos/{REPO}/pulls/{number}"},
                   comment__body=body, comment__id=comment["id"], comment__user__login="Codertocat",
                   sender__login="Codertocat", repository__clone_url=str(stack.remote))


def one_round(stack: Stack, number: int, round_: int) -> tuple[float, float, Counter[str]]:
    stack.model.clear_requests()
    before = len(stack.gh.calls())
    sent = time.time()
    assert stack.deliver("issue_comment", question(stack, number, round_)).status_code == 202
    done = wait_until(lambda: (o := [w for w in stack.work_orders(number) if w["status"] in ("completed", "failed")
                                     and f"round {round_}" in w["user_request"]]) and o[0], timeout=120)
    assert done["status"] == "completed", done
    time.sleep(1.5)  # the final comment edit lands just after the row ends
    first = min(r["received"] for r in stack.model.requests() if r.get("prompt"))
    calls = Counter(f"{c['method']} {ID.sub('/{n}', c['path'])}" for c in stack.gh.calls()[before:])
    read = [float(m) for m in re.findall(rf"read #{number}'s context in (\d+) ms", stack.log())][-1]
    return first - sent, read, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        stack = Stack(Path(scratch))
        try:
            stack.configure_repo()
            person_branch(stack, Path(scratch))
            number = seed_pull(stack, args.comments)
            stack.script(script_for(number, [{"text": "Plan: answer."}], [{"text": "Because of the lock."}]))
            rounds = [one_round(stack, number, n) for n in range(args.rounds)]
        finally:
            stack.stop()
    firsts, reads = [r[0] for r in rounds], [r[1] for r in rounds]
    print(f"PR with {args.comments} comments, 5 reviews, 20 review comments, 40 files; {args.rounds} rounds")
    print(f"webhook → first model request: median {statistics.median(firsts) * 1000:.0f} ms "
          f"(min {min(firsts) * 1000:.0f}, max {max(firsts) * 1000:.0f})")
    print(f"context read from GitHub (beside the fetch and checkout): median {statistics.median(reads):.0f} ms")
    calls = rounds[-1][2]
    reads_n = sum(n for k, n in calls.items() if k.startswith("GET") or k.endswith("/graphql"))
    print(f"GitHub calls per follow-up: {reads_n} reads, {sum(calls.values()) - reads_n} writes")
    for key, count in sorted(calls.items()):
        print(f"  {count:3d}  {key}")


if __name__ == "__main__":
    main()
