"""The price paths reviews need: each traded mint's ticks from entry to exit + horizon.

Recorded from the same input rows the kernel processes (a replay's store ticks, a
paper run's feed), so a review reads exactly what the engine saw, and nothing past the
point the run has reached. A mint is watched from its first open position's entry
until its last review is done; then its ticks are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.events import InputKind
from strategies.learning.review import Path


@dataclass
class PriceWatch:
    """Ticks of the watched mints, after each mint's watch start."""

    starts: dict[int, list[int]] = field(default_factory=dict)
    """mint -> entry times of its positions still to be reviewed."""
    parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def watch(self, mint: int, from_ts: int) -> None:
        """Keep the mint's ticks after from_ts (an entry)."""
        self.starts.setdefault(mint, []).append(from_ts)

    def release(self, mint: int, from_ts: int) -> None:
        """A review of the position entered at from_ts is done: drop what no one needs."""
        starts = self.starts.get(mint, [])
        if from_ts in starts:
            starts.remove(from_ts)
        if not starts:
            self.starts.pop(mint, None)
            self.parts.pop(mint, None)
        elif self.parts.get(mint):
            # Keep only what the mint's remaining positions can still ask for.
            p = self.path(mint, min(starts), 2**63 - 1)
            self.parts[mint] = [(p.ts, p.price, p.liquidity)]

    def see(self, kind: np.ndarray, ts: np.ndarray, mint: np.ndarray, price: np.ndarray,
            liq: np.ndarray) -> None:  # fmt: skip
        """Record one slice's ticks of the watched mints."""
        if not self.starts:
            return
        watched = np.fromiter(self.starts, np.int64)
        rows = np.flatnonzero((kind == InputKind.TICK) & np.isin(mint, watched))
        if not len(rows):
            return
        ms = mint[rows]
        for m in np.unique(ms).tolist():
            pick = rows[ms == m]
            pick = pick[ts[pick] > min(self.starts[m])]
            if len(pick):
                self.parts.setdefault(m, []).append((ts[pick].copy(), price[pick].copy(),
                                                     liq[pick].copy()))  # fmt: skip

    def path(self, mint: int, after_ts: int, upto_ts: int) -> Path:
        """The mint's recorded ticks with after_ts < ts <= upto_ts."""
        parts = self.parts.get(mint, [])
        if len(parts) > 1:  # compact once, so later reviews of the mint slice one array
            self.parts[mint] = parts = [tuple(np.concatenate(c) for c in zip(*parts, strict=True))]  # type: ignore[list-item]
        if not parts:
            e = np.zeros(0)
            return Path(e.astype(np.int64), e, e)
        ts, price, liq = parts[0]
        lo, hi = np.searchsorted(ts, after_ts, "right"), np.searchsorted(ts, upto_ts, "right")
        return Path(ts[lo:hi], price[lo:hi], liq[lo:hi])
