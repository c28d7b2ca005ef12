"""Fixtures for the fleet tests: a fresh migrated database per test, and the fleet that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.harness import Fleet, PrivateCluster, migrated_database


@pytest.fixture
def database_url() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture
def fleet(tmp_path: Path, database_url: str) -> Iterator[Fleet]:
    running = Fleet(tmp_path, database_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster()
    try:
        yield private.create()
    finally:
        private.remove()
