"""Trade review (seed `analyzeTradePerformance`): how a closed trade went against what was possible.

A review is computed at exit + review_horizon_s from the trade's own fills and the
prices its mint traded at, and only those with entry < ts <= exit + horizon (the
`Path` handed in holds nothing later). Definitions, each checked by hand in
tests/learning/test_review.py:

- actual_return = realized PnL / cost, both in lamports as the fills booked them
  (after the DEX fee, slippage, network and priority fees).
- best_price = the highest tick price with entry < ts <= exit + horizon: the best exit
  the market offered while holding and within the horizon after.
- optimal_return = tokens bought x best_price x (1 - fee rate) / cost - 1: selling the
  whole position at best_price, after the DEX fee rate its exits paid (fee / (received
  + fee) over its exit fills), without impact or network fee.
- efficiency = actual / optimal when optimal > 0 (1 captured all of it; below 0 lost
  money when a profit was there). When optimal <= 0 no exit made money: efficiency =
  optimal / actual for a loss (1 when the loss was the smallest possible, towards 0 as
  it grows), and 1 when actual >= 0.
- max_drawdown = the largest fall of the tick price below its running high (starting
  at the entry price) with entry < ts <= exit, as a fraction of that high.
- time_to_optimal_s = from entry to the first tick at best_price.
- rug: within entry < ts <= exit + horizon, the price fell more than rug_price_drop
  (0.8) below its running high (starting at the entry price), or the pool's liquidity
  fell more than rug_liquidity_drop (0.5: lost most of it) below the liquidity at entry.
- outcome: 'rug' if a rug, else by actual_return: big_win > 0.5, win > 0.1,
  breakeven > -0.05, loss > -0.2, else big_loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.params import LAMPORTS_PER_SOL, NS_PER_S

OUTCOMES = ("big_win", "win", "breakeven", "loss", "big_loss", "rug")
_BANDS = ((0.5, "big_win"), (0.1, "win"), (-0.05, "breakeven"), (-0.2, "loss"))


@dataclass(frozen=True)
class Trade:
    """A closed position, from the run's fills and its entry decision's recorded context."""

    pos_id: int
    mint_id: int
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    """The last exit fill's execution price."""
    tokens: int
    """Raw token units bought."""
    scale: float
    """10 ** the mint's decimals (raw units per whole token)."""
    cost: int
    """Lamports paid: spend plus network fees."""
    pnl: int
    """Realized PnL in lamports: proceeds net of every fee minus cost."""
    exit_reason: str
    """The reason of the fill that closed it (engine.events.Reason label)."""
    exits: tuple[tuple[int, str], ...]
    """Every exit fill: (ts, reason label), partial targets included."""
    exit_fee_rate: float
    """DEX fee over gross proceeds across its exit fills (the fee rate it paid)."""
    decision_id: int
    trigger: int
    sources: int
    """Scanner source bits of the entry decision (engine.events.ScanSource)."""
    context: dict[str, float]
    """The entry decision's recorded context (data.schemas.DECISION_CONTEXT names)."""
    age_min: float
    """Minutes from the mint's first tick in this run to the entry."""
    top3_pct: float
    """The last top3_pct signal at entry (NaN if none)."""
    token_type: float
    """The last token_type signal at entry: 1 meme, 0 other, NaN unknown."""


@dataclass(frozen=True)
class Path:
    """A mint's ticks with entry < ts <= the review's horizon end, in time order."""

    ts: np.ndarray
    price: np.ndarray
    liquidity: np.ndarray


@dataclass(frozen=True)
class Review:
    """One TradeReviewed event's numbers (the `reviews` family)."""

    ts_ns: int
    """When it was computed: exit + horizon (or the run's end, with complete False)."""
    horizon_end_ns: int
    complete: bool
    """False when the run ended before exit + horizon (the horizon was cut short)."""
    actual_return: float
    optimal_return: float
    efficiency: float
    max_drawdown: float
    time_to_optimal_s: float
    best_price: float
    post_exit_high: float
    """Highest price with exit < ts <= horizon end (NaN when no tick came)."""
    post_exit_low: float
    min_liquidity_ratio: float
    """Lowest liquidity in the window over the liquidity at entry (NaN if unknown)."""
    rug: bool
    rug_cause: str
    """'', 'price', 'liquidity' or 'price+liquidity'."""
    outcome: str
    ticks: int
    """Ticks in the window the review read."""


def outcome_of(actual_return: float, rug: bool) -> str:
    """The outcome category (see the module docstring)."""
    if rug:
        return "rug"
    for floor, name in _BANDS:
        if actual_return > floor:
            return name
    return "big_loss"


def efficiency_of(actual: float, optimal: float) -> float:
    """Actual / optimal, defined for every sign (see the module docstring)."""
    if not np.isfinite(optimal):
        return float("nan")
    if optimal > 0:
        return actual / optimal
    if actual < 0:
        return optimal / actual
    return 1.0


def review_trade(
    trade: Trade,
    path: Path,
    *,
    at_ns: int,
    horizon_end_ns: int,
    rug_price_drop: float,
    rug_liquidity_drop: float,
) -> Review:
    """Review `trade` over `path` (ticks with entry < ts <= horizon_end_ns only)."""
    ts, price, liq = path.ts, path.price, path.liquidity
    win = (ts > trade.entry_ts) & (ts <= horizon_end_ns)
    ts, price, liq = ts[win], price[win], liq[win]
    actual = trade.pnl / trade.cost if trade.cost > 0 else float("nan")
    if len(price):
        k = int(np.argmax(price))
        best = float(price[k])
        to_best = (int(ts[k]) - trade.entry_ts) / NS_PER_S
        value = trade.tokens / trade.scale * best * (1.0 - trade.exit_fee_rate) * LAMPORTS_PER_SOL
        optimal = value / trade.cost - 1.0
    else:
        best, to_best, optimal = float("nan"), float("nan"), float("nan")
    peak = np.maximum.accumulate(np.concatenate([[trade.entry_price], price]))[1:]
    falls = 1.0 - price / peak if len(price) else np.zeros(0)
    held = ts <= trade.exit_ts
    max_dd = float(falls[held].max()) if held.any() else 0.0
    price_rug = bool(len(falls)) and float(falls.max()) > rug_price_drop
    liq0 = trade.context.get("liquidity", float("nan"))
    known = liq[np.isfinite(liq)]
    if not (np.isfinite(liq0) and liq0 > 0) and len(known):
        liq0 = float(known[0])
    ratio = float(known.min() / liq0) if len(known) and np.isfinite(liq0) and liq0 > 0 else np.nan
    liq_rug = bool(np.isfinite(ratio)) and ratio < 1.0 - rug_liquidity_drop
    cause = "+".join(c for c, hit in (("price", price_rug), ("liquidity", liq_rug)) if hit)
    after = ts > trade.exit_ts
    return Review(
        ts_ns=at_ns, horizon_end_ns=horizon_end_ns, complete=at_ns >= horizon_end_ns,
        actual_return=actual, optimal_return=optimal, efficiency=efficiency_of(actual, optimal),
        max_drawdown=max_dd, time_to_optimal_s=to_best, best_price=best,
        post_exit_high=float(price[after].max()) if after.any() else float("nan"),
        post_exit_low=float(price[after].min()) if after.any() else float("nan"),
        min_liquidity_ratio=ratio, rug=bool(cause), rug_cause=cause,
        outcome=outcome_of(actual, bool(cause)), ticks=len(price),
    )  # fmt: skip
