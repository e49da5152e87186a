"""Adaptation (seed `adaptStrategy`): bounded parameter steps from pattern counts, followed up.

At each deep reflection (time t), for each rule of `LearningSettings.rules`:

- its window is the latest adaptation_window (20) reviews stamped after the rule's last
  change (the run's start before any): `reviews` of them, and `hits` of the rule's
  pattern among them;
- it fires when hits > more_than and reviews >= adaptation_min_sample and the parameter
  has not been changed (by any rule) within cooldown_s before t;
- the new value is the parameter's value at t plus the step, clipped to the rule's
  bounds; at a bound nothing is sent (the rule is 'at its bound' in `learn status`).

Scanner source weights (src_w_fresh, src_w_spike, src_w_breakout, src_w_trending)
follow the sources' success the same way: over the reviews since the weight last
changed, a source with source_min_trades trades whose success rate is 0.1 or more
above (below) the rate of all those trades gets +step (-step), within
source_weight_bounds (unless `source_weights` is false).

Every adaptation is an `adaptations` row stamped t, applied at t + adaptation_delay_s
(in observe mode: logged as 'observed', nothing changes). Follow-up: once
effect_window trades entered after the apply time are reviewed, the mean return of
those is compared with the effect_window reviews before t; a percentile bootstrap
interval (effect_confidence) of after - before entirely below 0 reverts the step (a
'revert' row, sent like any change), above 0 is 'better', else 'inconclusive'.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.events import ScanSource
from engine.params import NS_PER_S, P
from strategies.learning.records import Row, to_json
from strategies.learning.settings import LearningSettings, RuleLimits
from strategies.learning.stats import bootstrap_diff_ci
from strategies.strategist.prompt import iso_utc

SOURCE_PARAMS = {
    ScanSource.FRESH: "src_w_fresh",
    ScanSource.VOLUME_SPIKE: "src_w_spike",
    ScanSource.BREAKOUT: "src_w_breakout",
    ScanSource.TRENDING: "src_w_trending",
}
SOURCE_MARGIN = 0.1
"""How far a source's success rate must sit from all trades' to move its weight."""


@dataclass(frozen=True)
class Proposal:
    """A parameter change the adapter decided at t (the row is the event)."""

    row: Row
    param: str
    value: float


@dataclass(frozen=True)
class _RuleState:
    window: list[Row]
    hits: int
    value: float
    new: float
    """The value one step takes it to, within the rule's bounds."""
    waits: list[str]
    """What holds it back (empty: it fires)."""


@dataclass
class Adapter:
    """The rules' windows, the parameters' last changes and the follow-ups still open."""

    settings: LearningSettings
    rule_since: dict[str, int] = field(default_factory=dict)
    """rule -> time of its last change (absent: since the run's start)."""
    param_changed: dict[str, int] = field(default_factory=dict)
    """parameter -> time it was last changed by a rule or a revert."""
    open_follow_ups: list[Row] = field(default_factory=list)
    """'adapt' rows (mode on) whose effect is not judged yet."""

    def watching(
        self, t: int, reviews: Sequence[Row], hits: dict[int, list[str]], params: np.ndarray
    ) -> list[dict[str, object]]:
        """Every rule's window as of t: its counts, thresholds and what holds it back."""
        out: list[dict[str, object]] = []
        for name, rule in self.settings.rules.items():
            st = self._rule_state(t, name, rule, reviews, hits, params)
            out.append({"rule": name, "pattern": rule.pattern, "param": rule.param,
                        "value": st.value, "hits": st.hits, "reviews": len(st.window),
                        "waiting_for": st.waits})  # fmt: skip
        return out

    def _rule_state(self, t: int, name: str, rule: RuleLimits, reviews: Sequence[Row],
                    hits: dict[int, list[str]], params: np.ndarray) -> _RuleState:  # fmt: skip
        """A rule's window, its count, the step it would take and what holds it back."""
        s = self.settings
        window = self._recent(name, reviews)
        k = sum(rule.pattern in hits.get(r["review_no"], []) for r in window)
        old = float(params[P[rule.param.upper()]])
        new = float(np.clip(round(old + rule.step, 12), rule.lo, rule.hi))
        waits = []
        if k <= rule.more_than:
            waits.append(f"{rule.pattern} {k} of >{rule.more_than}")
        if len(window) < s.adaptation_min_sample:
            waits.append(f"reviews {len(window)} of {s.adaptation_min_sample}")
        if new == old:
            waits.append(f"at its bound {rule.hi:g}")
        if self._cooling(t, rule.param):
            until = self.param_changed[rule.param] + s.cooldown_s * NS_PER_S
            waits.append(f"cool-down until {iso_utc(until)}")
        return _RuleState(window, k, old, new, waits)

    def _cooling(self, t: int, param: str) -> bool:
        """Whether `param` changed less than cooldown_s before t."""
        last = self.param_changed.get(param)
        return last is not None and t < last + self.settings.cooldown_s * NS_PER_S

    def _recent(self, rule: str, reviews: Sequence[Row]) -> list[Row]:
        """The latest adaptation_window reviews stamped after the rule's last change."""
        since = self.rule_since.get(rule, -(2**63))
        out: list[Row] = []
        for r in reversed(reviews):
            if r["ts_ns"] <= since or len(out) == self.settings.adaptation_window:
                break
            out.append(r)
        return out[::-1]

    def adapt(
        self,
        t: int,
        reviews: Sequence[Row],
        hits: dict[int, list[str]],
        params: np.ndarray,
        mode: str,
    ) -> list[Proposal]:
        """The changes the rules decide at t (reviews: all stamped <= t, in order)."""
        s = self.settings
        out: list[Proposal] = []
        for name, rule in s.rules.items():
            st = self._rule_state(t, name, rule, reviews, hits, params)
            if st.waits:
                continue
            window, k, n, old, new = st.window, st.hits, len(st.window), st.value, st.new
            reason = (
                f"{rule.pattern} seen {k} times (more than {rule.more_than}) in {n} "
                f"reviewed trades: {rule.param} {old:g} -> {new:g}"
            )
            counts = {
                "hits": k,
                "reviews": n,
                "more_than": rule.more_than,
                "min_sample": s.adaptation_min_sample,
            }
            evidence = {
                "pattern": rule.pattern,
                "step": rule.step,
                "bounds": [rule.lo, rule.hi],
                "review_nos": [
                    r["review_no"] for r in window if rule.pattern in hits.get(r["review_no"], [])
                ][-20:],
            }
            out.append(self._propose(t, name, rule.param, old, new, mode, reason, counts, evidence))
        out += self._sources(t, reviews, params, mode)
        return out

    def _sources(
        self, t: int, reviews: Sequence[Row], params: np.ndarray, mode: str
    ) -> list[Proposal]:
        s = self.settings
        if not s.source_weights:
            return []
        lo, hi = s.source_weight_bounds
        out = []
        for src, param in SOURCE_PARAMS.items():
            name = f"source_weight_{src.name.lower()}"
            since = self.rule_since.get(name, -(2**63))
            window = [r for r in reviews if r["ts_ns"] > since]  # a source's whole record
            mine = [r for r in window if int(r["sources"]) & (1 << (src.value - 1))]
            if len(mine) < s.source_min_trades or self._cooling(t, param):
                continue
            rate = sum(r["actual_return"] > 0 for r in mine) / len(mine)
            rate_all = sum(r["actual_return"] > 0 for r in window) / len(window)
            if abs(rate - rate_all) < SOURCE_MARGIN:
                continue
            old = float(params[P[param.upper()]])
            step = s.source_weight_step if rate > rate_all else -s.source_weight_step
            new = float(np.clip(round(old + step, 12), lo, hi))
            if new == old:
                continue
            reason = (
                f"{src.name.lower()} candidates won {rate:.0%} of {len(mine)} trades "
                f"against {rate_all:.0%} of all {len(window)}: {param} {old:g} -> {new:g}"
            )
            counts = {
                "source_trades": len(mine),
                "trades": len(window),
                "min_trades": s.source_min_trades,
            }
            evidence = {"source_rate": rate, "all_rate": rate_all, "margin": SOURCE_MARGIN}
            out.append(self._propose(t, name, param, old, new, mode, reason, counts, evidence))
        return out

    def _propose(
        self,
        t: int,
        rule: str,
        param: str,
        old: float,
        new: float,
        mode: str,
        reason: str,
        counts: dict[str, int],
        evidence: dict[str, object],
    ) -> Proposal:
        self.rule_since[rule] = t
        self.param_changed[param] = t
        apply = t + self.settings.adaptation_delay_s * NS_PER_S
        status = "sent" if mode == "on" else "observed"
        row = _row(
            t, apply, "adapt", rule, param, old, new, mode, status, -1, reason, counts, evidence
        )
        if mode == "on":
            self.open_follow_ups.append(row)
        return Proposal(row, param, new)

    def follow_up(self, t: int, reviews: Sequence[Row], params: np.ndarray) -> list[Proposal]:
        """Judge every open adaptation whose after-window is complete; revert the harmful."""
        s = self.settings
        out: list[Proposal] = []
        still: list[Row] = []
        for a in self.open_follow_ups:
            before = [r["actual_return"] for r in reviews if r["ts_ns"] <= a["ts_ns"]]
            before = before[-s.effect_window :]
            after = [r["actual_return"] for r in reviews if r["entry_ts_ns"] >= a["apply_ts_ns"]]
            after = after[: s.effect_window]
            if len(after) < s.effect_window:
                still.append(a)
                continue
            no = a["adaptation_no"]
            lo = hi = diff = float("nan")
            if len(before) >= 2:
                diff = float(np.mean(after) - np.mean(before))
                seed = s.seed ^ zlib.crc32(f"effect{no}".encode())
                lo, hi = bootstrap_diff_ci(
                    np.array(before), np.array(after), s.effect_confidence, s.bootstrap_draws, seed
                )
            status = "worse" if hi < 0 else "better" if lo > 0 else "inconclusive"
            evidence: dict[str, object] = {
                "before_mean": float(np.mean(before)) if before else None,
                "after_mean": float(np.mean(after)),
                "difference": diff,
                "interval": [lo, hi],
                "confidence": s.effect_confidence,
            }
            counts = {"before": len(before), "after": len(after)}
            step = f"{a['param']} {a['old_value']:g} -> {a['new_value']:g}"
            reason = (
                f"adaptation {no} ({step}): mean return {diff:+.2%} after against "
                f"before, {s.effect_confidence:.0%} interval [{lo:+.2%}, {hi:+.2%}]: "
                f"{status}"
            )
            value = float(params[P[a["param"].upper()]])
            row = _row(
                t,
                t,
                "follow_up",
                a["rule"],
                a["param"],
                value,
                value,
                a["mode"],
                status,
                no,
                reason,
                counts,
                evidence,
            )
            out.append(Proposal(row, a["param"], float("nan")))
            if status == "worse":
                back = float(value - (a["new_value"] - a["old_value"]))
                self.param_changed[a["param"]] = t
                why = f"reverting adaptation {no} ({step}): it made the mean return worse"
                row = _row(
                    t,
                    t + s.adaptation_delay_s * NS_PER_S,
                    "revert",
                    a["rule"],
                    a["param"],
                    value,
                    back,
                    a["mode"],
                    "sent",
                    no,
                    why,
                    counts,
                    evidence,
                )
                out.append(Proposal(row, a["param"], back))
        self.open_follow_ups = still
        return out


def _row(
    t: int,
    apply_ts: int,
    action: str,
    rule: str,
    param: str,
    old: float,
    new: float,
    mode: str,
    status: str,
    ref_no: int,
    reason: str,
    counts: dict[str, int],
    evidence: dict[str, object],
) -> Row:
    """One `adaptations` row (its number is given when it is logged)."""
    return {
        "ts_ns": t,
        "mint_id": -1,
        "apply_ts_ns": apply_ts,
        "action": action,
        "rule": rule,
        "param": param,
        "old_value": old,
        "new_value": new,
        "mode": mode,
        "status": status,
        "ref_no": ref_no,
        "reason": reason,
        "counts": to_json(counts),
        "evidence": to_json(evidence),
    }
