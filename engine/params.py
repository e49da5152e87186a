"""Strategy and venue parameters: one flat float64 vector with named indices.

A sweep is then just a 2-D array (one row per parameter set). Names, defaults and
valid ranges live here; `make_params` is the only way Python code builds a vector, so
a typo or an out-of-range value fails loudly before the kernel runs.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

NS_PER_S = 1_000_000_000
LAMPORTS_PER_SOL = 1_000_000_000


class P(IntEnum):
    """Index of each parameter in the vector."""

    INITIAL_CASH_SOL = 0
    MIN_POSITION_SOL = 1
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
    MIN_BUY_CONFIDENCE = 12
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
    MAX_POSITION_SOL = 26
    SIZE_REF_CONFIDENCE = 27
    LIQ_CAP_PCT = 28
    MAX_PORTFOLIO_RISK = 29
    MIN_ORDER_SOL = 30
    HOLD_CONFIDENCE = 31
    MIN_LIQUIDITY = 32
    REQUIRE_TREND_UP = 33
    W_TECHNICAL = 34
    W_SOCIAL_MEME = 35
    W_SOCIAL_OTHER = 36
    W_FUNDAMENTAL = 37
    W_RISK = 38
    TW_TREND = 39
    TW_MOMENTUM = 40
    TW_VOLUME = 41
    TW_VOLATILITY = 42
    TW_RANGE = 43
    EMA_FAST_MIN = 44
    EMA_SLOW_MIN = 45
    TREND_SCALE = 46
    MOMENTUM_SCALE = 47
    VOLUME_RATIO_FULL = 48
    VOLATILITY_MAX = 49
    SW_SENTIMENT = 50
    SW_ENGAGEMENT = 51
    SW_NARRATIVE = 52
    SW_COMMUNITY = 53
    SW_FLOW = 54
    COMMUNITY_FULL = 55
    FW_RISK = 56
    FW_TYPE = 57
    FW_MCAP = 58
    FW_LIQUIDITY = 59
    FW_VOLMCAP = 60
    MEME_TYPE_SCORE = 61
    OTHER_TYPE_SCORE = 62
    LIQUIDITY_FULL = 63
    MCAP_LOW_SOL = 64
    MCAP_HIGH_SOL = 65
    VOLMCAP_FULL = 66
    ASSUMED_SUPPLY_TOKENS = 67
    DEFAULT_MEME = 68
    RISK_TOP3_FULL = 69
    STRONG_SELL_SOCIAL = 70
    STRONG_SELL_TECHNICAL = 71
    STRONG_SELL_RISK = 72
    TIME_STOP_OTHER_S = 73
    DECISION_LOG_INTERVAL_S = 74
    MAX_CONSECUTIVE_LOSSES = 75
    MAX_DAILY_LOSS_SOL = 76
    MAX_DAILY_LOSS_PCT = 77
    MAX_DAILY_TRADES = 78
    MAX_SLIPPAGE_PCT = 79
    MAX_CORRELATION = 80
    CORR_WINDOW_MIN = 81
    CORR_MIN_RETURNS = 82
    SCAN_INTERVAL_S = 83
    MAX_CANDIDATES = 84
    SCANNER_COOLDOWN_S = 85
    FRESH_AGE_MIN = 86
    FRESH_MIN_VOLUME = 87
    SPIKE_RATIO = 88
    TRENDING_VOLMCAP = 89
    SRC_W_FRESH = 90
    SRC_W_SPIKE = 91
    SRC_W_BREAKOUT = 92
    SRC_W_TRENDING = 93
    ADAPTIVE_SCAN = 94
    SCAN_FAST_S = 95
    SCAN_SLOW_S = 96
    SCAN_BUSY_S = 97
    SCAN_HOT_CHANGE = 98
    SCAN_QUIET_CHANGE = 99
    SCAN_BUSY_POSITIONS = 100
    MIN_LIQUIDITY_USD = 101
    MCAP_LOW_USD = 102
    MCAP_HIGH_USD = 103


@dataclass(frozen=True)
class ParamSpec:
    """Default, bounds and meaning of one parameter.

    `kind` says which values make sense: "real" any number in range, "int" a whole
    number (a count, lamports: the kernel would otherwise truncate 2.5 to 2 without a
    word), "flag" 0 or 1.
    """

    default: float
    lo: float
    hi: float
    doc: str
    kind: str = "real"


SPECS: dict[P, ParamSpec] = {
    P.INITIAL_CASH_SOL: ParamSpec(10.0, 0.0, 1e9, "starting cash, SOL"),
    P.MIN_POSITION_SOL: ParamSpec(0.5, 1e-6, 1e6, "base entry size at the reference confidence"),
    P.MAX_POSITIONS: ParamSpec(
        3, 1, 16, "max concurrent positions (open + pending entries)", "int"
    ),
    P.STOP_LOSS: ParamSpec(0.08, 0.001, 0.99, "base stop distance, fraction of entry"),
    P.VOL_SCALE: ParamSpec(1.0, 0.0, 100.0, "stop widening per unit of 1-minute volatility"),
    P.STOP_CAP: ParamSpec(0.15, 0.001, 0.99, "stop distance never exceeds this"),
    P.TP1: ParamSpec(0.15, 0.0, 100.0, "take-profit 1, gain over entry"),
    P.TP2: ParamSpec(0.30, 0.0, 100.0, "take-profit 2, gain over entry"),
    P.TP3: ParamSpec(0.60, 0.0, 100.0, "take-profit 3, gain over entry"),
    P.TP1_FRAC: ParamSpec(0.33, 0.0, 1.0, "fraction of the original size sold at target 1"),
    P.TP2_FRAC: ParamSpec(0.33, 0.0, 1.0, "fraction sold at target 2 (target 3 sells the rest)"),
    P.TIME_STOP_S: ParamSpec(4 * 3600, 1, 365 * 86400, "close a meme token after this long"),
    P.MIN_BUY_CONFIDENCE: ParamSpec(0.65, 0.0, 1.0, "buy at or above this confidence"),
    P.TRAILING_MIN_CONFIDENCE: ParamSpec(0.75, 0.0, 1.0, "trail only above this confidence"),
    P.TRAILING_PCT: ParamSpec(0.10, 0.001, 0.99, "trailing stop distance below the high"),
    P.VOLUME_DEATH_RATIO: ParamSpec(0.20, 0.0, 1.0, "exit when 1h volume < ratio x entry's"),
    P.LATENCY_MS: ParamSpec(400, 0, 600_000, "order to earliest fill, ms"),
    P.FIXED_SLIPPAGE_BPS: ParamSpec(50, 0, 10_000, "price impact when liquidity is unknown"),
    P.DEX_FEE_BPS: ParamSpec(100, 0, 10_000, "DEX fee on the SOL leg (pump.fun: 100)"),
    P.NETWORK_FEE_LAMPORTS: ParamSpec(5000, 0, 1e9, "base network fee per transaction", "int"),
    P.PRIORITY_FEE_LAMPORTS: ParamSpec(10_000, 0, 1e9, "priority fee per transaction", "int"),
    P.ENTRY_MAX_SLIPPAGE_BPS: ParamSpec(300, 0, 10_000, "reject entries with more impact"),
    P.EXIT_MAX_SLIPPAGE_BPS: ParamSpec(1500, 0, 10_000, "reject (and retry) exits above this"),
    P.BAR_LOOKBACK: ParamSpec(20, 1, 60, "N for the N-bar high (1-minute bars)", "int"),
    P.VOL_HALFLIFE_MIN: ParamSpec(30, 1, 10_000, "half-life of the EWMA volatility, minutes"),
    P.REENTRY_COOLDOWN_S: ParamSpec(900, 0, 86400 * 7, "no new entry in a mint this long"),
    # Sizing (seed "sizePosition")
    P.MAX_POSITION_SOL: ParamSpec(2.0, 1e-6, 1e6, "entry size cap, SOL"),
    P.SIZE_REF_CONFIDENCE: ParamSpec(0.65, 0.01, 1.0, "size = min_position_sol x conf / this"),
    P.LIQ_CAP_PCT: ParamSpec(0.01, 1e-6, 1.0, "entry size cap, fraction of pool liquidity"),
    P.MAX_PORTFOLIO_RISK: ParamSpec(0.06, 0.0, 1.0, "sum of stop distance x size / equity"),
    P.MIN_ORDER_SOL: ParamSpec(0.01, 1e-9, 1e6, "skip entries the caps shrink below this"),
    # Action (seed "determineAction")
    P.HOLD_CONFIDENCE: ParamSpec(0.50, 0.0, 1.0, "hold (watch) at or above this confidence"),
    P.MIN_LIQUIDITY: ParamSpec(30.0, -1.0, 1e12, "buy only when liquidity > this (SOL)"),
    P.REQUIRE_TREND_UP: ParamSpec(
        1.0, 0.0, 1.0, "1: buy only when the fast EMA > slow EMA", "flag"
    ),
    # Confidence weights (seed "calculateConfidence")
    P.W_TECHNICAL: ParamSpec(0.40, 0.0, 10.0, "weight of the technical score"),
    P.W_SOCIAL_MEME: ParamSpec(0.30, 0.0, 10.0, "weight of the social score, meme tokens"),
    P.W_SOCIAL_OTHER: ParamSpec(0.15, 0.0, 10.0, "weight of the social score, other tokens"),
    P.W_FUNDAMENTAL: ParamSpec(0.20, 0.0, 10.0, "weight of the fundamental score"),
    P.W_RISK: ParamSpec(0.10, 0.0, 10.0, "weight of the risk adjustment (1 - risk/10)"),
    P.TW_TREND: ParamSpec(1.0, 0.0, 10.0, "technical: weight of the EMA trend"),
    P.TW_MOMENTUM: ParamSpec(1.0, 0.0, 10.0, "technical: weight of the 5-minute momentum"),
    P.TW_VOLUME: ParamSpec(1.0, 0.0, 10.0, "technical: weight of the volume profile"),
    P.TW_VOLATILITY: ParamSpec(1.0, 0.0, 10.0, "technical: weight of (low) volatility"),
    P.TW_RANGE: ParamSpec(1.0, 0.0, 10.0, "technical: weight of support/resistance position"),
    P.EMA_FAST_MIN: ParamSpec(5.0, 1.0, 60.0, "fast EMA span, 1-minute closes"),
    P.EMA_SLOW_MIN: ParamSpec(20.0, 1.0, 1440.0, "slow EMA span, 1-minute closes"),
    P.TREND_SCALE: ParamSpec(0.05, 1e-6, 10.0, "EMA gap scoring 1.0 (and -gap 0.0)"),
    P.MOMENTUM_SCALE: ParamSpec(0.10, 1e-6, 10.0, "5-minute return scoring 1.0 (-this: 0.0)"),
    P.VOLUME_RATIO_FULL: ParamSpec(3.0, 1e-6, 1e6, "vol_5m_ratio scoring 1.0"),
    P.VOLATILITY_MAX: ParamSpec(0.20, 1e-6, 10.0, "1-minute volatility scoring 0.0"),
    P.SW_SENTIMENT: ParamSpec(1.0, 0.0, 10.0, "social: weight of sentiment"),
    P.SW_ENGAGEMENT: ParamSpec(1.0, 0.0, 10.0, "social: weight of engagement"),
    P.SW_NARRATIVE: ParamSpec(1.0, 0.0, 10.0, "social: weight of narrative heat"),
    P.SW_COMMUNITY: ParamSpec(1.0, 0.0, 10.0, "social: weight of community size / buyers"),
    P.SW_FLOW: ParamSpec(1.0, 0.0, 10.0, "social: weight of buy share of buy+sell pressure"),
    P.COMMUNITY_FULL: ParamSpec(1000.0, 1.0, 1e12, "community size scoring 1.0 (log scale)"),
    P.FW_RISK: ParamSpec(1.0, 0.0, 10.0, "fundamental: weight of the external risk score"),
    P.FW_TYPE: ParamSpec(1.0, 0.0, 10.0, "fundamental: weight of the token type"),
    P.FW_MCAP: ParamSpec(1.0, 0.0, 10.0, "fundamental: weight of market cap"),
    P.FW_LIQUIDITY: ParamSpec(1.0, 0.0, 10.0, "fundamental: weight of liquidity"),
    P.FW_VOLMCAP: ParamSpec(1.0, 0.0, 10.0, "fundamental: weight of 1h volume / market cap"),
    P.MEME_TYPE_SCORE: ParamSpec(0.4, 0.0, 1.0, "fundamental score of a meme token's type"),
    P.OTHER_TYPE_SCORE: ParamSpec(0.7, 0.0, 1.0, "fundamental score of another token's type"),
    P.LIQUIDITY_FULL: ParamSpec(100.0, 1e-9, 1e12, "liquidity (SOL) scoring 1.0"),
    P.MCAP_LOW_SOL: ParamSpec(100.0, 1e-9, 1e15, "market cap at or below this scores 1.0"),
    P.MCAP_HIGH_SOL: ParamSpec(1e6, 1e-9, 1e15, "market cap at or above this scores 0.0"),
    P.VOLMCAP_FULL: ParamSpec(0.5, 1e-9, 1e6, "1h volume / market cap scoring 1.0"),
    P.ASSUMED_SUPPLY_TOKENS: ParamSpec(1e9, 0.0, 1e18, "market cap = price x this (0: unknown)"),
    P.DEFAULT_MEME: ParamSpec(
        1.0, 0.0, 1.0, "1: a mint without a token_type signal is meme", "flag"
    ),
    P.RISK_TOP3_FULL: ParamSpec(80.0, 1e-6, 100.0, "top-3 holder % counting as full risk"),
    P.STRONG_SELL_SOCIAL: ParamSpec(0.15, -1.0, 1.0, "strong sell when social score <= this"),
    P.STRONG_SELL_TECHNICAL: ParamSpec(0.15, -1.0, 1.0, "strong sell when technical <= this"),
    P.STRONG_SELL_RISK: ParamSpec(9.0, 0.0, 11.0, "strong sell when risk_score signal >= this"),
    P.TIME_STOP_OTHER_S: ParamSpec(86400, 1, 365 * 86400, "close a non-meme token after this"),
    P.DECISION_LOG_INTERVAL_S: ParamSpec(300, 0, 86400 * 7, "log hold/skip per mint at most"),
    # Circuit breakers (seed "Circuit Breakers")
    P.MAX_CONSECUTIVE_LOSSES: ParamSpec(
        3, 1, 1e9, "trip after this many losing trades in a row", "int"
    ),
    P.MAX_DAILY_LOSS_SOL: ParamSpec(1.0, 0.0, 1e9, "trip when today's realized loss > this"),
    P.MAX_DAILY_LOSS_PCT: ParamSpec(0.10, 0.0, 1e3, "trip when it exceeds this x day-start equity"),
    P.MAX_DAILY_TRADES: ParamSpec(20, 1, 1e9, "trip when entries today reach this", "int"),
    P.MAX_SLIPPAGE_PCT: ParamSpec(0.03, 0.0, 1.0, "trip when a fill's impact exceeds this"),
    P.MAX_CORRELATION: ParamSpec(0.7, -1.0, 1.0, "no entry correlated above this with a holding"),
    P.CORR_WINDOW_MIN: ParamSpec(
        30, 3, 60, "minutes of 1-minute returns the guard compares", "int"
    ),
    P.CORR_MIN_RETURNS: ParamSpec(10, 2, 60, "fewer shared returns than this: no verdict", "int"),
    # Scanner (seed "Multi-Source Discovery")
    P.SCAN_INTERVAL_S: ParamSpec(60, 1, 86400, "how often the scanner ranks mints"),
    P.MAX_CANDIDATES: ParamSpec(5, 0, 16, "top candidates per scan (0: scanner off)", "int"),
    P.SCANNER_COOLDOWN_S: ParamSpec(1800, 0, 86400 * 7, "a surfaced mint rests this long"),
    P.FRESH_AGE_MIN: ParamSpec(60, 0, 1e6, "fresh listing: first seen within this"),
    P.FRESH_MIN_VOLUME: ParamSpec(1.0, 0.0, 1e12, "fresh listing: 1h volume above this"),
    P.SPIKE_RATIO: ParamSpec(5.0, 1e-6, 1e6, "spike: 5m volume pace vs the mint's average"),
    P.TRENDING_VOLMCAP: ParamSpec(0.5, 1e-9, 1e6, "trending: 1h volume / market cap above this"),
    P.SRC_W_FRESH: ParamSpec(1.0, 0.0, 100.0, "scanner weight: fresh listing"),
    P.SRC_W_SPIKE: ParamSpec(1.0, 0.0, 100.0, "scanner weight: volume spike"),
    P.SRC_W_BREAKOUT: ParamSpec(1.0, 0.0, 100.0, "scanner weight: breakout"),
    P.SRC_W_TRENDING: ParamSpec(1.0, 0.0, 100.0, "scanner weight: trending"),
    # Adaptive timing (seed "Adaptive Timing"): the next scan comes after
    # scan_fast_s when the market's hourly change is above scan_hot_change, else after
    # scan_slow_s when its daily change is below scan_quiet_change, else after
    # scan_interval_s; never later than scan_busy_s with more than scan_busy_positions
    # open. The market's change: the mean absolute change of the mints traded in the
    # last hour (ret_1h; price over the mint's first price of the UTC day).
    P.ADAPTIVE_SCAN: ParamSpec(
        0.0, 0.0, 1.0, "1: the scan interval follows the seed's adaptive rule", "flag"
    ),
    P.SCAN_FAST_S: ParamSpec(30, 1, 86400, "adaptive: interval in a hot market, s"),
    P.SCAN_SLOW_S: ParamSpec(120, 1, 86400, "adaptive: interval in a quiet market, s"),
    P.SCAN_BUSY_S: ParamSpec(45, 1, 86400, "adaptive: longest interval when busy, s"),
    P.SCAN_HOT_CHANGE: ParamSpec(0.5, 0.0, 1e6, "adaptive: hot above this hourly change"),
    P.SCAN_QUIET_CHANGE: ParamSpec(0.1, 0.0, 1e6, "adaptive: quiet below this daily change"),
    P.SCAN_BUSY_POSITIONS: ParamSpec(
        5, 0, 16, "adaptive: busy with more open positions than this", "int"
    ),
    # Thresholds in USD (the seed's, which assumed SOL at $200): where a SOL/USD
    # reference price is known and the value is above 0, it replaces the SOL one.
    P.MIN_LIQUIDITY_USD: ParamSpec(0.0, 0.0, 1e15, "buy only when liquidity > this, USD (0: off)"),
    P.MCAP_LOW_USD: ParamSpec(0.0, 0.0, 1e18, "market cap at or below this scores 1.0, USD"),
    P.MCAP_HIGH_USD: ParamSpec(0.0, 0.0, 1e18, "market cap at or above this scores 0.0, USD"),
}
N_PARAMS = len(P)


def param_names() -> list[str]:
    """Lower-case names accepted by `make_params` and `--set name=value`."""
    return [p.name.lower() for p in P]


def unknown_param(name: str) -> ValueError:
    """The error for a misspelt parameter name, suggesting the closest known ones."""
    close = difflib.get_close_matches(name.lower(), param_names(), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "see `clanka replay --help`"
    return ValueError(f"unknown parameter {name!r}; {hint}")


def check_name(name: str) -> str:
    """`name` if it is a parameter's name, else the error with the closest names."""
    if name.upper() not in P.__members__:
        raise unknown_param(name)
    return name


def check_value(name: str, value: float) -> float:
    """Validate one parameter value by name: known, finite, in range, of its kind."""
    p = P[check_name(name).upper()]
    v = float(value)
    spec = SPECS[p]
    if not math.isfinite(v):
        raise ValueError(f"{name}={v} is not a finite number")
    if not (spec.lo <= v <= spec.hi):
        raise ValueError(f"{name}={v:g} is outside [{spec.lo:g}, {spec.hi:g}] ({spec.doc})")
    if spec.kind == "int" and not v.is_integer():
        raise ValueError(f"{name}={v:g} must be a whole number ({spec.doc})")
    if spec.kind == "flag" and v not in (0.0, 1.0):
        raise ValueError(f"{name}={v:g} must be 0 or 1 ({spec.doc})")
    return v


def make_params(overrides: Mapping[str, float] | None = None) -> np.ndarray:
    """Build a validated parameter vector from defaults plus `overrides` (by name)."""
    vec = np.array([SPECS[p].default for p in P], dtype=np.float64)
    for name, value in (overrides or {}).items():
        v = check_value(name, value)  # raises for unknown names before indexing
        vec[P[name.upper()]] = v
    if vec[P.TP1_FRAC] + vec[P.TP2_FRAC] > 1.0:
        raise ValueError("tp1_frac + tp2_frac must not exceed 1 (target 3 sells the rest)")
    if not vec[P.TP1] < vec[P.TP2] < vec[P.TP3]:
        raise ValueError("take-profit targets must increase: tp1 < tp2 < tp3")
    if vec[P.HOLD_CONFIDENCE] > vec[P.MIN_BUY_CONFIDENCE]:
        raise ValueError("hold_confidence must not exceed min_buy_confidence")
    if vec[P.MCAP_LOW_SOL] >= vec[P.MCAP_HIGH_SOL]:
        raise ValueError("mcap_low_sol must be below mcap_high_sol")
    if vec[P.MCAP_HIGH_USD] > 0 and vec[P.MCAP_LOW_USD] >= vec[P.MCAP_HIGH_USD]:
        raise ValueError("mcap_low_usd must be below mcap_high_usd")
    return vec
