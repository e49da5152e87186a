"""The pattern library (seed "10 initial patterns"): precise rules over a trade and its review.

Each rule reads the entry decision's recorded context (what the engine knew when it
bought) and the review (what happened after). A hit is a PatternHit event with the
values the rule tested (its evidence); whether the trade made money after fees is its
`success`, so a pattern's success rate is the share of its hits that were profitable.
Thresholds are `PatternThresholds` (the `[learning.patterns]` table):

- high_momentum_entry_success: ret_5m at entry >= high_momentum and the trade's return
  > success_return (a win).
- party_sentiment_profitable: sentiment at entry >= party_sentiment and return > 0.
- volume_spike_entry: volume_5m x 12 >= volume_spike_ratio x volume_1h at entry, with
  volume_1h > 0 (the last 5 minutes traded at that multiple of the hour's pace).
- premature_stop_loss: closed by the stop loss, and within the horizon after the exit
  the price came back to entry x (1 + premature_recovery) or higher.
- effective_time_stop: closed by the time stop, and within the horizon after the exit
  (at least one tick) the price never rose above exit x (1 + time_stop_margin).
- panic_sell: closed by a soft signal (sentiment flip, volume death) at a loss, and
  within the horizon the price came back to entry x (1 + panic_recovery) or higher.
- low_liquidity_loss: liquidity at entry < low_liquidity_sol and return <= loss_return.
- rug_pull_detected: the review found a rug (strategies.learning.review).
- breakout_continuation: range position at entry >= breakout_range and the best price
  after entry was at least entry x (1 + continuation_gain).
- support_bounce: range position at entry <= support_range and return > 0.

A rule whose input is unknown (NaN: no sentiment signal, say) does not hit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from strategies.learning.review import Review, Trade
from strategies.learning.settings import PatternThresholds

PATTERNS = (
    "high_momentum_entry_success", "party_sentiment_profitable", "volume_spike_entry",
    "premature_stop_loss", "effective_time_stop", "panic_sell", "low_liquidity_loss",
    "rug_pull_detected", "breakout_continuation", "support_bounce",
)  # fmt: skip
SOFT_EXITS = ("sentiment_flip", "volume_death")


@dataclass(frozen=True)
class Hit:
    """One PatternHit: which rule matched a trade, and the values it tested."""

    pattern: str
    evidence: dict[str, float | str]


Rule = Callable[[Trade, Review, PatternThresholds], dict[str, float | str] | None]


def _ok(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _high_momentum(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    mom = t.context["momentum"]
    if (
        _ok(mom, r.actual_return)
        and mom >= th.high_momentum
        and r.actual_return > th.success_return
    ):
        return {"ret_5m": mom, "return": r.actual_return}
    return None


def _party(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    sen = t.context["sentiment"]
    if _ok(sen, r.actual_return) and sen >= th.party_sentiment and r.actual_return > 0:
        return {"sentiment": sen, "return": r.actual_return}
    return None


def _volume_spike(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    v5, v60 = t.context["volume_5m"], t.context["volume_1h"]
    if _ok(v5, v60) and v60 > 0 and v5 * 12 >= th.volume_spike_ratio * v60:
        return {"volume_5m": v5, "volume_1h": v60, "pace_ratio": v5 * 12 / v60}
    return None


def _premature_stop(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    high = r.post_exit_high
    if (
        t.exit_reason == "stop_loss"
        and _ok(high)
        and high >= t.entry_price * (1 + th.premature_recovery)
    ):
        return {"entry_price": t.entry_price, "exit_price": t.exit_price, "post_exit_high": high}
    return None


def _time_stop(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    high = r.post_exit_high
    if (
        t.exit_reason == "time_stop"
        and _ok(high)
        and high <= t.exit_price * (1 + th.time_stop_margin)
    ):
        return {"exit_price": t.exit_price, "post_exit_high": high}
    return None


def _panic(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    high = r.post_exit_high
    if (t.exit_reason in SOFT_EXITS and _ok(high, r.actual_return) and r.actual_return < 0
            and high >= t.entry_price * (1 + th.panic_recovery)):  # fmt: skip
        return {"exit_reason": t.exit_reason, "return": r.actual_return,
                "entry_price": t.entry_price, "post_exit_high": high}  # fmt: skip
    return None


def _low_liquidity(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    liq = t.context["liquidity"]
    if (
        _ok(liq, r.actual_return)
        and liq < th.low_liquidity_sol
        and r.actual_return <= th.loss_return
    ):
        return {"liquidity": liq, "return": r.actual_return}
    return None


def _rug(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    if r.rug:
        return {"cause": r.rug_cause, "min_liquidity_ratio": r.min_liquidity_ratio,
                "max_drawdown": r.max_drawdown}  # fmt: skip
    return None


def _breakout(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    rng, best = t.context["range_position"], r.best_price
    if (
        _ok(rng, best)
        and rng >= th.breakout_range
        and best >= t.entry_price * (1 + th.continuation_gain)
    ):
        return {"range_position": rng, "best_gain": best / t.entry_price - 1}
    return None


def _support(t: Trade, r: Review, th: PatternThresholds) -> dict[str, float | str] | None:
    rng = t.context["range_position"]
    if _ok(rng, r.actual_return) and rng <= th.support_range and r.actual_return > 0:
        return {"range_position": rng, "return": r.actual_return}
    return None


RULES: dict[str, Rule] = dict(zip(PATTERNS, (
    _high_momentum, _party, _volume_spike, _premature_stop, _time_stop, _panic, _low_liquidity,
    _rug, _breakout, _support,
), strict=True))  # fmt: skip


def match(trade: Trade, review: Review, th: PatternThresholds) -> list[Hit]:
    """Every pattern the trade matches, in library order."""
    hits = []
    for name, rule in RULES.items():
        evidence = rule(trade, review, th)
        if evidence is not None:
            hits.append(Hit(name, evidence))
    return hits
