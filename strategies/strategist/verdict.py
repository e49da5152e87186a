"""Judge a model's raw answer: parse it, check it against bounds, decide what changes.

The model proposes; this decides. Every way an answer can be wrong has a name (the
`strategist` event's status and reason), and only an answer that passes every check
becomes control rows. What the prompt said cannot widen a bound: the bounds come from
the code (feature ranges) and the strategy file (tunable parameters), never from the
model's context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from engine.conditions import Condition, ConditionSet, Feature
from engine.controls import ControlRow, check_param, condition_rows
from engine.params import P
from strategies.strategist.answer import FEATURE_RANGES, Proposal
from strategies.strategist.settings import StrategistSettings

ACCEPTED = "accepted"
UNCHANGED = "unchanged"
REFUSED = "refused"
INVALID_JSON = "invalid_json"
INVALID_ANSWER = "invalid_answer"
TRUNCATED = "truncated"


@dataclass(frozen=True)
class Verdict:
    """What became of one answer."""

    status: str
    reason: str
    parsed: str
    """The proposal as canonical JSON ('' if the answer did not parse)."""
    conditions: ConditionSet | None = None
    params: tuple[tuple[str, float], ...] = ()

    @property
    def changes(self) -> str:
        """The change in words ('' when nothing changes)."""
        if self.status != ACCEPTED:
            return ""
        parts = [f"conditions -> {self.conditions}"] if self.conditions is not None else []
        parts += [f"{n}={v:g}" for n, v in self.params]
        return "; ".join(parts)

    def rows(self) -> tuple[ControlRow, ...]:
        """Kernel control rows of an accepted answer (empty otherwise)."""
        if self.status != ACCEPTED:
            return ()
        out: list[ControlRow] = []
        if self.conditions is not None:
            out.extend(condition_rows(self.conditions))
        for name, value in self.params:
            out.extend(check_param(name, value).rows)
        return tuple(out)


def judge(
    raw: str,
    done_reason: str,
    settings: StrategistSettings,
    active: tuple[np.ndarray, np.ndarray, np.ndarray],
    params: np.ndarray,
) -> Verdict:
    """The verdict on `raw`.

    `active` (features, ops, thresholds) and `params` are the set and values in force
    when the prompt was built: an answer that repeats them changes nothing.
    """
    if done_reason == "length":
        return Verdict(TRUNCATED, f"the answer hit num_predict={settings.num_predict} "
                       "before it ended", "")  # fmt: skip
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        return Verdict(INVALID_JSON, f"not JSON: {exc}", "")
    try:
        prop = Proposal.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "answer"
        return Verdict(INVALID_ANSWER, f"{where}: {e['msg']}", "")
    parsed = prop.model_dump_json()
    why = _conditions_problem(prop)
    if why:
        return Verdict(REFUSED, why, parsed)
    pv: list[tuple[str, float]] = []
    for p in prop.params:
        name = p.name.strip().lower()
        if name not in settings.tunable:
            return Verdict(REFUSED, f"param_not_tunable: {p.name[:40]!r} (tunable: "
                           f"{', '.join(sorted(settings.tunable)) or 'none'})", parsed)  # fmt: skip
        lo, hi = settings.tunable[name]
        if not lo <= p.value <= hi:
            return Verdict(REFUSED, f"param_out_of_bounds: {name}={p.value:g} "
                           f"(allowed {lo:g}..{hi:g})", parsed)  # fmt: skip
        checked = check_param(name, p.value)
        if checked.refusal is not None:
            return Verdict(REFUSED, f"invalid_param: {checked.detail}", parsed)
        pv.append((name, p.value))
    names = [n for n, _ in pv]
    if len(set(names)) != len(names):
        return Verdict(REFUSED, "duplicate_param: a parameter is set twice", parsed)
    cs = ConditionSet(conditions=[
        Condition(feature=c.feature.lower(), op=c.op, threshold=c.threshold)  # type: ignore[arg-type]
        for c in prop.conditions
    ])  # fmt: skip
    same_set = _same(cs.compile(), active)
    changed = tuple((n, v) for n, v in pv if params[P[n.upper()]] != v)
    if same_set and not changed:
        return Verdict(UNCHANGED, "the proposal is the set and values already in force", parsed)
    return Verdict(ACCEPTED, "", parsed, None if same_set else cs, changed)


def _conditions_problem(prop: Proposal) -> str:
    lows: dict[str, tuple[float, bool]] = {}
    highs: dict[str, tuple[float, bool]] = {}
    for c in prop.conditions:
        feat = c.feature.strip().lower()
        if feat.upper() not in Feature.__members__:
            return f"unknown_feature: {c.feature[:40]!r}"
        if c.op not in (">", ">=", "<", "<="):
            return f"unknown_op: {c.op[:4]!r}"
        lo, hi = FEATURE_RANGES[feat]
        if not lo <= c.threshold <= hi:
            return (f"threshold_out_of_range: {feat} {c.op} {c.threshold:g} "
                    f"(allowed {lo:g}..{hi:g})")  # fmt: skip
        strict = c.op in (">", "<")
        if c.op in (">", ">="):
            cur = lows.get(feat)
            if cur is None or c.threshold > cur[0] or (c.threshold == cur[0] and strict):
                lows[feat] = (c.threshold, strict)
        else:
            cur = highs.get(feat)
            if cur is None or c.threshold < cur[0] or (c.threshold == cur[0] and strict):
                highs[feat] = (c.threshold, strict)
    for feat, (lo, lo_strict) in lows.items():
        if feat in highs:
            hi, hi_strict = highs[feat]
            if lo > hi or (lo == hi and (lo_strict or hi_strict)):
                return (f"contradictory: {feat} must be {'>' if lo_strict else '>='} {lo:g} "
                        f"and {'<' if hi_strict else '<='} {hi:g}")  # fmt: skip
    return ""


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(len(x) == len(y) and bool(np.array_equal(x, y)) for x, y in zip(a, b, strict=True))
