"""Clanka's core: event codes and (from Foundation 2 on) the numba kernel.

`engine` is the bottom layer: it never imports `data`, `replay` or `strategies`, so the
compiled decision path can be shared unchanged by replay, sweeps, paper and live mode.
"""
