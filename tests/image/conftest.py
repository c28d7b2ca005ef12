from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image import engine
from tests.image.harness import ContainerStack


@pytest.fixture(scope="session")
def image() -> str:
    """The project's image, built now (layers cached by the engine): a missing engine fails, never skips."""
    try:
        return engine.ready()
    except engine.EngineUnavailable as exc:
        pytest.fail(f"the image tests need a Docker engine: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def stack(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerStack]:
    running = ContainerStack(Path(tmp_path_factory.mktemp("image-e2e")), image)
    running.configure_repo()
    yield running
    running.stop()
