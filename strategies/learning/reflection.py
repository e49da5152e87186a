"""Deep reflection, every reflection_interval_s of event time: insights from the reviews so far.

Three kinds of `insights` row, all stamped at the reflection's time t and computed
from reviews stamped <= t:

- summary: the last interval's reviews (trades, win rate, mean return, efficiency)
  against everything before, and the brain's totals.
- change: a metric whose mean over the last compare_window_s differs from its mean over
  the compare_baseline_max reviews before that with a permutation p-value below
  change_alpha, both windows holding change_min_trades reviews or more. Metrics: win
  rate, mean return, efficiency, and each pattern's rate (hits per reviewed trade).
- lesson: a pattern, an entry bucket, an exit reason or a mint with lesson_min_trades
  trades whose success rate is at least lesson_worked ('worked') or at most
  lesson_failed ('failed'), with the market conditions of those trades (medians of
  the entry's volatility, liquidity and momentum; the UTC hours they were entered). A
  lesson is written when its verdict is new for that subject, not every hour.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.params import NS_PER_S
from strategies.learning.brain import Brain, source_names
from strategies.learning.buckets import DIMENSIONS
from strategies.learning.records import Row, to_json
from strategies.learning.settings import LearningSettings
from strategies.learning.stats import permutation_p


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:+.1%}"


def _rate(x: float) -> str:
    return "n/a" if x != x else f"{x:.0%}"


def _mean(values: Sequence[float]) -> float:
    a = np.asarray([v for v in values if v == v], dtype=np.float64)
    return float(a.mean()) if len(a) else float("nan")


def _median(values: Sequence[float]) -> float:
    a = np.asarray([v for v in values if v == v], dtype=np.float64)
    return float(np.median(a)) if len(a) else float("nan")


def _hour(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / NS_PER_S, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _insight(t: int, kind: str, subject: str, verdict: str, trades: int, value: float,
             previous: float, p: float, start: int, text: str, detail: dict[str, object],
             mint: int = -1) -> Row:  # fmt: skip
    return {"ts_ns": t, "mint_id": mint, "kind": kind, "subject": subject, "verdict": verdict,
            "trades": trades, "value": value, "previous": previous, "p_value": p,
            "window_start_ns": start, "text": text, "detail": to_json(detail)}  # fmt: skip


@dataclass
class Reflection:
    """What the hourly reflection remembers between runs of it: the lessons already told."""

    settings: LearningSettings
    names: Callable[[int], str] = str
    told: dict[str, str] = field(default_factory=dict)
    """subject -> the verdict of its last lesson."""
    _groups: dict[str, list[Row]] = field(default_factory=dict, repr=False, compare=False)
    """subject -> its reviews, in order, over the reviews grouped so far (`_lessons`)."""
    _wins: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    """subject -> how many of those made money."""
    _grouped_of: Sequence[Row] | None = field(default=None, repr=False, compare=False)
    """The review list grouped (the learner's, which only grows)..."""
    _grouped_n: int = field(default=0, repr=False, compare=False)
    """... and how many of its reviews were."""

    def reflect(self, t: int, reviews: Sequence[Row], patterns: dict[int, list[str]],
                brain: Brain) -> list[Row]:  # fmt: skip
        """The insights at t from `reviews` (all stamped <= t) and their patterns by review_no."""
        out = [self._summary(t, reviews, brain)]
        out += self._changes(t, reviews, patterns)
        out += self._lessons(t, reviews, patterns, brain)
        return out

    def _summary(self, t: int, reviews: Sequence[Row], brain: Brain) -> Row:
        start = t - self.settings.reflection_ns
        now = [r for r in reviews if r["ts_ns"] > start]
        before = [r for r in reviews if r["ts_ns"] <= start]
        wins = sum(r["actual_return"] > 0 for r in now)
        rate = wins / len(now) if now else float("nan")
        prev = sum(r["actual_return"] > 0 for r in before) / len(before) if before else float("nan")
        mean_ret = _mean([r["actual_return"] for r in now])
        eff = _mean([r["efficiency"] for r in now])
        total = brain.get("all", "all")
        text = (f"{len(now)} trade(s) reviewed in the hour to {_hour(t)}: {wins} won "
                f"({_rate(rate)}), mean return {_pct(mean_ret)}, efficiency "
                f"{'n/a' if eff != eff else f'{eff:.2f}'}; all run {total.n} trade(s), "
                f"{_rate(total.success_rate)} won")  # fmt: skip
        detail = {"mean_return": mean_ret, "efficiency": eff, "wins": wins,
                  "outcomes": {o: sum(r["outcome"] == o for r in now)
                               for o in sorted({r["outcome"] for r in now})},
                  "brain": brain.summary(self.names)}  # fmt: skip
        return _insight(t, "summary", "hour", "", len(now), rate, prev, float("nan"), start,
                        text, detail)  # fmt: skip

    def _changes(self, t: int, reviews: Sequence[Row], patterns: dict[int, list[str]]) -> list[Row]:
        s = self.settings
        start = t - s.compare_window_s * NS_PER_S
        now = [r for r in reviews if r["ts_ns"] > start]
        before = [r for r in reviews if r["ts_ns"] <= start][-s.compare_baseline_max :]
        if len(now) < s.change_min_trades or len(before) < s.change_min_trades:
            return []
        metrics: dict[str, Callable[[Row], float]] = {
            "win_rate": lambda r: float(r["actual_return"] > 0),
            "mean_return": lambda r: float(r["actual_return"]),
            "efficiency": lambda r: float(r["efficiency"]),
        }
        seen = sorted({p for r in reviews for p in patterns.get(r["review_no"], [])})
        for p in seen:
            metrics[f"pattern:{p}"] = lambda r, p=p: float(p in patterns.get(r["review_no"], []))  # type: ignore[misc]
        out = []
        for name, f in metrics.items():
            a = np.array([f(r) for r in now])
            b = np.array([f(r) for r in before])
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            if len(a) < s.change_min_trades or len(b) < s.change_min_trades:
                continue
            seed = s.seed ^ zlib.crc32(f"{name}@{t}".encode())
            p_value = permutation_p(a, b, s.permutation_draws, seed)
            if p_value >= s.change_alpha:
                continue
            verdict = "rose" if a.mean() > b.mean() else "fell"
            text = (f"{name} {verdict}: {a.mean():.3g} over the last {len(a)} review(s) "
                    f"against {b.mean():.3g} over {len(b)} before (p = {p_value:.3f})")  # fmt: skip
            out.append(_insight(t, "change", name, verdict, len(a), float(a.mean()),
                                float(b.mean()), p_value, start, text,
                                {"before_trades": len(b)}))  # fmt: skip
        return out

    def _lessons(self, t: int, reviews: Sequence[Row], patterns: dict[int, list[str]],
                 brain: Brain) -> list[Row]:  # fmt: skip
        s = self.settings
        groups, wins = self._group(reviews, patterns)
        out = []
        for subject in sorted(groups):
            rows = groups[subject]
            if len(rows) < s.lesson_min_trades:
                continue
            rate = wins[subject] / len(rows)
            verdict = ("worked" if rate >= s.lesson_worked else
                       "failed" if rate <= s.lesson_failed else "")  # fmt: skip
            if not verdict or self.told.get(subject) == verdict:
                continue
            self.told[subject] = verdict
            mint = int(subject.split(":", 1)[1]) if subject.startswith("mint:") else -1
            label = f"mint {self.names(mint)}" if mint >= 0 else subject.replace(":", " ")
            hours = sorted({dt.datetime.fromtimestamp(r["entry_ts_ns"] / NS_PER_S, dt.UTC).hour
                            for r in rows})  # fmt: skip
            conditions = {
                "median_volatility": _median([r["volatility"] for r in rows]),
                "median_liquidity": _median([r["liquidity"] for r in rows]),
                "median_momentum": _median([r["momentum"] for r in rows]),
                "entry_hours_utc": hours,
                "first_entry_ns": min(r["entry_ts_ns"] for r in rows),
            }  # fmt: skip
            mean_ret = _mean([r["actual_return"] for r in rows])
            nos = [r["review_no"] for r in rows]
            text = (f"{label} {verdict}: {sum(r['actual_return'] > 0 for r in rows)} of "
                    f"{len(rows)} trades made money, mean return {_pct(mean_ret)}")  # fmt: skip
            if mint >= 0:
                text += f", coin score {brain.coin_score(mint):.2f}"
            detail = {"conditions": conditions, "mean_return": mean_ret, "review_nos": nos[-20:]}
            out.append(_insight(t, "lesson", subject, verdict, len(rows), rate, float("nan"),
                                float("nan"), min(r["ts_ns"] for r in rows), text, detail,
                                mint))  # fmt: skip
        return out

    def _group(
        self, reviews: Sequence[Row], patterns: dict[int, list[str]]
    ) -> tuple[dict[str, list[Row]], dict[str, int]]:
        """Each lesson subject's reviews in order, and how many won, over all `reviews`.

        A review's subjects never change (its patterns are matched when it is made), and
        the learner's review list only grows, so only the reviews new since the last
        call are grouped: regrouping all of them every hour made the reflections of a
        nine-day run quadratic. A list that is not the one grouped before is grouped
        from scratch.
        """
        done = self._grouped_n
        if reviews is not self._grouped_of or done > len(reviews):
            self._groups, self._wins, done = {}, {}, 0
        for r in reviews[done:]:
            keys = [f"pattern:{p}" for p in patterns.get(r["review_no"], [])]
            keys += [f"{d}:{r[f'{d}_bucket']}" for d in DIMENSIONS if r[f"{d}_bucket"] != "unknown"]
            keys += [f"exit_reason:{r['exit_reason']}", f"mint:{r['mint_id']}"]
            keys += [f"source:{n}" for n in source_names(int(r["sources"]))]
            won = int(r["actual_return"] > 0)
            for k in keys:
                self._groups.setdefault(k, []).append(r)
                self._wins[k] = self._wins.get(k, 0) + won
        self._grouped_of, self._grouped_n = reviews, len(reviews)
        return self._groups, self._wins
