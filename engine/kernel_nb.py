"""The kernel: one numba function that turns input events into decisions, orders and fills.

`step_nb` processes input events from `start` in `(ts_ns, seq)` order until the input
ends or the output buffer could overflow, and returns how far it got. All state is in
the arrays it is given (engine.layout), so a run can stop at any event and resume with
the next call: splitting the input into batches never changes the output.

Per tick of mint m, in this order:
1. features: 1-minute bars (64-minute ring), returns, EWMA volatility of 1-minute log
   returns, N-bar high, 5-minute and 1-hour volume, liquidity;
2. the simulated venue: m's pending order fills if it was placed at an earlier event
   and `ts >= placed + latency` (so never on its own trigger tick);
3. exits of m's position: stop loss, trailing stop, next target, time stop, volume
   death (first that holds wins);
4. entry: the condition set, if m has no position, no pending order and no cooldown.
Signals update the mint's latest signal values; heartbeats fire time stops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.layout import (
    B_CLOSE,
    B_HIGH,
    B_VOL,
    EXIT_FEE_RESERVE_TX,
    G_CASH,
    G_NEXT_ORDER_ID,
    G_NEXT_POS_ID,
    G_RESERVED,
    G_SLOTS_USED,
    MAX_OUT_PER_EVENT,
    MF_EWMA_VAR,
    MF_FIRST_PRICE,
    MF_LAST_PRICE,
    MF_LIQ,
    MF_NBAR_HIGH,
    MF_PREV_CLOSE,
    MF_SCALE,
    MF_VOL5,
    MF_VOL60,
    MI_COOLDOWN_UNTIL,
    MI_CUR_MIN,
    MI_FIRST_MIN,
    MI_FIRST_TS,
    MI_PENDING_ORDER,
    MI_POS_SLOT,
    MI_TICKS,
    O_FEE,
    O_IN_SEQ,
    O_KIND,
    O_MINT,
    O_NETFEE,
    O_ORDER_ID,
    O_POS_ID,
    O_QTY,
    O_REASON,
    O_SIDE,
    O_SLIP,
    O_SOL,
    O_TS,
    OF_CONF,
    OF_DECISION_PRICE,
    OF_OUT_CONF,
    OF_OUT_STOP,
    OF_PRICE,
    OF_STOP_FRAC,
    OI_ACTIVE,
    OI_DUE_TS,
    OI_ID,
    OI_MINT,
    OI_PLACED_TS,
    OI_QTY,
    OI_REASON,
    OI_RESERVED,
    OI_SIDE,
    OI_SLOT,
    OI_SOL,
    PF_CONF,
    PF_ENTRY_PRICE,
    PF_ENTRY_VOL60,
    PF_STOP_FRAC,
    PF_STOP_PRICE,
    PF_TRAIL_HIGH,
    PI_ACTIVE,
    PI_COST,
    PI_FEE_RESERVE,
    PI_MINT,
    PI_OPENED_TS,
    PI_POS_ID,
    PI_PROCEEDS,
    PI_QTY,
    PI_QTY0,
    PI_TARGETS_HIT,
    PI_TRAILING,
    RING,
    STATUS_DONE,
    STATUS_OUT_FULL,
)
from engine.params import P

NS_PER_MIN = 60_000_000_000

# Input kinds, output kinds, reasons (engine.events; plain ints for the compiler).
TICK, SIGNAL, HEARTBEAT = 0, 1, 2
DECIDED, ORDER_PLACED, ORDER_FILLED, ORDER_REJECTED, POS_OPENED, POS_CLOSED = 1, 2, 3, 4, 5, 6
R_ENTRY, R_STOP, R_TP1, R_TP2, R_TP3, R_TIME, R_TRAIL, R_VOLDEATH = 1, 2, 3, 4, 5, 6, 7, 8
R_REJ_SLIP, R_REJ_CASH, R_REJ_SIZE = 20, 21, 22
MAX_RAW = 9.0e18
"""Largest raw token amount an order may produce (int64 holds up to ~9.22e18)."""

# Parameter indices (engine.params.P).
_CASH0 = int(P.INITIAL_CASH_SOL)
_POS_SOL = int(P.POSITION_SOL)
_MAX_POS = int(P.MAX_POSITIONS)
_STOP = int(P.STOP_LOSS)
_VOL_SCALE = int(P.VOL_SCALE)
_STOP_CAP = int(P.STOP_CAP)
_TP1 = int(P.TP1)
_TP2 = int(P.TP2)
_TP3 = int(P.TP3)
_TP1_FRAC = int(P.TP1_FRAC)
_TP2_FRAC = int(P.TP2_FRAC)
_TIME_STOP = int(P.TIME_STOP_S)
_CONF = int(P.ENTRY_CONFIDENCE)
_TRAIL_CONF = int(P.TRAILING_MIN_CONFIDENCE)
_TRAIL_PCT = int(P.TRAILING_PCT)
_VOLDEATH = int(P.VOLUME_DEATH_RATIO)
_LATENCY = int(P.LATENCY_MS)
_FIXED_SLIP = int(P.FIXED_SLIPPAGE_BPS)
_DEX_FEE = int(P.DEX_FEE_BPS)
_NET_FEE = int(P.NETWORK_FEE_LAMPORTS)
_PRIO_FEE = int(P.PRIORITY_FEE_LAMPORTS)
_ENTRY_SLIP = int(P.ENTRY_MAX_SLIPPAGE_BPS)
_EXIT_SLIP = int(P.EXIT_MAX_SLIPPAGE_BPS)
_BARS_N = int(P.BAR_LOOKBACK)
_VOL_HL = int(P.VOL_HALFLIFE_MIN)
_COOLDOWN = int(P.REENTRY_COOLDOWN_S)


@njit(cache=True, inline="always")
def _emit(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n: int,
    kind: int,
    ts: int,
    mint: int,
    order_id: int,
    pos_id: int,
    side: int,
    reason: int,
    qty: int,
    sol: int,
    fee: int,
    netfee: int,
    slip: int,
    in_seq: int,
    price: float,
    conf: float,
    stop: float,
) -> int:
    out_i[n, O_KIND] = kind
    out_i[n, O_TS] = ts
    out_i[n, O_MINT] = mint
    out_i[n, O_ORDER_ID] = order_id
    out_i[n, O_POS_ID] = pos_id
    out_i[n, O_SIDE] = side
    out_i[n, O_REASON] = reason
    out_i[n, O_QTY] = qty
    out_i[n, O_SOL] = sol
    out_i[n, O_FEE] = fee
    out_i[n, O_NETFEE] = netfee
    out_i[n, O_SLIP] = slip
    out_i[n, O_IN_SEQ] = in_seq
    out_f[n, OF_PRICE] = price
    out_f[n, OF_OUT_CONF] = conf
    out_f[n, OF_OUT_STOP] = stop
    return n + 1


@njit(cache=True, inline="always")
def _place_order(
    ord_i: np.ndarray,
    glob: np.ndarray,
    m: int,
    side: int,
    t: int,
    due: int,
    qty: int,
    sol: int,
    reason: int,
    slot: int,
    reserved: int,
) -> tuple[int, int]:
    """Take the first free order slot for a new order; return (slot, order id)."""
    o = 0
    while ord_i[o, OI_ACTIVE] != 0:
        o += 1
    oid = glob[G_NEXT_ORDER_ID] + 1
    glob[G_NEXT_ORDER_ID] = oid
    ord_i[o, OI_ACTIVE] = 1
    ord_i[o, OI_ID] = oid
    ord_i[o, OI_MINT] = m
    ord_i[o, OI_SIDE] = side
    ord_i[o, OI_PLACED_TS] = t
    ord_i[o, OI_DUE_TS] = due
    ord_i[o, OI_QTY] = qty
    ord_i[o, OI_SOL] = sol
    ord_i[o, OI_REASON] = reason
    ord_i[o, OI_SLOT] = slot
    ord_i[o, OI_RESERVED] = reserved
    return o, oid


@njit(cache=True, inline="always")
def _close_at(mint_f: np.ndarray, mint_i: np.ndarray, bars: np.ndarray, m: int, k: int) -> float:
    """Close of minute k: the bar ring if k is in the mint's history, else the first price."""
    if k < mint_i[m, MI_FIRST_MIN]:
        return mint_f[m, MF_FIRST_PRICE]
    return bars[m, B_CLOSE, k % RING]


@njit(cache=True, inline="always")
def feature_value(
    fid: int,
    m: int,
    t: int,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
) -> float:
    """Current value of feature `fid` for mint m (engine.conditions.Feature)."""
    last = mint_f[m, MF_LAST_PRICE]
    cur = mint_i[m, MI_CUR_MIN]
    if fid == 0:
        return last
    if fid == 1:
        return last / _close_at(mint_f, mint_i, bars, m, cur - 1) - 1.0
    if fid == 2:
        return last / _close_at(mint_f, mint_i, bars, m, cur - 5) - 1.0
    if fid == 3:
        return last / _close_at(mint_f, mint_i, bars, m, cur - 60) - 1.0
    if fid == 4:
        return math.sqrt(mint_f[m, MF_EWMA_VAR])
    if fid == 5:
        return last / mint_f[m, MF_NBAR_HIGH] - 1.0
    if fid == 6:
        return mint_f[m, MF_VOL5]
    if fid == 7:
        return mint_f[m, MF_VOL60]
    if fid == 8:
        v60 = mint_f[m, MF_VOL60]
        return mint_f[m, MF_VOL5] / (v60 / 12.0) if v60 > 0.0 else np.nan
    if fid == 9:
        return float(mint_i[m, MI_TICKS])
    if fid == 10:
        return mint_f[m, MF_LIQ]
    if fid == 11:
        return (t - mint_i[m, MI_FIRST_TS]) / NS_PER_MIN
    if 16 < fid < 24:
        return sig[m, fid - 16]
    return np.nan


@njit(cache=True, nogil=True)
def step_nb(
    in_kind: np.ndarray,
    in_ts: np.ndarray,
    in_seq: np.ndarray,
    in_mint: np.ndarray,
    in_price: np.ndarray,
    in_size: np.ndarray,
    in_liq: np.ndarray,
    in_sig_kind: np.ndarray,
    in_sig_value: np.ndarray,
    start: int,
    params: np.ndarray,
    cond_feat: np.ndarray,
    cond_op: np.ndarray,
    cond_thr: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    pos_f: np.ndarray,
    pos_i: np.ndarray,
    ord_f: np.ndarray,
    ord_i: np.ndarray,
    glob: np.ndarray,
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
) -> tuple[int, int, int]:
    """Process input events from `start`; return (next input index, outputs, status)."""
    n_in = in_ts.shape[0]
    cap = out_i.shape[0]
    n_cond = cond_feat.shape[0]
    latency = np.int64(params[_LATENCY] * 1e6)
    time_stop = np.int64(params[_TIME_STOP] * 1e9)
    cooldown = np.int64(params[_COOLDOWN] * 1e9)
    netfee = np.int64(params[_NET_FEE] + params[_PRIO_FEE])
    spend = np.int64(params[_POS_SOL] * 1e9)
    entry_need = spend + netfee * (1 + EXIT_FEE_RESERVE_TX)
    decay = 0.5 ** (1.0 / params[_VOL_HL])
    alpha = 1.0 - decay
    n_bars = np.int64(params[_BARS_N])
    max_pos = np.int64(params[_MAX_POS])
    fee_bps = params[_DEX_FEE]
    for i in range(start, n_in):
        if n_out + MAX_OUT_PER_EVENT > cap:
            return i, n_out, STATUS_OUT_FULL
        kind = in_kind[i]
        t = in_ts[i]
        seq = in_seq[i]
        if kind == SIGNAL:
            k = in_sig_kind[i]
            if 0 <= k < 8:
                sig[in_mint[i], k] = in_sig_value[i]
            continue
        if kind == HEARTBEAT:
            for s in range(pos_i.shape[0]):
                if pos_i[s, PI_ACTIVE] != 1:
                    continue
                m = pos_i[s, PI_MINT]
                if mint_i[m, MI_PENDING_ORDER] >= 0 or t - pos_i[s, PI_OPENED_TS] < time_stop:
                    continue
                o, oid = _place_order(
                    ord_i, glob, m, -1, t, t + latency, pos_i[s, PI_QTY], 0, R_TIME, s, 0
                )
                mint_i[m, MI_PENDING_ORDER] = o
                last = mint_f[m, MF_LAST_PRICE]
                pid = pos_i[s, PI_POS_ID]
                qty_all = pos_i[s, PI_QTY]
                conf_s = pos_f[s, PF_CONF]
                n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, pid, -1, R_TIME,
                              qty_all, 0, 0, 0, 0, seq, last, conf_s, 0.0)  # fmt: skip
                n_out = _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, pid, -1, R_TIME,
                              qty_all, 0, 0, 0, 0, seq, last, conf_s, 0.0)  # fmt: skip
            continue

        # ------------------------------------------------------------- 1. features
        m = in_mint[i]
        p = in_price[i]
        q = in_size[i]
        liq = in_liq[i]
        scale = mint_f[m, MF_SCALE]
        minute = t // NS_PER_MIN
        new_bar = False
        if mint_i[m, MI_TICKS] == 0:
            mint_f[m, MF_FIRST_PRICE] = p
            mint_f[m, MF_PREV_CLOSE] = p
            mint_i[m, MI_FIRST_TS] = t
            mint_i[m, MI_FIRST_MIN] = minute
            mint_i[m, MI_CUR_MIN] = minute
            new_bar = True
        else:
            cur = mint_i[m, MI_CUR_MIN]
            if minute > cur:
                close = mint_f[m, MF_LAST_PRICE]
                r = math.log(close / mint_f[m, MF_PREV_CLOSE])
                var = decay * mint_f[m, MF_EWMA_VAR] + alpha * r * r
                gap = minute - cur
                # Empty minutes in between are zero returns: the variance only decays.
                mint_f[m, MF_EWMA_VAR] = var * decay ** (gap - 1)
                mint_f[m, MF_PREV_CLOSE] = close
                if gap >= RING:
                    for s in range(RING):
                        bars[m, B_VOL, s] = 0.0
                        bars[m, B_CLOSE, s] = close
                        bars[m, B_HIGH, s] = close
                    mint_f[m, MF_VOL5] = 0.0
                    mint_f[m, MF_VOL60] = 0.0
                else:
                    v5 = mint_f[m, MF_VOL5]
                    v60 = mint_f[m, MF_VOL60]
                    for k in range(cur + 1, minute + 1):
                        v5 -= bars[m, B_VOL, (k - 5) % RING]
                        v60 -= bars[m, B_VOL, (k - 60) % RING]
                        s = k % RING
                        bars[m, B_VOL, s] = 0.0
                        bars[m, B_CLOSE, s] = close
                        bars[m, B_HIGH, s] = close
                    mint_f[m, MF_VOL5] = max(v5, 0.0)
                    mint_f[m, MF_VOL60] = max(v60, 0.0)
                hi = -np.inf
                first_min = mint_i[m, MI_FIRST_MIN]
                for k in range(max(minute - n_bars, first_min), minute):
                    hi = max(hi, bars[m, B_HIGH, k % RING])
                mint_f[m, MF_NBAR_HIGH] = hi if hi > -np.inf else np.nan
                mint_i[m, MI_CUR_MIN] = minute
                new_bar = True
        s_bar = minute % RING
        if new_bar or p > bars[m, B_HIGH, s_bar]:
            bars[m, B_HIGH, s_bar] = p
        bars[m, B_CLOSE, s_bar] = p
        vol = p * q / scale
        bars[m, B_VOL, s_bar] += vol
        mint_f[m, MF_VOL5] += vol
        mint_f[m, MF_VOL60] += vol
        mint_f[m, MF_LAST_PRICE] = p
        mint_i[m, MI_TICKS] += 1
        if liq > 0.0 and liq < np.inf:
            mint_f[m, MF_LIQ] = liq
        liq_known = mint_f[m, MF_LIQ] > 0.0

        # ------------------------------------------------------- 2. simulated venue
        o = mint_i[m, MI_PENDING_ORDER]
        if o >= 0 and ord_i[o, OI_DUE_TS] <= t:
            slot = ord_i[o, OI_SLOT]
            oid = ord_i[o, OI_ID]
            reason = ord_i[o, OI_REASON]
            if ord_i[o, OI_SIDE] == 1:
                pay = ord_i[o, OI_SOL]
                fee = np.int64(pay * fee_bps / 10_000.0)
                net = pay - fee
                net_sol = net / 1e9
                impact = (
                    net_sol / (mint_f[m, MF_LIQ] + net_sol)
                    if liq_known
                    else params[_FIXED_SLIP] / 10_000.0
                )
                tokens_f = math.floor(net_sol / p * (1.0 - impact) * scale)
                too_much_impact = impact * 10_000.0 > params[_ENTRY_SLIP]
                # Sizes under one raw unit or past int64 cannot be held: refuse them
                # explicitly (converting such a float to int64 is undefined).
                bad_size = tokens_f < 1.0 or tokens_f >= MAX_RAW
                if too_much_impact or bad_size:
                    why_rej = R_REJ_SLIP if too_much_impact else R_REJ_SIZE
                    glob[G_RESERVED] -= ord_i[o, OI_RESERVED]
                    glob[G_SLOTS_USED] -= 1
                    pos_i[slot, PI_ACTIVE] = 0
                    ord_i[o, OI_ACTIVE] = 0
                    mint_i[m, MI_PENDING_ORDER] = -1
                    n_out = _emit(out_i, out_f, n_out, ORDER_REJECTED, t, m, oid, 0, 1,
                                  why_rej, 0, pay, 0, 0, 0, seq, p, impact, 0.0)  # fmt: skip
                else:
                    tokens = np.int64(tokens_f)
                    fill_price = net_sol / (tokens / scale)
                    slip = np.int64(net * impact)
                    glob[G_CASH] -= pay + netfee
                    glob[G_RESERVED] -= pay + netfee
                    pid = glob[G_NEXT_POS_ID] + 1
                    glob[G_NEXT_POS_ID] = pid
                    conf = ord_f[o, OF_CONF]
                    stop_frac = ord_f[o, OF_STOP_FRAC]
                    pos_i[slot, PI_ACTIVE] = 1
                    pos_i[slot, PI_MINT] = m
                    pos_i[slot, PI_QTY] = tokens
                    pos_i[slot, PI_QTY0] = tokens
                    pos_i[slot, PI_OPENED_TS] = t
                    pos_i[slot, PI_TARGETS_HIT] = 0
                    pos_i[slot, PI_TRAILING] = 1 if conf > params[_TRAIL_CONF] else 0
                    pos_i[slot, PI_POS_ID] = pid
                    pos_i[slot, PI_COST] = pay + netfee
                    pos_i[slot, PI_PROCEEDS] = 0
                    pos_i[slot, PI_FEE_RESERVE] = ord_i[o, OI_RESERVED] - pay - netfee
                    pos_f[slot, PF_ENTRY_PRICE] = fill_price
                    pos_f[slot, PF_STOP_FRAC] = stop_frac
                    pos_f[slot, PF_STOP_PRICE] = fill_price * (1.0 - stop_frac)
                    pos_f[slot, PF_TRAIL_HIGH] = fill_price
                    pos_f[slot, PF_ENTRY_VOL60] = mint_f[m, MF_VOL60]
                    pos_f[slot, PF_CONF] = conf
                    mint_i[m, MI_POS_SLOT] = slot
                    ord_i[o, OI_ACTIVE] = 0
                    mint_i[m, MI_PENDING_ORDER] = -1
                    n_out = _emit(out_i, out_f, n_out, ORDER_FILLED, t, m, oid, pid, 1, reason,
                                  tokens, pay, fee, netfee, slip, seq, fill_price, impact,
                                  pos_f[slot, PF_STOP_PRICE])  # fmt: skip
                    n_out = _emit(out_i, out_f, n_out, POS_OPENED, t, m, oid, pid, 1, reason,
                                  tokens, pay + netfee, 0, 0, 0, seq, fill_price, conf,
                                  pos_f[slot, PF_STOP_PRICE])  # fmt: skip
            else:
                qty = min(ord_i[o, OI_QTY], pos_i[slot, PI_QTY])
                value = qty / scale * p
                impact = (
                    value / (mint_f[m, MF_LIQ] + value)
                    if liq_known
                    else params[_FIXED_SLIP] / 10_000.0
                )
                pid = pos_i[slot, PI_POS_ID]
                exit_slip = impact * 10_000.0 > params[_EXIT_SLIP]
                if exit_slip or value * 1e9 >= MAX_RAW:
                    # Rejected as Jupiter would; an exit is retried from the next tick.
                    why_rej = R_REJ_SLIP if exit_slip else R_REJ_SIZE
                    n_out = _emit(out_i, out_f, n_out, ORDER_REJECTED, t, m, oid, pid, -1,
                                  why_rej, qty, 0, 0, 0, 0, seq, p, impact, 0.0)  # fmt: skip
                    oid = glob[G_NEXT_ORDER_ID] + 1
                    glob[G_NEXT_ORDER_ID] = oid
                    ord_i[o, OI_ID] = oid
                    ord_i[o, OI_PLACED_TS] = t
                    ord_i[o, OI_DUE_TS] = t + latency
                    n_out = _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, pid, -1, reason,
                                  qty, 0, 0, 0, 0, seq, p, pos_f[slot, PF_CONF], 0.0)  # fmt: skip
                else:
                    gross = np.int64(math.floor(value * (1.0 - impact) * 1e9))
                    fee = np.int64(gross * fee_bps / 10_000.0)
                    recv = gross - fee
                    slip = np.int64(value * 1e9) - gross
                    pay_fee = min(netfee, pos_i[slot, PI_FEE_RESERVE])
                    pos_i[slot, PI_FEE_RESERVE] -= pay_fee
                    glob[G_RESERVED] -= pay_fee
                    glob[G_CASH] += recv - netfee
                    pos_i[slot, PI_QTY] -= qty
                    pos_i[slot, PI_PROCEEDS] += recv - netfee
                    exec_price = p * (1.0 - impact)
                    entry = pos_f[slot, PF_ENTRY_PRICE]
                    if reason == R_TP1:
                        pos_i[slot, PI_TARGETS_HIT] = 1
                        pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], entry)
                    elif reason == R_TP2:
                        pos_i[slot, PI_TARGETS_HIT] = 2
                        tp1_price = entry * (1.0 + params[_TP1])
                        pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], tp1_price)
                    elif reason == R_TP3:
                        pos_i[slot, PI_TARGETS_HIT] = 3
                    ord_i[o, OI_ACTIVE] = 0
                    mint_i[m, MI_PENDING_ORDER] = -1
                    n_out = _emit(out_i, out_f, n_out, ORDER_FILLED, t, m, oid, pid, -1, reason,
                                  qty, recv, fee, netfee, slip, seq, exec_price, impact,
                                  pos_f[slot, PF_STOP_PRICE])  # fmt: skip
                    if pos_i[slot, PI_QTY] == 0:
                        pnl = pos_i[slot, PI_PROCEEDS] - pos_i[slot, PI_COST]
                        glob[G_RESERVED] -= pos_i[slot, PI_FEE_RESERVE]
                        pos_i[slot, PI_FEE_RESERVE] = 0
                        pos_i[slot, PI_ACTIVE] = 0
                        glob[G_SLOTS_USED] -= 1
                        mint_i[m, MI_POS_SLOT] = -1
                        mint_i[m, MI_COOLDOWN_UNTIL] = t + cooldown
                        n_out = _emit(out_i, out_f, n_out, POS_CLOSED, t, m, oid, pid, -1, reason,
                                      pos_i[slot, PI_QTY0], pnl, 0, 0, 0, seq, exec_price,
                                      pos_f[slot, PF_CONF], entry)  # fmt: skip

        # ----------------------------------------------------------------- 3. exits
        slot = mint_i[m, MI_POS_SLOT]
        if slot >= 0:
            if pos_i[slot, PI_TRAILING] == 1 and p > pos_f[slot, PF_TRAIL_HIGH]:
                pos_f[slot, PF_TRAIL_HIGH] = p
            if mint_i[m, MI_PENDING_ORDER] < 0:
                entry = pos_f[slot, PF_ENTRY_PRICE]
                hit = pos_i[slot, PI_TARGETS_HIT]
                remaining = pos_i[slot, PI_QTY]
                why = 0
                sell = remaining
                if p <= pos_f[slot, PF_STOP_PRICE]:
                    why = R_STOP
                elif pos_i[slot, PI_TRAILING] == 1 and p <= pos_f[slot, PF_TRAIL_HIGH] * (
                    1.0 - params[_TRAIL_PCT]
                ):
                    why = R_TRAIL
                elif hit == 0 and p >= entry * (1.0 + params[_TP1]):
                    why = R_TP1
                    sell = min(remaining, np.int64(pos_i[slot, PI_QTY0] * params[_TP1_FRAC]))
                elif hit == 1 and p >= entry * (1.0 + params[_TP2]):
                    why = R_TP2
                    sell = min(remaining, np.int64(pos_i[slot, PI_QTY0] * params[_TP2_FRAC]))
                elif hit == 2 and p >= entry * (1.0 + params[_TP3]):
                    why = R_TP3
                elif t - pos_i[slot, PI_OPENED_TS] >= time_stop:
                    why = R_TIME
                elif (
                    pos_f[slot, PF_ENTRY_VOL60] > 0.0
                    and mint_f[m, MF_VOL60] < params[_VOLDEATH] * pos_f[slot, PF_ENTRY_VOL60]
                ):
                    why = R_VOLDEATH
                if why == R_TP1 and sell == 0:
                    pos_i[slot, PI_TARGETS_HIT] = 1  # nothing to sell at this target
                    pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], entry)
                elif why == R_TP2 and sell == 0:
                    pos_i[slot, PI_TARGETS_HIT] = 2
                    tp1_price = entry * (1.0 + params[_TP1])
                    pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], tp1_price)
                elif why != 0:
                    o, oid = _place_order(ord_i, glob, m, -1, t, t + latency, sell, 0, why, slot, 0)
                    mint_i[m, MI_PENDING_ORDER] = o
                    pid = pos_i[slot, PI_POS_ID]
                    conf = pos_f[slot, PF_CONF]
                    stop_px = pos_f[slot, PF_STOP_PRICE]
                    n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, pid, -1, why, sell, 0,
                                  0, 0, 0, seq, p, conf, stop_px)  # fmt: skip
                    n_out = _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, pid, -1, why,
                                  sell, 0, 0, 0, 0, seq, p, conf, stop_px)  # fmt: skip
            continue

        # ----------------------------------------------------------------- 4. entry
        if (
            n_cond == 0
            or mint_i[m, MI_PENDING_ORDER] >= 0
            or t < mint_i[m, MI_COOLDOWN_UNTIL]
            or glob[G_SLOTS_USED] >= max_pos
            or glob[G_CASH] - glob[G_RESERVED] < entry_need
        ):
            continue
        ok = True
        for c in range(n_cond):
            v = feature_value(cond_feat[c], m, t, mint_f, mint_i, bars, sig)
            thr = cond_thr[c]
            op = cond_op[c]
            if not (
                (op == 0 and v > thr)
                or (op == 1 and v >= thr)
                or (op == 2 and v < thr)
                or (op == 3 and v <= thr)
            ):
                ok = False
                break
        if not ok:
            continue
        vol1m = math.sqrt(mint_f[m, MF_EWMA_VAR])
        stop_frac = min(params[_STOP] * (1.0 + params[_VOL_SCALE] * vol1m), params[_STOP_CAP])
        slot = 0
        while pos_i[slot, PI_ACTIVE] != 0:
            slot += 1
        o, oid = _place_order(
            ord_i, glob, m, 1, t, t + latency, 0, spend, R_ENTRY, slot, entry_need
        )
        conf = params[_CONF]
        pos_i[slot, PI_ACTIVE] = 2  # reserved for this pending entry
        ord_f[o, OF_STOP_FRAC] = stop_frac
        ord_f[o, OF_CONF] = conf
        ord_f[o, OF_DECISION_PRICE] = p
        glob[G_RESERVED] += entry_need
        glob[G_SLOTS_USED] += 1
        mint_i[m, MI_PENDING_ORDER] = o
        stop_px = p * (1.0 - stop_frac)
        n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, 0, 1, R_ENTRY, 0, spend, 0, 0, 0,
                      seq, p, conf, stop_px)  # fmt: skip
        n_out = _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, 0, 1, R_ENTRY, 0, spend, 0,
                      0, 0, seq, p, conf, stop_px)  # fmt: skip
    return n_in, n_out, STATUS_DONE
