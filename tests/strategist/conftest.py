"""Fixtures of the strategist tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from data.store import EventStore, open_store
from tests.test_replay import pump_store  # noqa: F401  (fixture)


@pytest.fixture
def pump(pump_store: EventStore, tmp_path: Path) -> EventStore:  # noqa: F811
    """A copy of the pump.fun store: what a test logs there stays out of other tests."""
    dst = tmp_path / "s"
    shutil.copytree(pump_store.root, dst)
    return open_store(dst)
