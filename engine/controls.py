"""Control events as kernel input: parameter and condition-set changes, checked first.

A config reload, an operator's `clanka control set`, an LLM strategist's answer and an
adaptation all steer the kernel the same way (DESIGN.md section 4b): as input rows at
their `(ts_ns, seq)` place. This module is the one translation from a requested
change to those rows. It validates what does not depend on the run (the name, the
range, the kind; the condition text); a change that fails carries its Refusal code
into the kernel, which then logs the refusal and changes nothing. What depends on the
run's other values (tp1 < tp2 < tp3, ...) the kernel checks itself, per run and per
sweep set (`kernel_nb.params_conflict_nb`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.conditions import ConditionSet, Feature
from engine.events import InputKind, Refusal
from engine.params import P, check_value

STRATEGIST_CONTROL_SEQ0 = (1 << 48) - 1
"""A strategist call's control rows carry in_seq -1 - (this + call_no): far above any
`controls` seq, so a run's output names the call that steered it (control_seq)."""

ADAPTATION_CONTROL_SEQ0 = (1 << 49) - 1
"""An adaptation's control rows carry in_seq -1 - (this + adaptation_no): above every
strategist call's range, so control_seq names the adaptation (the `adaptations` row)."""

OFF_WORDS = ("", "none", "off")
"""Condition texts that turn the sniper off (the empty set)."""


@dataclass(frozen=True)
class ControlRow:
    """One kernel input row of a control: kind, sig_kind, sig_value, size."""

    kind: int
    sig_kind: int
    sig_value: float
    size: int


@dataclass(frozen=True)
class Checked:
    """A requested change after the run-independent checks."""

    rows: tuple[ControlRow, ...]
    refusal: Refusal | None
    detail: str
    """Why it was refused (empty when it passed)."""


def check_param(name: str, value: float) -> Checked:
    """Validate `name=value` as a mid-run change; the row(s) that carry it."""
    key = name.strip().upper()
    if key not in P.__members__:
        try:
            check_value(name, value)
        except ValueError as e:
            # No index: -1, which the kernel refuses as an invalid value.
            return Checked(_param_row(-1, _float(value), Refusal.INVALID_VALUE),
                           Refusal.INVALID_VALUE, str(e))  # fmt: skip
    index = int(P[key])
    if index == P.INITIAL_CASH_SOL:
        why = "initial_cash_sol is where a run starts; it cannot change mid-run"
        return Checked(_param_row(index, value, Refusal.FIXED_AT_START), Refusal.FIXED_AT_START,
                       why)  # fmt: skip
    try:
        v = check_value(key.lower(), value)
    except (ValueError, TypeError) as e:
        return Checked(_param_row(index, _float(value), Refusal.INVALID_VALUE),
                       Refusal.INVALID_VALUE, str(e))  # fmt: skip
    return Checked(_param_row(index, v, None), None, "")


def strategist_in_seq(call_no: int) -> int:
    """The input seq of the control rows of a run's strategist call number `call_no`."""
    return -1 - (STRATEGIST_CONTROL_SEQ0 + call_no)


def adaptation_in_seq(adaptation_no: int) -> int:
    """The input seq of the control rows of a run's adaptation number `adaptation_no`."""
    return -1 - (ADAPTATION_CONTROL_SEQ0 + adaptation_no)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _param_row(index: int, value: float, refusal: Refusal | None) -> tuple[ControlRow, ...]:
    return (ControlRow(int(InputKind.PARAM), index, float(value), int(refusal or 0)),)


def parse_conditions(text: str) -> ConditionSet | None:
    """A condition set from text; None for the words that turn the sniper off."""
    if text.strip().lower() in OFF_WORDS:
        return None
    return ConditionSet.parse(text)


def check_conditions(text: str) -> Checked:
    """Validate a condition-set text; the header row and one row per condition."""
    try:
        cs = parse_conditions(text)
    except ValueError as e:
        why = str(e).splitlines()
        detail = why[-1].strip() if len(why) > 1 else str(e)
        head = ControlRow(int(InputKind.CONDITIONS), 0, 0.0, int(Refusal.INVALID_CONDITIONS))
        return Checked((head,), Refusal.INVALID_CONDITIONS, f"conditions {text!r}: {detail}")
    return Checked(condition_rows(cs), None, "")


def condition_rows(cs: ConditionSet | None) -> tuple[ControlRow, ...]:
    """The rows of a valid set: a header with the count, then each condition."""
    if cs is None:
        return (ControlRow(int(InputKind.CONDITIONS), 0, 0.0, 0),)
    feat, ops, thr = cs.compile()
    rows = [ControlRow(int(InputKind.CONDITIONS), len(feat), 0.0, 0)]
    for f, o, x in zip(feat.tolist(), ops.tolist(), thr.tolist(), strict=True):
        rows.append(ControlRow(int(InputKind.CONDITION), int(f) * 4 + int(o), float(x), 0))
    return tuple(rows)


def conditions_text(rows: list[tuple[int, float]]) -> str:
    """Text of a set from its condition rows' (sig_kind, sig_value); 'none' if empty."""
    ops = (">", ">=", "<", "<=")
    parts = [f"{Feature(k // 4).name.lower()} {ops[k % 4]} {v:g}" for k, v in rows]
    return " AND ".join(parts) if parts else "none"
