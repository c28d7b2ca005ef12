"""Shared helpers for the benchmark scripts (run with `make bench`; they print figures, they assert little)."""

from __future__ import annotations

import statistics
from datetime import datetime


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    scaled = [v * scale for v in values]
    return (f"{name}: median {statistics.median(scaled):.2f} {unit}, p99 {percentile(scaled, 99):.2f} {unit}, "
            f"min {min(scaled):.2f}, max {max(scaled):.2f} (n={len(values)})")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
