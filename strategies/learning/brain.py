"""The knowledge brain: success rates by pattern, entry bucket, exit reason, source and mint.

Its state is a fold over the run's `reviews` and `pattern_hits` events, kept up to
date after each review (the reflection's quick update). Nothing else feeds it, so
`stats_from_log` rebuilds the same numbers from the store with SQL alone, and a test
checks the two agree. The strategist's prompt, the adaptation rules and `clanka learn
status` all read it.

Coin score (per mint): its own trades' success rate shrunk towards the success rate of
the buckets its latest entry fell in: (K x prior + wins) / (K + trades), K = 5, where
prior is the mean success rate of those buckets that have trades (0.5 if none). A mint
never traded scores its prior.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.events import ScanSource
from strategies.learning.buckets import DIMENSIONS

COIN_PRIOR_WEIGHT = 5.0
GROUPS = ("all", "pattern", *DIMENSIONS, "exit_reason", "source", "outcome", "mint")


@dataclass
class Stat:
    """Trades (or hits), how many made money, and the sum of their returns."""

    n: int = 0
    wins: int = 0
    sum_return: float = 0.0

    def add(self, ret: float) -> None:
        """Count one trade with return `ret` (a win when > 0)."""
        self.n += 1
        self.wins += ret > 0
        self.sum_return += ret

    @property
    def success_rate(self) -> float:
        """Share of trades that made money: wins / n (NaN with none)."""
        return self.wins / self.n if self.n else float("nan")

    @property
    def mean_return(self) -> float:
        """Mean return (NaN with no trades)."""
        return self.sum_return / self.n if self.n else float("nan")


def source_names(bits: int) -> list[str]:
    """The scanner sources in a decision's source bits ('sniper' when none)."""
    names = [s.name.lower() for s in ScanSource if bits & (1 << (s.value - 1))]
    return names or ["sniper"]


@dataclass
class Brain:
    """Accumulated statistics, updated review by review (in the order they were stamped)."""

    stats: dict[tuple[str, str], Stat] = field(default_factory=dict)
    latest_buckets: dict[int, dict[str, str]] = field(default_factory=dict)
    """mint_id -> the buckets of its latest reviewed entry."""
    efficiencies: list[float] = field(default_factory=list)
    """Every finite efficiency so far (its median is robust to the huge ratios a tiny
    optimal return gives)."""

    def _stat(self, group: str, key: str) -> Stat:
        s = self.stats.get((group, key))
        if s is None:
            s = self.stats[(group, key)] = Stat()
        return s

    def add(self, review: dict[str, Any], patterns: Iterable[str]) -> None:
        """Fold one `reviews` row and its trade's pattern names into the statistics."""
        ret = float(review["actual_return"])
        self._stat("all", "all").add(ret)
        for p in patterns:
            self._stat("pattern", p).add(ret)
        buckets = {d: str(review[f"{d}_bucket"]) for d in DIMENSIONS}
        for d, b in buckets.items():
            self._stat(d, b).add(ret)
        self._stat("exit_reason", str(review["exit_reason"])).add(ret)
        for s in source_names(int(review["sources"])):
            self._stat("source", s).add(ret)
        self._stat("outcome", str(review["outcome"])).add(ret)
        mint = int(review["mint_id"])
        self._stat("mint", str(mint)).add(ret)
        self.latest_buckets[mint] = buckets
        eff = float(review["efficiency"])
        if eff == eff:
            self.efficiencies.append(eff)

    def get(self, group: str, key: str) -> Stat:
        """The statistic of one group's key (empty if never seen)."""
        return self.stats.get((group, key), Stat())

    def group(self, group: str) -> dict[str, Stat]:
        """Every key of a group, by key."""
        return {k: s for (g, k), s in sorted(self.stats.items()) if g == group}

    def coin_score(self, mint_id: int) -> float:
        """The mint's coin score (see the module docstring)."""
        own = self.get("mint", str(mint_id))
        rates = [
            self.get(d, b).success_rate for d, b in self.latest_buckets.get(mint_id, {}).items()
        ]
        known = [r for r in rates if r == r]
        prior = sum(known) / len(known) if known else 0.5
        return (COIN_PRIOR_WEIGHT * prior + own.wins) / (COIN_PRIOR_WEIGHT + own.n)

    def summary(self, names: Any = str, top: int = 3) -> dict[str, Any]:
        """A compact view for prompts and status: totals, patterns, best and worst buckets."""
        total = self.get("all", "all")
        pats = sorted(self.group("pattern").items(), key=lambda kv: (-kv[1].n, kv[0]))
        buckets = [(d, b, s) for d in DIMENSIONS for b, s in self.group(d).items()
                   if b != "unknown" and s.n >= 3]  # fmt: skip
        buckets.sort(key=lambda x: (-x[2].success_rate, -x[2].n, x[0], x[1]))
        # Best: above the run's success rate; worst: below it (each, the top few).
        best = [x for x in buckets if x[2].success_rate > total.success_rate][:top]
        worst = [x for x in buckets[::-1] if x[2].success_rate < total.success_rate][:top]
        mints = sorted((int(k) for k in self.group("mint")), key=lambda m: (-self.coin_score(m), m))

        def row(s: Stat) -> dict[str, float | int]:
            return {"trades": s.n, "success_rate": round(s.success_rate, 3),
                    "mean_return": round(s.mean_return, 4)}  # fmt: skip

        return {
            "trades": total.n,
            "success_rate": round(total.success_rate, 3) if total.n else None,
            "median_efficiency": round(float(np.median(self.efficiencies)), 3)
            if self.efficiencies else None,
            "patterns": {k: row(s) for k, s in pats[:top * 2]},
            "best_buckets": [{"bucket": f"{d} {b}", **row(s)} for d, b, s in best],
            "worst_buckets": [{"bucket": f"{d} {b}", **row(s)} for d, b, s in worst],
            "best_coins": [{"mint": names(m), "score": round(self.coin_score(m), 3)}
                           for m in mints[:top]],
            "worst_coins": [{"mint": names(m), "score": round(self.coin_score(m), 3)}
                            for m in mints[top:][::-1][:top]],
        }  # fmt: skip
