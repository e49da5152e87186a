"""Strategy and venue parameters: one flat float64 vector with named indices.

A sweep is then just a 2-D array (one row per parameter set). Names, defaults and
valid ranges live here; `make_params` is the only way Python code builds a vector, so
a typo or an out-of-range value fails loudly before the kernel runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

NS_PER_S = 1_000_000_000
LAMPORTS_PER_SOL = 1_000_000_000


class P(IntEnum):
    """Index of each parameter in the vector."""

    INITIAL_CASH_SOL = 0
    POSITION_SOL = 1
    MAX_POSITIONS = 2
    STOP_LOSS = 3
    VOL_SCALE = 4
    STOP_CAP = 5
    TP1 = 6
    TP2 = 7
    TP3 = 8
    TP1_FRAC = 9
    TP2_FRAC = 10
    TIME_STOP_S = 11
    ENTRY_CONFIDENCE = 12
    TRAILING_MIN_CONFIDENCE = 13
    TRAILING_PCT = 14
    VOLUME_DEATH_RATIO = 15
    LATENCY_MS = 16
    FIXED_SLIPPAGE_BPS = 17
    DEX_FEE_BPS = 18
    NETWORK_FEE_LAMPORTS = 19
    PRIORITY_FEE_LAMPORTS = 20
    ENTRY_MAX_SLIPPAGE_BPS = 21
    EXIT_MAX_SLIPPAGE_BPS = 22
    BAR_LOOKBACK = 23
    VOL_HALFLIFE_MIN = 24
    REENTRY_COOLDOWN_S = 25


@dataclass(frozen=True)
class ParamSpec:
    """Default, bounds and meaning of one parameter."""

    default: float
    lo: float
    hi: float
    doc: str


SPECS: dict[P, ParamSpec] = {
    P.INITIAL_CASH_SOL: ParamSpec(10.0, 0.0, 1e9, "starting cash, SOL"),
    P.POSITION_SOL: ParamSpec(0.5, 1e-6, 1e6, "SOL spent per entry"),
    P.MAX_POSITIONS: ParamSpec(3, 1, 16, "max concurrent positions (open + pending entries)"),
    P.STOP_LOSS: ParamSpec(0.08, 0.001, 0.99, "base stop distance, fraction of entry"),
    P.VOL_SCALE: ParamSpec(1.0, 0.0, 100.0, "stop widening per unit of 1-minute volatility"),
    P.STOP_CAP: ParamSpec(0.15, 0.001, 0.99, "stop distance never exceeds this"),
    P.TP1: ParamSpec(0.15, 0.0, 100.0, "take-profit 1, gain over entry"),
    P.TP2: ParamSpec(0.30, 0.0, 100.0, "take-profit 2, gain over entry"),
    P.TP3: ParamSpec(0.60, 0.0, 100.0, "take-profit 3, gain over entry"),
    P.TP1_FRAC: ParamSpec(0.33, 0.0, 1.0, "fraction of the original size sold at target 1"),
    P.TP2_FRAC: ParamSpec(0.33, 0.0, 1.0, "fraction sold at target 2 (target 3 sells the rest)"),
    P.TIME_STOP_S: ParamSpec(4 * 3600, 1, 365 * 86400, "close after this long (4 h meme)"),
    P.ENTRY_CONFIDENCE: ParamSpec(0.70, 0.0, 1.0, "confidence given to a triggered entry"),
    P.TRAILING_MIN_CONFIDENCE: ParamSpec(0.75, 0.0, 1.0, "trail only above this confidence"),
    P.TRAILING_PCT: ParamSpec(0.10, 0.001, 0.99, "trailing stop distance below the high"),
    P.VOLUME_DEATH_RATIO: ParamSpec(0.20, 0.0, 1.0, "exit when 1h volume < ratio x entry's"),
    P.LATENCY_MS: ParamSpec(400, 0, 600_000, "order to earliest fill, ms"),
    P.FIXED_SLIPPAGE_BPS: ParamSpec(50, 0, 10_000, "price impact when liquidity is unknown"),
    P.DEX_FEE_BPS: ParamSpec(100, 0, 10_000, "DEX fee on the SOL leg (pump.fun: 100)"),
    P.NETWORK_FEE_LAMPORTS: ParamSpec(5000, 0, 1e9, "base network fee per transaction"),
    P.PRIORITY_FEE_LAMPORTS: ParamSpec(10_000, 0, 1e9, "priority fee per transaction"),
    P.ENTRY_MAX_SLIPPAGE_BPS: ParamSpec(300, 0, 10_000, "reject entries with more impact"),
    P.EXIT_MAX_SLIPPAGE_BPS: ParamSpec(1500, 0, 10_000, "reject (and retry) exits above this"),
    P.BAR_LOOKBACK: ParamSpec(20, 1, 60, "N for the N-bar high (1-minute bars)"),
    P.VOL_HALFLIFE_MIN: ParamSpec(30, 1, 10_000, "half-life of the EWMA volatility, minutes"),
    P.REENTRY_COOLDOWN_S: ParamSpec(900, 0, 86400 * 7, "no new entry in a mint this long"),
}
N_PARAMS = len(P)


def param_names() -> list[str]:
    """Lower-case names accepted by `make_params` and `--set name=value`."""
    return [p.name.lower() for p in P]


def make_params(overrides: Mapping[str, float] | None = None) -> np.ndarray:
    """Build a validated parameter vector from defaults plus `overrides` (by name)."""
    vec = np.array([SPECS[p].default for p in P], dtype=np.float64)
    for name, value in (overrides or {}).items():
        try:
            p = P[name.upper()]
        except KeyError:
            raise ValueError(
                f"unknown parameter {name!r}; known: {', '.join(param_names())}"
            ) from None
        v = float(value)
        spec = SPECS[p]
        if not (spec.lo <= v <= spec.hi):
            raise ValueError(f"{name}={v} is outside [{spec.lo}, {spec.hi}] ({spec.doc})")
        vec[p] = v
    if vec[P.TP1_FRAC] + vec[P.TP2_FRAC] > 1.0:
        raise ValueError("tp1_frac + tp2_frac must not exceed 1 (target 3 sells the rest)")
    if not vec[P.TP1] < vec[P.TP2] < vec[P.TP3]:
        raise ValueError("take-profit targets must increase: tp1 < tp2 < tp3")
    return vec
