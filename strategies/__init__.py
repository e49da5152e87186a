"""Named strategies: parameter sets plus the signals and conditions they enable.

Strategies arrive with Foundation 2 (the kernel); this package exists now so the
import rules in pyproject.toml cover it from the start.
"""
