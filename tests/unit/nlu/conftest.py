"""Fixtures for the NLU tests: one model trained per session on our own data."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlu.pipeline import SpacyUnderstander, load
from nlu.train import train_model

# Thursday 26 November 2026, 10:00 UTC: every relative time in the tests resolves against it.
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nlu-model")
    train_model(root, seed=0)
    return root


@pytest.fixture(scope="session")
def understander(model_root: Path) -> SpacyUnderstander:
    return load(model_root)


@pytest.fixture
def fresh(model_root: Path) -> SpacyUnderstander:
    """A separately loaded understander, for tests that change services or the catalog."""
    return load(model_root)


@pytest.fixture
def now() -> datetime:
    return NOW
