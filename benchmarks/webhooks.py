"""Webhook acknowledgement latency: 1,000 signed deliveries to the real `awo serve` on loopback."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import summary
from tests.e2e.harness import Stack
from tests.payloads import example


def main(count: int = 1000) -> None:
    with tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        stack = Stack(Path(root))
        try:
            stack.configure_repo()
            payload = example("issue_comment", "created", comment__body="Thanks, looks good to me.")
            for _ in range(20):  # warm up the connection and the store
                stack.deliver("issue_comment", payload)
            latencies = []
            for _ in range(count):
                started = time.perf_counter()
                response = stack.deliver("issue_comment", payload)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text
            print(summary(f"webhook ack over {count} signed deliveries (SQLite in WAL mode)", latencies))
        finally:
            stack.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
