"""How a strategy uses the strategist: when it runs, which model, what it may change.

A strategy file's `[strategist]` table sets these; `--strategist off|recorded|live`
on the command line chooses the mode (off unless asked), and `--llm-host` /
`--llm-model` point at another server or model without editing the file.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.params import P, check_value

StrategistMode = Literal["off", "recorded", "live"]
DEFAULT_FEATURES = ("ret_1m", "ret_5m", "ret_1h", "breakout", "vol_5m_ratio", "vol_spike",
                    "liquidity", "age_min", "trend", "volatility", "mcap", "range_pos")  # fmt: skip
"""What a pump.fun-style market has data for, kept short: every feature line costs
prompt tokens, and a 135M model on two cores reads about 300 tokens a second."""
MODES: tuple[StrategistMode, ...] = ("off", "recorded", "live")


class StrategistSettings(BaseModel):
    """The strategist's schedule, model and limits (all times in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: StrategistMode = "off"
    host: str = Field(default="http://127.0.0.1:11434", max_length=512)
    model: str = Field(default="smollm2:135m", min_length=1, max_length=128)
    interval_s: int = Field(default=900, ge=10, le=86_400)
    """Due every interval_s of event time, at multiples of it since the epoch (UTC)."""
    delay_s: int = Field(default=30, ge=0, le=3_600)
    """Decision delay: an answer to the prompt of time t takes effect at t + delay_s."""
    timeout_s: float = Field(default=20.0, gt=0, le=600)
    attempts: int = Field(default=3, ge=1, le=10)
    """Tries per call; only transient failures (refused, timeout, 5xx) are retried."""
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    num_predict: int = Field(default=200, ge=16, le=4_096)
    seed: int = Field(default=42, ge=0, le=2**31 - 1)
    max_candidates: int = Field(default=3, ge=0, le=16)
    max_decisions: int = Field(default=5, ge=0, le=50)
    max_trades: int = Field(default=5, ge=0, le=50)
    max_conditions: int = Field(default=4, ge=1, le=8)
    """Conditions an answer may hold (the schema's bound; small models ramble past it)."""
    features: tuple[str, ...] = DEFAULT_FEATURES
    """Features the prompt describes and the answer schema offers."""
    tunable: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Parameters the model may set, each with the [low, high] it must stay within."""

    @field_validator("tunable")
    @classmethod
    def _bounds(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        out = {}
        for name, (lo, hi) in v.items():
            key = name.strip().lower()
            if key.upper() not in P.__members__ or key == "initial_cash_sol":
                raise ValueError(f"tunable {name!r} is not a parameter that can change mid-run")
            check_value(key, lo)
            check_value(key, hi)
            if not lo <= hi:
                raise ValueError(f"tunable {name}: low {lo} exceeds high {hi}")
            out[key] = (float(lo), float(hi))
        if len(out) > 8:
            raise ValueError("at most 8 tunable parameters")
        return out

    @field_validator("host")
    @classmethod
    def _url(cls, v: str) -> str:
        if v.strip() == "embedded":
            raise ValueError("'embedded' is a command-line choice (--llm-host embedded); "
                             "a strategy file gives the server's URL")  # fmt: skip
        return v.strip()

    @field_validator("features")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from engine.conditions import Feature

        out = tuple(dict.fromkeys(f.strip().lower() for f in v))
        bad = [f for f in out if f.upper() not in Feature.__members__]
        if bad or not out:
            raise ValueError(f"features: unknown {', '.join(bad) or '(none given)'}")
        return out

    @model_validator(mode="after")
    def _one_pending(self) -> Self:
        if self.delay_s >= self.interval_s:
            raise ValueError(
                f"delay_s ({self.delay_s}) must be shorter than interval_s ({self.interval_s}): "
                "an answer takes effect before the next prompt"
            )
        return self

    @property
    def interval_ns(self) -> int:
        """interval_s in nanoseconds."""
        return self.interval_s * 1_000_000_000

    @property
    def delay_ns(self) -> int:
        """delay_s in nanoseconds."""
        return self.delay_s * 1_000_000_000
