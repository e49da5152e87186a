"""How a strategy learns: when reviews and reflections run, and what each rule may change.

A strategy file's `[learning]` table sets these; `--learning off|observe|on` on the
command line chooses the mode (off unless asked). Every threshold a pattern rule or an
adaptation uses is here, so a reader finds the whole definition in one place and a
sweep can vary it.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.params import NS_PER_S, SPECS, P

LearningMode = Literal["off", "observe", "on"]
MODES: tuple[LearningMode, ...] = ("off", "observe", "on")


class PatternThresholds(BaseModel):
    """The numbers in the pattern rules (strategies.learning.patterns documents each rule)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    high_momentum: float = 0.10
    """ret_5m at entry counting as high momentum (the default momentum_scale)."""
    success_return: float = 0.10
    """A trade 'succeeded' for the *_success rules when its return exceeds this (a win)."""
    party_sentiment: float = 0.5
    """Sentiment at entry (-1..1) counting as a party."""
    volume_spike_ratio: float = 3.0
    """vol_5m x 12 over vol_1h at entry: the last 5 minutes traded this many times the
    hour's average pace."""
    premature_recovery: float = 0.0
    """A stop was premature when the price after the exit came back above entry x (1 + this)."""
    time_stop_margin: float = 0.05
    """A time stop was effective when the price after it never rose above exit x (1 + this)."""
    panic_recovery: float = 0.0
    """A soft-signal exit at a loss was a panic when the price came back to entry x (1 + this)."""
    low_liquidity_sol: float = 50.0
    """Liquidity at entry (SOL of pool quote reserve) counting as low."""
    loss_return: float = -0.05
    """A trade with a return at or below this is a loss (the breakeven band's floor)."""
    breakout_range: float = 0.9
    """Range position at entry (0 support .. 1 resistance) counting as a breakout."""
    continuation_gain: float = 0.20
    """A breakout continued when the best price after entry was this far above entry."""
    support_range: float = 0.2
    """Range position at entry counting as at support."""


class RuleLimits(BaseModel):
    """One adaptation rule: the pattern it counts, the parameter it moves, step and bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    param: str
    step: float
    lo: float
    hi: float
    more_than: int = Field(ge=0)
    """The rule fires when its pattern was seen more than this many times."""


def _default_rules() -> dict[str, RuleLimits]:
    return {
        # Seed adaptStrategy: "premature_stop_loss > 5: widen the stop by 1 point".
        "widen_stop": RuleLimits(
            pattern="premature_stop_loss",
            param="stop_loss",
            step=0.01,
            lo=0.02,
            hi=0.25,
            more_than=5,
        ),
        # "party_sentiment_profitable > 10: raise the meme sentiment weight by 5 points".
        "raise_meme_sentiment_weight": RuleLimits(
            pattern="party_sentiment_profitable",
            param="w_social_meme",
            step=0.05,
            lo=0.0,
            hi=0.6,
            more_than=10,
        ),
        # "low_liquidity_loss > 3: raise the minimum liquidity".
        "raise_min_liquidity": RuleLimits(
            pattern="low_liquidity_loss",
            param="min_liquidity",
            step=10.0,
            lo=0.0,
            hi=500.0,
            more_than=3,
        ),
    }


class LearningSettings(BaseModel):
    """The learning loop's schedule, thresholds and adaptation limits (times in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: LearningMode = "off"
    review_horizon_s: int = Field(default=900, ge=0, le=7 * 86_400)
    """A trade is reviewed this long after its exit: 'optimal' needs the prices after it."""
    reflection_interval_s: int = Field(default=3600, ge=1, le=7 * 86_400)
    """Deep reflection every this many seconds of event time, at multiples since the epoch."""
    adaptation_delay_s: int = Field(default=1, ge=1, le=3_600)
    """A change decided at t takes effect at t + this (strictly after the rows of t)."""
    adaptation_min_sample: int = Field(default=10, ge=1, le=100_000)
    """Reviewed trades since a rule's last change before it may change anything again."""
    adaptation_window: int = Field(default=20, ge=1, le=100_000)
    """A rule counts its pattern over at most this many latest reviews (since its last
    change): "more than 5" then means more than 5 of the last 20 trades, a rate, so a
    rare pattern never adds up to a change just because the run is long."""
    cooldown_s: int = Field(default=3600, ge=0, le=30 * 86_400)
    """A parameter changed at t is not changed again by a rule before t + this."""
    rug_price_drop: float = Field(default=0.8, gt=0, lt=1)
    """Rug: within the horizon the price fell more than this below its high since entry."""
    rug_liquidity_drop: float = Field(default=0.5, gt=0, lt=1)
    """Rug: within the horizon the pool's liquidity fell more than this below entry's."""
    patterns: PatternThresholds = Field(default_factory=PatternThresholds)
    rules: dict[str, RuleLimits] = Field(default_factory=_default_rules)
    source_weights: bool = True
    """Scanner source weights follow their sources' success (false: the strategy's weights
    stay as set and only the pattern rules adapt)."""
    source_weight_step: float = Field(default=0.1, gt=0, le=10)
    """Scanner source weights move this much per reflection toward their success."""
    source_weight_bounds: tuple[float, float] = (0.2, 3.0)
    source_min_trades: int = Field(default=10, ge=1)
    """Trades a scanner source needs before its weight follows its success."""
    effect_window: int = Field(default=10, ge=2, le=10_000)
    """Trades after (and before) an adaptation over which its effect is measured."""
    effect_confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """An adaptation is reverted when the interval of (after - before) lies below 0."""
    bootstrap_draws: int = Field(default=2000, ge=100, le=100_000)
    seed: int = Field(default=7, ge=0, le=2**31 - 1)
    """Seeds the effect interval's bootstrap: the same log gives the same verdict."""
    compare_window_s: int = Field(default=7200, ge=1, le=30 * 86_400)
    """A reflection compares the reviews of the last compare_window_s..."""
    compare_baseline_max: int = Field(default=200, ge=2, le=100_000)
    """...against at most this many reviews just before that window (the recent past)."""
    permutation_draws: int = Field(default=1000, ge=100, le=100_000)
    """Shuffles behind a change's p-value (1000: p resolves to 0.001)."""
    change_min_trades: int = Field(default=8, ge=2)
    """A reflection compares windows only when each holds at least this many reviews."""
    change_alpha: float = Field(default=0.05, gt=0, lt=0.5)
    """A change between windows is reported as significant below this p-value."""
    lesson_min_trades: int = Field(default=5, ge=1)
    """A pattern, bucket or mint becomes a lesson once it has this many trades..."""
    lesson_worked: float = Field(default=0.6, gt=0, le=1)
    """...and a success rate of at least this (what worked)..."""
    lesson_failed: float = Field(default=0.3, ge=0, lt=1)
    """...or at most this (what failed)."""

    @model_validator(mode="after")
    def _known_params(self) -> Self:
        from strategies.learning.patterns import PATTERNS

        if self.adaptation_window < self.adaptation_min_sample:
            raise ValueError(f"adaptation_window ({self.adaptation_window}) must be at least "
                             f"adaptation_min_sample ({self.adaptation_min_sample})")  # fmt: skip
        for name, rule in self.rules.items():
            if rule.pattern not in PATTERNS:
                raise ValueError(f"learning rule {name}: unknown pattern {rule.pattern!r}; "
                                 f"known: {', '.join(PATTERNS)}")  # fmt: skip
            key = rule.param.upper()
            if key not in P.__members__ or key == "INITIAL_CASH_SOL":
                raise ValueError(f"learning rule {name}: {rule.param!r} is not a tunable parameter")
            spec = SPECS[P[key]]
            if not (spec.lo <= rule.lo <= rule.hi <= spec.hi):
                raise ValueError(f"learning rule {name}: bounds [{rule.lo}, {rule.hi}] must lie "
                                 f"within {rule.param}'s [{spec.lo:g}, {spec.hi:g}]")  # fmt: skip
        lo, hi = self.source_weight_bounds
        if not 0 <= lo <= hi <= SPECS[P.SRC_W_FRESH].hi:
            raise ValueError(f"source_weight_bounds {self.source_weight_bounds} are not ordered "
                             "within [0, 100]")  # fmt: skip
        return self

    @property
    def horizon_ns(self) -> int:
        """review_horizon_s in nanoseconds."""
        return self.review_horizon_s * NS_PER_S

    @property
    def reflection_ns(self) -> int:
        """reflection_interval_s in nanoseconds."""
        return self.reflection_interval_s * NS_PER_S
