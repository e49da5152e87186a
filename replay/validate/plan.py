"""The pre-registered validation plan: everything the verdict depends on, fixed in a file first.

`clanka validate plan OUT.toml ...` writes it and refuses to overwrite one; `clanka
validate learning OUT.toml` runs exactly what it says and records the file's text and
SHA-256 with the result. Changing the metric, the test, alpha or the folds after seeing
a result means writing (and reporting) a new plan: `configurations_tried` counts them,
and the deflated Sharpe ratio charges for each.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, field_validator


class ValidationPlan(BaseModel):
    """What is compared, on which days, by which test."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str = Field(min_length=1, max_length=512)
    """A built-in strategy's name, or a strategy TOML file."""
    set: dict[str, float] = Field(default_factory=dict)
    """Parameter overrides, as --set gives them."""
    learning: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the strategy's [learning] table (its mode is always 'on' here)."""
    start: str | None = None
    """First UTC day to use (ISO 8601); default: the store's first day with ticks."""
    end: str | None = None
    """End, exclusive (ISO 8601); default: after the store's last tick."""
    train_days: int = Field(ge=1, le=365)
    """Days the learner learns on before the first test day."""
    test_days: int | None = Field(default=None, ge=1, le=365)
    """Test days after them (default: every remaining day with ticks)."""
    baseline: Literal["frozen_each_day", "frozen_at_test_start", "never_learns"] = "frozen_each_day"
    """frozen_each_day: the learner frozen at each test day's start (what learning during
    the day adds); frozen_at_test_start: the learner frozen when the test days begin,
    knowing what the training days taught (what learning on the test days adds);
    never_learns: the strategy with learning off throughout (what all of its learning,
    training days included, adds)."""
    metric: Literal["daily_return"] = "daily_return"
    """Per test day: equity at its end over equity at its start, minus 1."""
    test: Literal["sign_flip", "bootstrap"] = "sign_flip"
    """One-sided test that the paired daily difference (learner - frozen) is > 0:
    sign_flip (exact over all 2^n sign patterns up to 16 days, else `draws` random ones)
    or bootstrap (of the mean, shifted to the null)."""
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """The effect's interval (percentile bootstrap of the mean difference)."""
    draws: int = Field(default=10_000, ge=1_000, le=1_000_000)
    seed: int = Field(default=7, ge=0, le=2**31 - 1)
    configurations_tried: int = Field(default=1, ge=1, le=1_000_000)
    """Plans (strategies, settings, metrics) tried so far on this question, this one
    included: the deflated Sharpe ratio's number of trials."""
    strategist: Literal["off", "recorded"] = "off"
    """The strategist in both arms alike (recorded: answers from the store)."""
    note: str = Field(default="", max_length=2_000)

    @field_validator("set")
    @classmethod
    def _params(cls, v: dict[str, float]) -> dict[str, float]:
        from engine.params import make_params

        make_params(v)
        return v


def write_plan(plan: ValidationPlan, path: Path) -> str:
    """Write the plan as TOML (never over an existing file); return its SHA-256."""
    doc = plan.model_dump(mode="json", exclude_none=True)
    text = tomli_w.dumps(doc)
    try:
        with path.open("x") as f:
            f.write(text)
    except FileExistsError:
        why = "a pre-registered plan is never overwritten; write a new one (and count it)"
        raise ValueError(f"{path} exists: {why}") from None
    return hashlib.sha256(text.encode()).hexdigest()


def read_plan(path: Path) -> tuple[ValidationPlan, str, str]:
    """The plan in a file, its text and its SHA-256."""
    try:
        text = path.read_text()
        doc = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the plan ({exc})") from None
    return ValidationPlan.model_validate(doc), text, hashlib.sha256(text.encode()).hexdigest()
