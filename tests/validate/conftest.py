"""Fixtures of the validation tests."""

from __future__ import annotations

from tests.learning.conftest import pump_days, synth_days  # noqa: F401  (fixtures)
