"""Fixtures of the learning tests: a multi-day synthetic market, the real pump.fun days."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from data.generator.market import MarketParams, generate_into
from data.store import EventStore, open_store
from tests.test_replay import pump_store  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def synth_days(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    """Two days of the built-in SYNTHETIC market (60 launches), read-only by convention."""
    s = open_store(tmp_path_factory.mktemp("synth2d") / "s", create=True)
    generate_into(s, MarketParams(mints=60, hours=48, seed=7))
    return s


@pytest.fixture
def synth(synth_days: EventStore, tmp_path: Path) -> EventStore:
    """A writable copy of the two-day market."""
    dst = tmp_path / "s"
    shutil.copytree(synth_days.root, dst)
    return open_store(dst)


@pytest.fixture(scope="module")
def pump_days(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    """Both real pump.fun evenings (2025-06-06 and 2025-06-07) in one store."""
    from data.importers import import_file
    from tests.conftest import shared_data_dir

    d = shared_data_dir()
    files = [d / f"pumpfun_curve_snapshots_2025-06-0{k}.parquet" for k in (6, 7)]
    if not all(f.exists() for f in files):
        pytest.skip("shared data not available")
    s = open_store(tmp_path_factory.mktemp("pumpdays") / "s", create=True)
    for f in files:
        import_file(s, f)
    return s
