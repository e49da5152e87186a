"""The verdict of a validation, and the `validations` event it is logged as.

Learning is called helpful only when the pre-registered test passes: the one-sided
p-value is below alpha *and* the deflated Sharpe ratio of the daily differences is at
least 1 - alpha (with one configuration tried it is the probabilistic Sharpe ratio).
Anything else is stated plainly: "no evidence that learning helps", and "learning
made it worse" when the mirror test (the frozen arm ahead) passes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import numpy as np

from data.store import EventStore
from engine.params import NS_PER_S
from replay.validate.arms import Arms
from replay.validate.plan import ValidationPlan
from replay.validate.stats import Effect, paired_effect


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / NS_PER_S, dt.UTC).date().isoformat()


def verdict_of(plan: ValidationPlan, effect: Effect, worse_p: float) -> str:
    """The report's one-line verdict (see the module docstring)."""
    if effect.n and effect.p_value < plan.alpha and effect.deflated_sharpe >= 1 - plan.alpha:
        return "learning helps"
    if effect.n and worse_p < plan.alpha:
        return "learning made it worse"
    return "no evidence that learning helps"


def limits_of(plan: ValidationPlan, effect: Effect, arms: Arms) -> list[str]:
    """What this run can and cannot show, in words."""
    out = [f"{effect.n} test day(s) after {len(arms.train)} training day(s); each day is one "
           "paired observation, so the test's power is set by the number of days"]  # fmt: skip
    if effect.min_p >= plan.alpha:
        out.append(f"with {effect.n} test day(s) the {plan.test} test cannot reach alpha "
                   f"{plan.alpha:g}: its smallest p-value is {effect.min_p:.3g}")  # fmt: skip
    if effect.n < 3:
        out.append("fewer than 3 test days: no deflated Sharpe ratio (it needs a spread, "
                   "skewness and kurtosis)")  # fmt: skip
    changes = sum(d.changes for d in arms.days)
    if changes == 0:
        out.append("the learner changed no parameter on any test day: both arms traded alike, "
                   "so there was nothing for learning to win or lose")  # fmt: skip
    if plan.baseline == "frozen_at_test_start":
        out.append("baseline frozen_at_test_start: a day's difference also carries the "
                   "learner's changes on the test days before it, so the days are paired "
                   "but not independent observations")  # fmt: skip
    if plan.baseline == "never_learns":
        out.append("baseline never_learns: the arms part at the learner's first change, so a "
                   "day's difference also carries the days before it")  # fmt: skip
    out.append(f"strategist: {plan.strategist} in both arms")
    return out


def build_result(plan: ValidationPlan, plan_text: str, plan_sha: str, arms: Arms) -> dict[str, Any]:
    """The whole result document (what --json prints and the `validations` row holds)."""
    d = np.array([x.difference for x in arms.days])
    effect = paired_effect(d, test=plan.test, confidence=plan.confidence, draws=plan.draws,
                           seed=plan.seed, trials=plan.configurations_tried)  # fmt: skip
    worse = paired_effect(-d, test=plan.test, confidence=plan.confidence, draws=plan.draws,
                          seed=plan.seed, trials=plan.configurations_tried)  # fmt: skip
    verdict = verdict_of(plan, effect, worse.p_value)
    return {
        "verdict": verdict,
        "plan": plan.model_dump(mode="json"), "plan_toml": plan_text, "plan_sha256": plan_sha,
        "learner_run_id": arms.learner.run_id,
        "train_days": [_day(t) for t in arms.train],
        "days": [{"day": _day(x.start_ns), "equity_start_sol": x.equity_start,
                  "learner_return": x.learner_return, "frozen_return": x.frozen_return,
                  "difference": x.difference, "learner_trades": x.learner_trades,
                  "frozen_trades": x.frozen_trades, "changes": x.changes} for x in arms.days],
        "effect": {"n": effect.n, "mean_difference": effect.mean, "ci_low": effect.ci_low,
                   "ci_high": effect.ci_high, "confidence": plan.confidence,
                   "p_value": effect.p_value, "test": plan.test, "alpha": plan.alpha,
                   "sharpe_of_difference": effect.sharpe,
                   "deflated_sharpe": effect.deflated_sharpe,
                   "configurations_tried": plan.configurations_tried,
                   "min_possible_p": effect.min_p, "p_value_worse": worse.p_value},
        "limits": limits_of(plan, effect, arms),
        "adaptations": [{"time": a["ts_ns"], "action": a["action"], "status": a["status"],
                         "param": a["param"], "old": a["old_value"], "new": a["new_value"],
                         "reason": a["reason"]} for a in arms.adaptations()],
    }  # fmt: skip


def log_result(store: EventStore, doc: dict[str, Any]) -> None:
    """Append the result as one `validations` event."""
    e = doc["effect"]
    store.append("validations", {
        "ts_ns": [time.time_ns()], "kind": ["learning"], "plan_sha256": [doc["plan_sha256"]],
        "plan_toml": [doc["plan_toml"]], "learner_run_id": [doc["learner_run_id"]],
        "verdict": [doc["verdict"]], "test_days": [e["n"]],
        "mean_difference": [e["mean_difference"]], "ci_low": [e["ci_low"]],
        "ci_high": [e["ci_high"]], "p_value": [e["p_value"]],
        "deflated_sharpe": [e["deflated_sharpe"]],
        "result_json": [json.dumps(doc, default=str)],
    })  # fmt: skip
