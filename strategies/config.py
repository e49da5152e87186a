"""Strategy configs: a named condition set plus parameters, loaded from TOML.

A strategy file looks like `strategies/builtin/momentum_breakout.toml`:

    name = "momentum_breakout"
    description = "..."
    entry = "breakout > 0 AND ret_5m >= 0.05"

    [params]
    min_position_sol = 0.5
    stop_loss = 0.08

    [strategist]            # optional: the LLM strategist (strategies.strategist)
    interval_s = 900
    tunable = { stop_loss = [0.04, 0.12] }

    [learning]              # optional: the learning loop (strategies.learning)
    review_horizon_s = 900
    adaptation_min_sample = 10

Unknown keys, unknown parameters and out-of-range values are refused with a message
that names them; `--set name=value` overrides are validated the same way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.conditions import ConditionSet
from engine.params import check_name, check_value, make_params
from strategies.learning.settings import LearningSettings
from strategies.strategist.settings import StrategistSettings

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


class StrategyConfig(BaseModel):
    """A strategy: an entry condition set and parameter overrides over the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    description: str = ""
    entry: str
    params: dict[str, float] = Field(default_factory=dict)
    strategist: StrategistSettings = Field(default_factory=StrategistSettings)
    """The LLM strategist's schedule, model and limits (`[strategist]`; off unless asked)."""
    learning: LearningSettings = Field(default_factory=LearningSettings)
    """The learning loop's schedule, pattern thresholds and adaptation rules (`[learning]`;
    off unless asked)."""

    @field_validator("entry")
    @classmethod
    def _parses(cls, v: str) -> str:
        ConditionSet.parse(v)
        return v

    @field_validator("params")
    @classmethod
    def _valid(cls, v: dict[str, float]) -> dict[str, float]:
        make_params(v)
        return v

    @property
    def conditions(self) -> ConditionSet:
        """The compiled-ready entry condition set."""
        return ConditionSet.parse(self.entry)

    def vector(self, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """The parameter vector: defaults, then this strategy's params, then overrides."""
        return make_params({**self.params, **(overrides or {})})


def builtin_names() -> list[str]:
    """Names of the strategies shipped in strategies/builtin/."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_strategy(name_or_path: str | Path) -> StrategyConfig:
    """Load a built-in strategy by name, or any strategy TOML file by path."""
    p = Path(name_or_path)
    if not p.suffix:
        p = BUILTIN_DIR / f"{name_or_path}.toml"
        if not p.is_file():
            raise ValueError(
                f"unknown strategy {name_or_path!r}; built-in: {', '.join(builtin_names())} "
                "(or pass --config FILE.toml)"
            )
    try:
        doc = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{p}: cannot read strategy TOML ({exc})") from exc
    return StrategyConfig.model_validate(doc)


def parse_overrides(items: list[str], flag: str = "--set") -> dict[str, float]:
    """Parse `--set name=value` items (or `flag`'s) into parameter overrides."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{flag} expects name=value, got {item!r}")
        name = check_name(name.strip().lower())
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{flag} {name}: {value!r} is not a number") from None
        out[name] = check_value(name, number)
    return out
