"""Fixtures of the hostile-input suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.feeds import EAGER, LIVE


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """An eager strategy (buys whatever trades) and fast [live] / [feed] settings."""
    (tmp_path / "eager.toml").write_text(EAGER)
    (tmp_path / "live.toml").write_text(LIVE)
    return tmp_path / "eager.toml", tmp_path / "live.toml"
