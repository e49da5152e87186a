"""Split the kernel's single output buffer into the run event families.

The kernel writes every event to one buffer so their relative order survives; each
row keeps that order as `run_seq` when it lands in its family (decisions, orders,
fills, rejects, positions, risk, params).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from data.schemas import DECISION_CONTEXT
from engine.events import OutKind
from engine.layout import (
    O_ACTION,
    O_DEC_ID,
    O_FEE,
    O_IN_SEQ,
    O_KIND,
    O_MAX_HOLD_S,
    O_MINT,
    O_NETFEE,
    O_ORDER_ID,
    O_POS_ID,
    O_QTY,
    O_REASON,
    O_SIDE,
    O_SLIP,
    O_SOL,
    O_SOURCES,
    O_TRAILING,
    O_TRIGGER,
    O_TS,
    OF_FIRST_CONTEXT,
    OF_OUT_CONF,
    OF_OUT_STOP,
    OF_PRICE,
)
from replay.report.controls import control_columns


def split_families(
    out_i: np.ndarray, out_f: np.ndarray, first_run_seq: int = 0
) -> dict[str, pa.Table]:
    """Tables for each run family, with the columns data.schemas defines.

    `first_run_seq` is the run_seq of the first row (a paper run logs in batches).
    """
    run_seq = np.arange(first_run_seq, first_run_seq + len(out_i), dtype=np.int64)

    def rows(*kinds: OutKind) -> np.ndarray:
        return np.flatnonzero(np.isin(out_i[:, O_KIND], [int(k) for k in kinds]))

    def base(ix: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "ts_ns": out_i[ix, O_TS],
            "run_seq": run_seq[ix],
            "mint_id": out_i[ix, O_MINT].astype(np.int32),
        }

    def col(ix: np.ndarray, c: int, dtype: type = np.int64) -> np.ndarray:
        picked: np.ndarray = out_i[ix, c].astype(dtype)
        return picked

    d = rows(OutKind.DECIDED)
    o = rows(OutKind.ORDER_PLACED)
    f = rows(OutKind.ORDER_FILLED)
    r = rows(OutKind.ORDER_REJECTED)
    p = rows(OutKind.POSITION_OPENED, OutKind.POSITION_CLOSED)
    k = rows(OutKind.BREAKER_TRIPPED, OutKind.BREAKER_RESET)
    c = rows(OutKind.PARAM_CHANGED, OutKind.CONDITIONS_CHANGED, OutKind.CONTROL_REFUSED)
    context = {name: out_f[d, OF_FIRST_CONTEXT + c] for c, name in enumerate(DECISION_CONTEXT)}
    return {
        "decisions": pa.table({
            **base(d), "decision_id": col(d, O_DEC_ID), "action": col(d, O_ACTION, np.int8),
            "trigger": col(d, O_TRIGGER, np.int8), "sources": col(d, O_SOURCES, np.int8),
            "pos_id": col(d, O_POS_ID), "side": col(d, O_SIDE, np.int8),
            "reason": col(d, O_REASON, np.int16), "qty": col(d, O_QTY), "sol": col(d, O_SOL),
            "price": out_f[d, OF_PRICE], "confidence": out_f[d, OF_OUT_CONF],
            "stop_price": out_f[d, OF_OUT_STOP], "max_hold_s": col(d, O_MAX_HOLD_S),
            "trails": col(d, O_TRAILING, np.int8), **context, "in_seq": col(d, O_IN_SEQ),
        }),
        "orders": pa.table({
            **base(o), "order_id": col(o, O_ORDER_ID), "decision_id": col(o, O_DEC_ID),
            "pos_id": col(o, O_POS_ID),
            "side": col(o, O_SIDE, np.int8), "reason": col(o, O_REASON, np.int16),
            "qty": col(o, O_QTY), "sol": col(o, O_SOL), "price": out_f[o, OF_PRICE],
            "in_seq": col(o, O_IN_SEQ),
        }),
        "fills": pa.table({
            **base(f), "order_id": col(f, O_ORDER_ID), "decision_id": col(f, O_DEC_ID),
            "pos_id": col(f, O_POS_ID),
            "side": col(f, O_SIDE, np.int8), "reason": col(f, O_REASON, np.int16),
            "qty": col(f, O_QTY), "sol": col(f, O_SOL), "fee": col(f, O_FEE),
            "network_fee": col(f, O_NETFEE), "slippage": col(f, O_SLIP),
            "price": out_f[f, OF_PRICE], "impact": out_f[f, OF_OUT_CONF],
            "in_seq": col(f, O_IN_SEQ),
        }),
        "rejects": pa.table({
            **base(r), "order_id": col(r, O_ORDER_ID), "decision_id": col(r, O_DEC_ID),
            "pos_id": col(r, O_POS_ID),
            "side": col(r, O_SIDE, np.int8), "reason": col(r, O_REASON, np.int16),
            "qty": col(r, O_QTY), "sol": col(r, O_SOL), "price": out_f[r, OF_PRICE],
            "impact": out_f[r, OF_OUT_CONF], "in_seq": col(r, O_IN_SEQ),
        }),
        "positions": pa.table({
            **base(p), "pos_id": col(p, O_POS_ID), "order_id": col(p, O_ORDER_ID),
            "decision_id": col(p, O_DEC_ID),
            "event": np.where(out_i[p, O_KIND] == OutKind.POSITION_OPENED, 1, 2).astype(np.int8),
            "reason": col(p, O_REASON, np.int16), "qty": col(p, O_QTY), "sol": col(p, O_SOL),
            "price": out_f[p, OF_PRICE], "confidence": out_f[p, OF_OUT_CONF],
            "level": out_f[p, OF_OUT_STOP], "in_seq": col(p, O_IN_SEQ),
        }),
        "risk": pa.table({
            **base(k),
            "event": np.where(out_i[k, O_KIND] == OutKind.BREAKER_TRIPPED, 1, 2).astype(np.int8),
            "breaker": col(k, O_REASON, np.int8), "cause": col(k, O_ACTION, np.int8),
            "value": out_f[k, OF_PRICE], "threshold": out_f[k, OF_OUT_STOP],
            "in_seq": col(k, O_IN_SEQ),
        }),
        "params": pa.table({**base(c), **control_columns(out_i[c], out_f[c])}),
    }  # fmt: skip
