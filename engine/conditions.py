"""Sniper entry rules as data: up to 8 `(feature, op, threshold)` conditions joined by AND.

Rules arrive as text or TOML from users (and later from the LLM strategist), are
validated here with pydantic, and compile to three small arrays the kernel evaluates in
nanoseconds. Example: `ret_5m >= 0.12 AND vol_5m_ratio >= 5 AND liquidity >= 40`.
"""

from __future__ import annotations

import math
import re
from enum import IntEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.layout import MAX_CONDITIONS


class Feature(IntEnum):
    """Per-mint features a condition can test (see engine.layout for how each is kept)."""

    PRICE = 0
    RET_1M = 1
    RET_5M = 2
    RET_1H = 3
    VOLATILITY = 4
    BREAKOUT = 5
    VOL_5M = 6
    VOL_1H = 7
    VOL_5M_RATIO = 8
    TICKS = 9
    LIQUIDITY = 10
    AGE_MIN = 11
    TREND = 12
    RANGE_POS = 13
    VOL_SPIKE = 14
    MCAP = 15
    UNIQUE_BUYERS = 17
    TOP3_PCT = 18
    WHALE_FLAG = 19
    BOT_LIKE = 20
    BUY_PRESSURE = 21
    SELL_PRESSURE = 22
    SENTIMENT = 23
    ENGAGEMENT = 24
    NARRATIVE_HEAT = 25
    COMMUNITY_SIZE = 26
    RISK_SCORE = 27
    TOKEN_TYPE = 28


FEATURE_DOCS = {
    Feature.PRICE: "last trade price (quote per token)",
    Feature.RET_1M: "price / close of the minute 1 minute ago - 1",
    Feature.RET_5M: "price / close of the minute 5 minutes ago - 1",
    Feature.RET_1H: "price / close of the minute 60 minutes ago - 1",
    Feature.VOLATILITY: "EWMA std-dev of 1-minute log returns",
    Feature.BREAKOUT: "price / highest high of the last N completed 1-minute bars - 1",
    Feature.VOL_5M: "traded quote volume in the current and previous 4 minutes",
    Feature.VOL_1H: "traded quote volume in the current and previous 59 minutes",
    Feature.VOL_5M_RATIO: "vol_5m / (vol_1h / 12): 5-minute volume vs the hour's average",
    Feature.TICKS: "ticks seen for the mint",
    Feature.LIQUIDITY: "latest pool quote reserve (NaN if unknown)",
    Feature.AGE_MIN: "minutes since the mint's first tick",
    Feature.TREND: "fast EMA / slow EMA of 1-minute closes - 1 (ema_fast_min, ema_slow_min)",
    Feature.RANGE_POS: "(price - support) / (resistance - support) over the last N bars",
    Feature.VOL_SPIKE: "5-minute volume pace / the mint's average volume per minute",
    Feature.MCAP: "market cap in SOL: the market_cap signal, else price x assumed supply",
    Feature.UNIQUE_BUYERS: "latest unique_buyers signal",
    Feature.TOP3_PCT: "latest top3_pct signal",
    Feature.WHALE_FLAG: "latest whale_flag signal",
    Feature.BOT_LIKE: "latest bot_like signal",
    Feature.BUY_PRESSURE: "latest buy_pressure signal",
    Feature.SELL_PRESSURE: "latest sell_pressure signal",
    Feature.SENTIMENT: "latest sentiment signal (-1..1)",
    Feature.ENGAGEMENT: "latest engagement signal (0..1)",
    Feature.NARRATIVE_HEAT: "latest narrative_heat signal (0..1)",
    Feature.COMMUNITY_SIZE: "latest community_size signal",
    Feature.RISK_SCORE: "latest risk_score signal (0..10)",
    Feature.TOKEN_TYPE: "latest token_type signal (1 meme, 0 other)",
}
SIGNAL_FEATURE_BASE = 16
"""Feature id of signal kind k is SIGNAL_FEATURE_BASE + k (engine.codes.SignalKind)."""
N_FEATURES = 32


class Op(IntEnum):
    """Comparison of a feature with a threshold."""

    GT = 0
    GE = 1
    LT = 2
    LE = 3


_OPS = {">": Op.GT, ">=": Op.GE, "<": Op.LT, "<=": Op.LE}
OpText = Literal[">", ">=", "<", "<="]
_COND_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+|inf)\s*$")


class Condition(BaseModel):
    """One test, e.g. `ret_5m >= 0.12`. A NaN feature never satisfies a condition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature: str
    op: OpText
    threshold: float

    @field_validator("feature")
    @classmethod
    def _known(cls, v: str) -> str:
        if v.upper() not in Feature.__members__:
            known = ", ".join(f.name.lower() for f in Feature)
            raise ValueError(f"unknown feature {v!r}; known: {known}")
        return v.lower()

    @field_validator("threshold")
    @classmethod
    def _finite(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("threshold must not be NaN")
        return v

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse `feature op threshold`."""
        m = _COND_RE.match(text.lower())
        if not m:
            raise ValueError(f"cannot parse condition {text!r}; expected e.g. 'ret_5m >= 0.12'")
        return cls(feature=m.group(1), op=m.group(2), threshold=float(m.group(3)))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.feature} {self.op} {self.threshold:g}"


class ConditionSet(BaseModel):
    """Up to 8 conditions joined by AND: the sniper's entry trigger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)

    @classmethod
    def parse(cls, text: str) -> ConditionSet:
        """Parse `cond AND cond AND ...` (case-insensitive AND)."""
        parts = [p for p in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if p]
        return cls(conditions=[Condition.parse(p) for p in parts])

    def compile(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays for the kernel: feature ids, op codes, thresholds (length = count)."""
        feat = np.array([Feature[c.feature.upper()] for c in self.conditions], dtype=np.int64)
        ops = np.array([_OPS[c.op] for c in self.conditions], dtype=np.int64)
        thr = np.array([c.threshold for c in self.conditions], dtype=np.float64)
        return feat, ops, thr

    def __str__(self) -> str:
        return " AND ".join(str(c) for c in self.conditions)
