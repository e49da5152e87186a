"""Shared fixtures: temporary stores and the location of the real market data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.store import EventStore, open_store

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Where ../shared/data lives (override with CLANKA_SHARED_DATA)."""
    env = os.environ.get("CLANKA_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return open_store(tmp_path / "store", create=True)


@pytest.fixture
def shared_data() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared market data not found at {d} (CI must have ../shared)")
        pytest.skip(f"shared market data not found at {d}")
    return d
