"""The controls a run applied or refused, in words, for its report.

The kernel logs each change as an output row (engine.events: PARAM_CHANGED,
CONDITIONS_CHANGED, CONTROL_REFUSED); the store's `controls` rows add who asked and
why. A report lists them in the order the run met them.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pyarrow as pa

from data.store import EventStore
from engine.events import OutKind, Refusal
from engine.layout import (
    O_ACTION,
    O_IN_SEQ,
    O_KIND,
    O_QTY,
    O_REASON,
    O_SOL,
    O_TRIGGER,
    O_TS,
    OF_OUT_CONF,
    OF_PRICE,
)
from engine.params import P

CONTROL_KINDS = (OutKind.PARAM_CHANGED, OutKind.CONDITIONS_CHANGED, OutKind.CONTROL_REFUSED)


def control_rows(out_i: np.ndarray, out_f: np.ndarray) -> dict[str, Any]:
    """The `params` columns of a run's control output rows, as Python lists."""
    ix = np.flatnonzero(np.isin(out_i[:, O_KIND], [int(k) for k in CONTROL_KINDS]))
    cols = control_columns(out_i[ix], out_f[ix])
    return {"ts_ns": out_i[ix, O_TS].tolist(), **{k: _list(v) for k, v in cols.items()}}


def _list(v: Any) -> list[Any]:
    return v.tolist() if hasattr(v, "tolist") else list(v)


def applied_controls(
    store: EventStore | None,
    out_i: np.ndarray,
    out_f: np.ndarray,
    own: dict[int, tuple[str, str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per control the run met: time, change, status, who asked and why.

    `own` gives (requested_by, reason, conditions) for control seqs the run made itself
    (its strategist's answers); the rest come from the store's `controls` rows.
    """
    rows = control_rows(out_i, out_f)
    meta: dict[int, tuple[str, str, str]] = dict(own or {})
    seqs = sorted({s for s in rows["control_seq"] if s >= 0 and s not in meta})
    if store is not None and seqs:
        found = store.con.execute(
            "SELECT seq, source, reason, conditions FROM controls WHERE list_contains(?, seq)",
            [seqs],
        ).fetchall()
        meta.update({int(s): (src, why, text) for s, src, why, text in found})
    out = []
    for k in range(len(rows["ts_ns"])):
        src, why, text = meta.get(rows["control_seq"][k], ("", "", ""))
        name = rows["name"][k]
        old, new = rows["old_value"][k], rows["new_value"][k]
        if name == "conditions":
            change = (
                f"conditions -> {text or '?'}"
                if rows["status"][k] == "applied"
                else ("conditions (new set refused)")
            )
        else:
            change = f"{name} {_num(old)} -> {_num(new)}"
        out.append({
            "time": _iso(rows["ts_ns"][k]), "ts_ns": rows["ts_ns"][k], "change": change,
            "status": rows["status"][k], "refusal": rows["refusal"][k],
            "requested_by": src, "reason": why,
        })  # fmt: skip
    return out


def _num(v: float) -> str:
    return "?" if math.isnan(v) else f"{v:g}"


def _iso(ts_ns: int) -> str:
    t = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def control_columns(ci: np.ndarray, cf: np.ndarray) -> dict[str, object]:
    """The `params` family's own columns for control output rows (engine.events)."""
    kinds = ci[:, O_KIND].tolist()
    is_cond = [
        k == OutKind.CONDITIONS_CHANGED or (k == OutKind.CONTROL_REFUSED and t == 2)
        for k, t in zip(kinds, ci[:, O_TRIGGER].tolist(), strict=True)
    ]
    names = [
        "conditions" if cond else _param_name(ix)
        for cond, ix in zip(is_cond, ci[:, O_REASON].tolist(), strict=True)
    ]
    refused = [k == OutKind.CONTROL_REFUSED for k in kinds]
    counts = [k == OutKind.CONDITIONS_CHANGED for k in kinds]
    return {
        "control": pa.array(["conditions" if c else "param" for c in is_cond], pa.string()),
        "name": pa.array(names, pa.string()),
        "old_value": np.where(counts, ci[:, O_SOL], cf[:, OF_OUT_CONF]).astype(np.float64),
        "new_value": np.where(counts, ci[:, O_QTY], cf[:, OF_PRICE]).astype(np.float64),
        "status": pa.array(["refused" if r else "applied" for r in refused], pa.string()),
        "refusal": pa.array(
            [
                Refusal(a).label if r else ""
                for r, a in zip(refused, ci[:, O_ACTION].tolist(), strict=True)
            ],
            pa.string(),
        ),
        "control_seq": -1 - ci[:, O_IN_SEQ],
    }


def _param_name(index: int) -> str:
    return P(index).name.lower() if 0 <= index < len(P) else f"#{index}"
