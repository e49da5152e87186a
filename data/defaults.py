"""Store defaults the command line shows in its help (loads nothing heavy)."""

from __future__ import annotations

DEFAULT_COMPACT_TARGET_ROWS = 4_000_000
"""Rows per segment a compaction merges up to."""
