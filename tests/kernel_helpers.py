"""Building kernel inputs by hand and reading its outputs, for the kernel tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.conditions import ConditionSet
from engine.controls import ControlRow, check_conditions, check_param
from engine.events import InputKind, OutKind, Reason
from engine.kernel import Kernel, KernelInput, as_input
from engine.layout import (
    G_CASH,
    G_RESERVED,
    O_ACTION,
    O_DEC_ID,
    O_FEE,
    O_IN_SEQ,
    O_KIND,
    O_MAX_HOLD_S,
    O_MINT,
    O_NETFEE,
    O_ORDER_ID,
    O_POS_ID,
    O_QTY,
    O_REASON,
    O_SIDE,
    O_SLIP,
    O_SOL,
    O_SOURCES,
    O_TRAILING,
    O_TRIGGER,
    O_TS,
    OF_FIRST_CONTEXT,
    OF_OUT_CONF,
    OF_OUT_STOP,
    OF_PRICE,
)
from engine.params import make_params

S = 1_000_000_000  # ns per second
MIN = 60 * S
T0 = 1_749_168_000 * S  # 2025-06-06T00:00:00Z, a minute boundary


@dataclass
class Tape:
    """A hand-written input stream: ticks, signals and heartbeats in the order added."""

    rows: list[tuple[int, int, int, float, int, float, int, float]] = field(default_factory=list)

    def tick(
        self,
        t: int,
        price: float,
        *,
        mint: int = 0,
        size: int = 1_000_000,
        liq: float = float("nan"),
    ) -> Tape:
        self.rows.append((InputKind.TICK, t, mint, price, size, liq, 0, 0.0))
        return self

    def signal(self, t: int, kind: int, value: float, *, mint: int = 0) -> Tape:
        self.rows.append((InputKind.SIGNAL, t, mint, 0.0, 0, float("nan"), kind, value))
        return self

    def heartbeat(self, t: int) -> Tape:
        self.rows.append((InputKind.HEARTBEAT, t, 0, 0.0, 0, float("nan"), 0, 0.0))
        return self

    def venue_fill(self, t: int, order_id: int, tokens: int, lamports: int, fees: int, *,
                   mint: int = 0) -> Tape:  # fmt: skip
        """A live venue's fill report (InputKind.VENUE_FILL) for the mint's pending order."""
        self.rows.append((InputKind.VENUE_FILL, t, mint, float(lamports), tokens, float(fees), 0,
                          float(order_id)))  # fmt: skip
        return self

    def venue_reject(self, t: int, order_id: int, cost: int = 0, *, mint: int = 0) -> Tape:
        """A live venue's reject report (InputKind.VENUE_REJECT): `cost` lamports spent."""
        self.rows.append((InputKind.VENUE_REJECT, t, mint, 0.0, 0, float(cost),
                          int(Reason.REJECT_VENUE), float(order_id)))  # fmt: skip
        return self

    def venue_adjust(self, t: int, size: int, *, mint: int = -1) -> Tape:
        """A start-up reconciliation (InputKind.VENUE_ADJUST): cash (mint -1) or a position."""
        self.rows.append((InputKind.VENUE_ADJUST, t, mint, 0.0, size, float("nan"), 0, 0.0))
        return self

    def param(self, t: int, name: str, value: float) -> Tape:
        """A parameter change at t, checked as `engine.controls` checks every change."""
        return self._control(t, check_param(name, value).rows)

    def conditions(self, t: int, text: str) -> Tape:
        """A condition-set change at t ('none': the sniper off)."""
        return self._control(t, check_conditions(text).rows)

    def _control(self, t: int, rows: tuple[ControlRow, ...]) -> Tape:
        for r in rows:
            self.rows.append((r.kind, t, -1, 0.0, r.size, float("nan"), r.sig_kind, r.sig_value))
        return self

    def build(self) -> KernelInput:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [[]] * 8
        n = len(self.rows)
        return as_input(
            kind=np.array(cols[0]),
            ts=np.array(cols[1]),
            seq=np.arange(n),
            mint=np.array(cols[2]),
            price=np.array(cols[3], dtype=np.float64),
            size=np.array(cols[4]),
            liq=np.array(cols[5], dtype=np.float64),
            sig_kind=np.array(cols[6]),
            sig_value=np.array(cols[7], dtype=np.float64),
        )


@dataclass(frozen=True)
class Out:
    """One output event, decoded."""

    kind: OutKind
    ts: int
    mint: int
    order_id: int
    pos_id: int
    side: int
    reason: Reason
    qty: int
    sol: int
    fee: int
    netfee: int
    slip: int
    in_seq: int
    price: float
    conf: float
    stop: float
    dec_id: int = 0
    action: int = 0
    trigger: int = 0
    sources: int = 0
    max_hold_s: int = 0
    trailing: int = 0
    context: tuple[float, ...] = ()
    """Decision context floats, engine.layout columns OF_FIRST_CONTEXT onwards."""

    def ctx(self, column: int) -> float:
        """One context column by its engine.layout index (OF_TECH, OF_SOCIAL, ...)."""
        return self.context[column - OF_FIRST_CONTEXT]


FIXED_SIZE: dict[str, float] = {
    "min_buy_confidence": 0.0,
    "hold_confidence": 0.0,
    "min_liquidity": -1.0,
    "require_trend_up": 0.0,
    "strong_sell_social": -1.0,
    "strong_sell_technical": -1.0,
    "strong_sell_risk": 11.0,
    "max_portfolio_risk": 1.0,
    "max_correlation": 1.0,
    "max_candidates": 0,
    "max_consecutive_losses": 1e9,
    "max_daily_loss_sol": 1e9,
    "max_daily_loss_pct": 1e3,
    "max_daily_trades": 1e9,
    "max_slippage_pct": 1.0,
    "liq_cap_pct": 1.0,
    "min_position_sol": 1e6,
    "size_ref_confidence": 0.01,
}
"""A sniper that buys whenever its conditions hold, always `max_position_sol`.

The venue and exit tests pin the decision engine this way (every guard open, size at
its cap) so their hand-worked numbers depend only on the venue and exit rules; the
decision engine's own tests leave it on.
"""


_CONTROL_KINDS = (OutKind.PARAM_CHANGED, OutKind.CONDITIONS_CHANGED, OutKind.CONTROL_REFUSED)


def _reason(kind: int, value: int) -> Any:
    """A Reason, except for control events, whose O_REASON is a parameter index."""
    return value if kind in _CONTROL_KINDS else Reason(value)


def decode(out_i: np.ndarray, out_f: np.ndarray) -> list[Out]:
    return [
        Out(
            OutKind(int(r[O_KIND])),
            int(r[O_TS]),
            int(r[O_MINT]),
            int(r[O_ORDER_ID]),
            int(r[O_POS_ID]),
            int(r[O_SIDE]),
            _reason(int(r[O_KIND]), int(r[O_REASON])),
            int(r[O_QTY]),
            int(r[O_SOL]),
            int(r[O_FEE]),
            int(r[O_NETFEE]),
            int(r[O_SLIP]),
            int(r[O_IN_SEQ]),
            float(f[OF_PRICE]),
            float(f[OF_OUT_CONF]),
            float(f[OF_OUT_STOP]),
            int(r[O_DEC_ID]),
            int(r[O_ACTION]),
            int(r[O_TRIGGER]),
            int(r[O_SOURCES]),
            int(r[O_MAX_HOLD_S]),
            int(r[O_TRAILING]),
            tuple(float(x) for x in f[OF_FIRST_CONTEXT:]),
        )
        for r, f in zip(out_i, out_f, strict=True)
    ]


def run(
    tape: Tape,
    rule: str | None = "price > 0",
    scales: list[float] | None = None,
    engine: bool = False,
    external: bool = False,
    **params: Any,
) -> tuple[list[Out], Kernel]:
    """Run a tape through a fresh kernel with parameter overrides.

    Without `engine` the decision engine is pinned open (FIXED_SIZE) and the old
    `position_sol=X` spelling sets the fixed entry size; `external` is live mode (fills
    come as venue reports).
    """
    if not engine:
        if "position_sol" in params:
            params["max_position_sol"] = params.pop("position_sol")
        params = {**FIXED_SIZE, **params}
    p = make_params(params)
    cs = ConditionSet.parse(rule) if rule else None
    k = Kernel(p, cs, np.array(scales or [1e6] * 4), external_venue=external)
    oi, of = k.run_all(tape.build())
    return decode(oi, of), k


def of_kind(events: list[Out], kind: OutKind) -> list[Out]:
    return [e for e in events if e.kind == kind]


def cash(k: Kernel) -> int:
    return int(k.state.glob[G_CASH])


def reserved(k: Kernel) -> int:
    return int(k.state.glob[G_RESERVED])
