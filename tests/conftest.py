"""Shared fixtures: paths of the hand-made reader files."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
READERS = DATA / "readers"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def readers_dir() -> Path:
    return READERS
