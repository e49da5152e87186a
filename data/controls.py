"""Controls as events: what steers the kernel, logged before it can take effect.

- The emergency stop, the emergency exit and the manual breaker reset are `controls`
  rows (control 'signal') that reach the kernel as control signals for no mint: it trips
  the emergency-stop breaker on SignalKind.EMERGENCY_STOP, also sells every open
  position on SignalKind.EMERGENCY_EXIT, and clears every breaker on
  SignalKind.BREAKER_RESET.
- Parameter and condition-set changes are `controls` rows (source: who asked). Every
  mode reads them as kernel input at their `(ts_ns, seq)` place (`control_input`), so
  a replay of a day reproduces what a steered paper or live bot did.

Either way the log shows who changed what, when and why.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.schemas import CONTROL_ORIGINS
from data.store import EventStore, SeqRange
from engine.codes import SignalKind
from engine.controls import Checked, check_conditions, check_param, parse_conditions
from engine.events import InputKind

CONTROL_SOURCE = "control"
CONTROLS = {
    "emergency-stop": SignalKind.EMERGENCY_STOP,
    "reset": SignalKind.BREAKER_RESET,
    "emergency-exit": SignalKind.EMERGENCY_EXIT,
}


SIGNAL_CONTROL = "signal"
"""A `controls` row whose name is one of CONTROLS: a control signal for the kernel."""


def append_control(
    store: EventStore, name: str, ts_ns: int, *, source: str = "operator", reason: str = ""
) -> SeqRange:
    """Log control signal `name` (a key of CONTROLS) at `ts_ns`; returns its seq range.

    It is a `controls` row (control 'signal'), so replays, sweeps and running paper and
    live runs apply it at its place in event time, like a parameter change. (Stores
    written before kept these as `signals` rows of the source "control"; replays still
    read those.)
    """
    if name not in CONTROLS:
        raise ValueError(f"unknown control {name!r}; known: {', '.join(CONTROLS)}")
    return _append(store, SIGNAL_CONTROL, name, 1.0, "", ts_ns, source, reason or name, None,
                   math.nan)  # fmt: skip


def record_refused_control(
    store: EventStore,
    reason: str,
    detail: str,
    *,
    source: str,
    file: str = "",
    raw: str = "",
    ts_ns: int | None = None,
) -> None:
    """Keep a refused control (a bad command, a bad strategy file) as a `quarantine` row.

    Nothing is applied; the log keeps who tried what and why it was refused.
    """
    now = time.time_ns()
    store.append(
        "quarantine",
        {
            "ts_ns": [now if ts_ns is None else ts_ns], "recorded_ts_ns": [now],
            "target_family": ["controls"], "reason": [reason], "detail": [detail],
            "file": [file], "row_no": [-1], "raw": [raw],
        },
        source=source,
    )  # fmt: skip


class ControlRefusedError(ValueError):
    """A change that fails the run-independent checks: nothing is logged."""


def append_param(
    store: EventStore,
    name: str,
    value: float,
    ts_ns: int,
    *,
    source: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
    old_value: float = math.nan,
) -> SeqRange:
    """Log `name = value` from `source` at `ts_ns`; refused (ControlRefusedError) when invalid."""
    checked = check_param(name, value)
    if checked.refusal is not None:
        raise ControlRefusedError(checked.detail)
    return _append(store, "param", name.strip().lower(), float(value), "", ts_ns, source,
                   reason, evidence, old_value)  # fmt: skip


def append_conditions(
    store: EventStore,
    text: str,
    ts_ns: int,
    *,
    source: str,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> SeqRange:
    """Log a new entry condition set ('none' turns the sniper off); refused when invalid."""
    checked = check_conditions(text)
    if checked.refusal is not None:
        raise ControlRefusedError(checked.detail)
    cs = parse_conditions(text)
    # The text as written (thresholds keep every digit; str(cs) would round them to 6
    # significant digits), or "none" for a set that turns the sniper off.
    kept = " ".join(text.split()) if cs is not None else "none"
    return _append(store, "conditions", "conditions", math.nan, kept, ts_ns, source,
                   reason, evidence, math.nan)  # fmt: skip


STRATEGIST_REQUEST = "strategist"
"""A `controls` row asking the LLM strategist now (on demand), not a kernel change."""


def append_strategist_request(
    store: EventStore, ts_ns: int, *, source: str, reason: str
) -> SeqRange:
    """Ask the strategist at `ts_ns`, besides its schedule (every mode: at its event time)."""
    return _append(store, STRATEGIST_REQUEST, "ask", math.nan, "", ts_ns, source, reason,
                   None, math.nan)  # fmt: skip


def strategist_requests(records: list[ControlRecord]) -> list[int]:
    """The times of the on-demand strategist requests among stored controls, in order."""
    return [r[0] for r in records if r[2] == STRATEGIST_REQUEST]


def _append(
    store: EventStore, control: str, name: str, value: float, conditions: str, ts_ns: int,
    source: str, reason: str, evidence: dict[str, Any] | None, old_value: float,
) -> SeqRange:  # fmt: skip
    if source not in CONTROL_ORIGINS:
        raise ValueError(f"unknown control source {source!r}; known: {', '.join(CONTROL_ORIGINS)}")
    return store.append(
        "controls",
        {
            "ts_ns": np.array([ts_ns], dtype=np.int64),
            "mint_id": np.array([-1], dtype=np.int32),
            "control": [control],
            "name": [name],
            "value": np.array([value]),
            "conditions": [conditions],
            "old_value": np.array([old_value]),
            "reason": [reason],
            "evidence": [json.dumps(evidence or {}, sort_keys=True, default=str)],
        },
        source=source,
    )


ControlRecord = tuple[int, int, str, str, float, str]
"""A stored control as `(ts_ns, seq, control, name, value, conditions)`."""


@dataclass(frozen=True)
class ControlInput:
    """Controls as kernel input rows (several per condition set), in `(ts, seq)` order.

    `seq` is each row's `controls` seq: the merged input carries it as `-1 - seq`, the
    way signals are carried, and a run's `params` rows point back to it.
    """

    ts_ns: np.ndarray
    seq: np.ndarray
    kind: np.ndarray
    sig_kind: np.ndarray
    sig_value: np.ndarray
    size: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)


def control_input(rows: list[ControlRecord]) -> ControlInput:
    """Kernel rows for stored controls `(ts_ns, seq, control, name, value, conditions)`.

    Each is checked again on the way in (a store written by hand or by an older
    version may hold what the checks now refuse): a refused one still reaches the
    kernel, carrying its Refusal code, so the run logs the refusal.
    """
    ts: list[int] = []
    seq: list[int] = []
    kind: list[int] = []
    sk: list[int] = []
    sv: list[float] = []
    size: list[int] = []
    for t, s, control, name, value, conditions in rows:
        if control == STRATEGIST_REQUEST:  # steers the scheduler, not the kernel
            continue
        if control == SIGNAL_CONTROL:
            if name in CONTROLS:
                ts.append(t)
                seq.append(s)
                kind.append(int(InputKind.SIGNAL))
                sk.append(int(CONTROLS[name]))
                sv.append(float(value))
                size.append(0)
            continue
        checked: Checked = (
            check_conditions(conditions) if control == "conditions" else check_param(name, value)
        )
        for r in checked.rows:
            ts.append(t)
            seq.append(s)
            kind.append(r.kind)
            sk.append(r.sig_kind)
            sv.append(r.sig_value)
            size.append(r.size)
    return ControlInput(
        np.array(ts, np.int64), np.array(seq, np.int64), np.array(kind, np.int64),
        np.array(sk, np.int64), np.array(sv, np.float64), np.array(size, np.int64),
    )  # fmt: skip


def control_records(
    store: EventStore, start_ts: int | None, end_ts: int | None = None
) -> list[ControlRecord]:
    """The store's controls with `start_ts <= ts_ns < end_ts`, in `(ts_ns, seq)` order."""
    rows: list[ControlRecord] = []
    for c in store.scan("controls", ["control", "name", "value", "conditions"],
                        start_ts=start_ts, end_ts=end_ts):  # fmt: skip
        cols = (c["ts_ns"].tolist(), c["seq"].tolist(), list(c["control"]), list(c["name"]),
                c["value"].tolist(), list(c["conditions"]))  # fmt: skip
        rows.extend(zip(*cols, strict=True))
    return rows


def read_controls(store: EventStore, start_ts: int | None, end_ts: int | None) -> ControlInput:
    """The store's controls in `[start_ts, end_ts)` as kernel input rows."""
    return control_input(control_records(store, start_ts, end_ts))
