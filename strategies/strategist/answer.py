"""What the model may answer: a condition set, a few tunable parameters and a note.

Two views of one answer. `answer_schema` is the JSON schema the model is held to
(Ollama's `format`): enums for features, operators and parameter names, bounded
lengths for every string and list, no extra keys. `Proposal` parses what came back
leniently (a feature is any short string) so that what is wrong with an answer can be
named precisely by `strategies.strategist.verdict` instead of failing as "invalid".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.conditions import Feature
from engine.layout import MAX_CONDITIONS

NOTE_MAX = 80
"""Characters of the model's note kept (the schema's bound)."""
MAX_PARAMS = 4

FEATURE_RANGES: dict[str, tuple[float, float]] = {
    "price": (0.0, 1e9), "ret_1m": (-1.0, 100.0), "ret_5m": (-1.0, 100.0),
    "ret_1h": (-1.0, 1000.0), "volatility": (0.0, 10.0), "breakout": (-1.0, 100.0),
    "vol_5m": (0.0, 1e9), "vol_1h": (0.0, 1e10), "vol_5m_ratio": (0.0, 1000.0),
    "ticks": (0.0, 1e9), "liquidity": (0.0, 1e7), "age_min": (0.0, 1e6),
    "trend": (-1.0, 100.0), "range_pos": (-1.0, 2.0), "vol_spike": (0.0, 1000.0),
    "mcap": (0.0, 1e12), "unique_buyers": (0.0, 1e7), "top3_pct": (0.0, 100.0),
    "whale_flag": (0.0, 1.0), "bot_like": (0.0, 1.0), "buy_pressure": (0.0, 1e9),
    "sell_pressure": (0.0, 1e9), "sentiment": (-1.0, 1.0), "engagement": (0.0, 1.0),
    "narrative_heat": (0.0, 1.0), "community_size": (0.0, 1e9), "risk_score": (0.0, 10.0),
    "token_type": (0.0, 1.0),
}  # fmt: skip
"""The threshold range a proposed condition must lie in, per feature (inclusive)."""
assert set(FEATURE_RANGES) == {f.name.lower() for f in Feature}


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Finite = Annotated[float, AfterValidator(_finite)]
"""A number the model wrote: JSON admits NaN and Infinity spellings; an answer may not."""


class ProposedCondition(BaseModel):
    """One proposed test, as the model wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature: str = Field(max_length=40)
    op: str = Field(max_length=4)
    threshold: Finite


class ProposedParam(BaseModel):
    """One proposed parameter value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=40)
    value: Finite


class Proposal(BaseModel):
    """A whole answer: conditions (1-8, joined by AND), parameters (0-4) and a note."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: list[ProposedCondition] = Field(min_length=1, max_length=MAX_CONDITIONS)
    params: list[ProposedParam] = Field(default_factory=list, max_length=MAX_PARAMS)
    note: str = Field(default="", max_length=NOTE_MAX)


def answer_schema(
    features: Sequence[str],
    tunable: Mapping[str, tuple[float, float]],
    max_conditions: int = MAX_CONDITIONS,
) -> dict[str, Any]:
    """The JSON schema the model must answer in.

    No free keys, every string bounded, each feature's threshold and each parameter's
    value within its range (a grammar-constrained model cannot leave them).
    """

    def variant(key: str, name: str, num: str, lo: float, hi: float) -> dict[str, Any]:
        props: dict[str, Any] = {key: {"type": "string", "const": name}}
        if key == "feature":
            props["op"] = {"type": "string", "enum": [">", ">=", "<", "<="]}
        props[num] = {"type": "number", "minimum": lo, "maximum": hi}
        return {"type": "object", "properties": props, "required": list(props),
                "additionalProperties": False}  # fmt: skip

    conditions = [variant("feature", f, "threshold", *FEATURE_RANGES[f]) for f in features]
    params = [variant("name", n, "value", lo, hi) for n, (lo, hi) in sorted(tunable.items())]
    props: dict[str, Any] = {
        "conditions": {"type": "array", "items": {"anyOf": conditions}, "minItems": 1,
                       "maxItems": max_conditions},
    }  # fmt: skip
    required = ["conditions"]
    if tunable:
        # At most one value per tunable: a small model otherwise repeats itself to the end.
        most = min(MAX_PARAMS, len(tunable))
        props["params"] = {"type": "array", "items": {"anyOf": params}, "maxItems": most}
        required.append("params")
    props["note"] = {"type": "string", "maxLength": NOTE_MAX}
    required.append("note")
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}  # fmt: skip
