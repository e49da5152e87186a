"""Limits of a sweep that the command line shows as defaults (loads nothing heavy)."""

from __future__ import annotations

MAX_SETS = 100_000
"""Most parameter sets one sweep takes (`--max-sets` raises it): a grid's size is a
product and grows past any machine's memory and patience without anyone noticing."""
