"""The replay report: trades, PnL, costs, risk, computed from a run's own events.

Definitions (also in the README):
- trades: closed round trips (PositionClosed events); win rate: share with PnL > 0;
  average return: mean of PnL / cost over closed trades;
- realized PnL: sum of closed trades' PnL (all DEX, network fees and slippage paid);
  unrealized PnL: open positions marked at their mint's last trade price, no exit
  costs, plus what their partial exits already returned, minus their cost;
- fees: DEX fees + network/priority fees of every fill; slippage: value lost to price
  impact at fill time;
- max drawdown: largest fall from a running peak of the per-minute equity curve
  (cash + open positions at last price), as a fraction of that peak;
- Sharpe: mean / std of per-UTC-day returns of that curve, annualised by sqrt(365)
  (crypto trades every day); null with fewer than two daily returns;
- decisions by action (buy / sell / hold / skip; holds and skips are rate-limited per
  mint by `decision_log_interval_s`), by action and reason, and breaker trips by kind.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from engine.events import Action, Breaker, OutKind, Reason
from engine.layout import (
    O_ACTION,
    O_FEE,
    O_KIND,
    O_NETFEE,
    O_POS_ID,
    O_REASON,
    O_SIDE,
    O_SLIP,
    O_SOL,
    O_TS,
)

SOL = 1e9
DAY_NS = 86_400 * 10**9


def _daily_sharpe(curve: list[tuple[int, float]], start_equity: float) -> tuple[float | None, int]:
    last_of_day: dict[int, float] = {}
    for ts, eq in curve:
        last_of_day[(ts - 1) // DAY_NS] = eq
    series = [start_equity] + [last_of_day[d] for d in sorted(last_of_day)]
    rets = [b / a - 1.0 for a, b in itertools.pairwise(series) if a > 0]
    if len(rets) < 2:
        return None, len(rets)
    sd = float(np.std(rets, ddof=1))
    if sd == 0.0:
        return None, len(rets)
    return float(np.mean(rets)) / sd * math.sqrt(365.0), len(rets)


def _max_drawdown(curve: list[tuple[int, float]], start_equity: float) -> float:
    peak = start_equity
    worst = 0.0
    for _, eq in curve:
        peak = max(peak, eq)
        if peak > 0:
            worst = max(worst, (peak - eq) / peak)
    return worst


def build_report(
    out_i: np.ndarray,
    out_f: np.ndarray,
    ticks: int,
    curve: list[tuple[int, float]],
    open_unrealized_lamports: list[float],
    initial_cash: int,
) -> dict[str, Any]:
    """Metrics of one run from its output rows and equity curve."""
    kinds = out_i[:, O_KIND]
    opened = out_i[kinds == OutKind.POSITION_OPENED]
    closed = out_i[kinds == OutKind.POSITION_CLOSED]
    fills = out_i[kinds == OutKind.ORDER_FILLED]
    open_at = {int(r[O_POS_ID]): (int(r[O_TS]), int(r[O_SOL])) for r in opened}
    pnl = closed[:, O_SOL].astype(np.float64)
    cost = np.array([open_at[int(p)][1] for p in closed[:, O_POS_ID]], dtype=np.float64)
    holds = [int(r[O_TS]) - open_at[int(r[O_POS_ID])][0] for r in closed]
    sells = fills[fills[:, O_SIDE] == -1]
    reasons = Counter(Reason(int(r)).label for r in sells[:, O_REASON])
    decided = out_i[kinds == OutKind.DECIDED]
    actions = Counter(Action(int(a)).label for a in decided[:, O_ACTION])
    decision_reasons = Counter(
        f"{Action(int(a)).label}:{Reason(int(r)).label}"
        for a, r in zip(decided[:, O_ACTION], decided[:, O_REASON], strict=True)
    )
    trips = Counter(
        Breaker(int(b)).label for b in out_i[kinds == OutKind.BREAKER_TRIPPED][:, O_REASON]
    )
    start_equity = initial_cash / SOL
    sharpe, n_days = _daily_sharpe(curve, start_equity)
    return {
        "ticks_processed": ticks,
        "trades": len(closed),
        "win_rate": float(np.mean(pnl > 0)) if len(pnl) else None,
        "avg_return": float(np.mean(pnl / cost)) if len(pnl) else None,
        "realized_pnl_sol": float(pnl.sum()) / SOL,
        "unrealized_pnl_sol": float(sum(open_unrealized_lamports)) / SOL,
        "open_positions": len(open_unrealized_lamports),
        "fees_sol": float(fills[:, O_FEE].sum() + fills[:, O_NETFEE].sum()) / SOL,
        "slippage_sol": float(fills[:, O_SLIP].sum()) / SOL,
        "max_drawdown": _max_drawdown(curve, start_equity),
        "sharpe": sharpe,
        "sharpe_note": f"per-UTC-day returns x sqrt(365); {n_days} daily return(s)"
        + ("" if sharpe is not None else ", too few for a Sharpe ratio"),
        "avg_hold_s": float(np.mean(holds)) / 1e9 if holds else None,
        "exit_reasons": dict(sorted(reasons.items())),
        "decisions": int(np.count_nonzero(kinds == OutKind.DECIDED)),
        "decisions_by_action": {a.label: actions.get(a.label, 0) for a in Action},
        "decision_reasons": dict(sorted(decision_reasons.items())),
        "breaker_trips": dict(sorted(trips.items())),
        "orders": int(np.count_nonzero(kinds == OutKind.ORDER_PLACED)),
        "fills": len(fills),
        "rejects": int(np.count_nonzero(kinds == OutKind.ORDER_REJECTED)),
        "final_equity_sol": curve[-1][1] if curve else start_equity,
        "initial_cash_sol": start_equity,
    }
