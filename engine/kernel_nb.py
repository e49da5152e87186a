"""The kernel: one numba function that turns input events into decisions, orders and fills.

`step_nb` processes input events from `start` in `(ts_ns, seq)` order until the input
ends or the output buffer could overflow, and returns how far it got. All state is in
the arrays it is given (engine.layout), so a run can stop at any event and resume with
the next call: splitting the input into batches never changes the output.

Per event, in this order:
0. a new UTC day resets the daily breaker counters (and every breaker but the
   emergency stop); control signals trip the emergency stop or reset breakers by
   hand; a SOL/USD reference signal updates the thresholds set in USD; a parameter
   change writes the run's vector (or is refused, changing nothing) and returns
   STATUS_RESUME so that values derived from parameters are recomputed; a condition
   set is staged row by row and swaps in at its last condition; when a scan is due,
   the scanner ranks the flat mints, hands its top candidates to the decision engine
   and sets the next scan time (fixed, or by the adaptive rule);
1. features of the tick's mint m: 1-minute bars (64-minute ring) with highs and lows,
   returns, EWMA volatility of 1-minute log returns, fast and slow EMAs, N-bar high
   and low, 5-minute, 1-hour and lifetime volume, liquidity;
2. the simulated venue: m's pending order fills if it was placed at an earlier event
   and `ts >= placed + latency` (so never on its own trigger tick: an order the scanner
   places in step 0 of this very event, with `latency_ms = 0`, waits for the next one;
   the order remembers the placing event's seq); fills feed the slippage, loss and
   consecutive-loss breakers;
3. exits of m's position: stop loss, trailing stop, next target, time stop, volume
   death, strong sell (first that holds wins); breakers never block an exit;
4. entry: when the condition set (the sniper) holds on a flat mint, it asks the
   decision engine (`_decide`), which scores, chooses buy / sell / hold / skip, sizes,
   applies the guards and logs its decision.
Signals update the mint's latest signal values; heartbeats fire time stops and scans.

Compilation, measured on 11.7 M ticks of 1,000 mints (benchmarks/bench_kernel.py):
every function is `njit(cache=True, error_model="numpy", _nrt=False)`. Without the
runtime's reference counting (the kernel allocates nothing: its scratch arrays live in
KernelState), inlined helpers that take arrays no longer pay an atomic incref/decref
per argument per call, which had halved the rate at which conditions are evaluated
(27 -> 46 M ticks/s). numpy's error model has no exception branches for division.
The bar's high and low are updated with min/max rather than branches: a price's rank
within its minute is unpredictable, and the mispredictions cost 15% of the tick path.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.layout import (
    B_CLOSE,
    B_HIGH,
    B_LOW,
    B_VOL,
    C_FEATURE,
    C_OP,
    C_THRESHOLD,
    CS_ACTIVE,
    CS_STAGE,
    EXIT_FEE_RESERVE_TX,
    G_BREAKERS,
    G_CASH,
    G_COND_HAVE,
    G_COND_N,
    G_COND_STAGE,
    G_CONSEC_LOSSES,
    G_DAY_END,
    G_DAY_PNL,
    G_DAY_START_EQUITY,
    G_DAY_TRADES,
    G_EXIT_ALL,
    G_MARK_END,
    G_NEXT_DEC_ID,
    G_NEXT_ORDER_ID,
    G_NEXT_POS_ID,
    G_NEXT_SCAN_TS,
    G_RESERVED,
    G_SLOTS_USED,
    G_VENUE,
    GF_MCAP_HI,
    GF_MCAP_LO,
    GF_MIN_LIQ,
    GF_SOL_USD,
    MAX_CANDIDATES,
    MAX_CONDITIONS,
    MAX_OUT_PER_EVENT,
    MF_DAY_OPEN,
    MF_EMA_FAST,
    MF_EMA_SLOW,
    MF_EWMA_VAR,
    MF_FIRST_PRICE,
    MF_LAST_PRICE,
    MF_LIQ,
    MF_NBAR_HIGH,
    MF_NBAR_LOW,
    MF_PREV_CLOSE,
    MF_SCALE,
    MF_VOL5,
    MF_VOL60,
    MF_VOL_TOTAL,
    MI_COOLDOWN_UNTIL,
    MI_CUR_MIN,
    MI_DAY,
    MI_FIRST_MIN,
    MI_FIRST_TS,
    MI_LAST_TS,
    MI_LOG_AFTER,
    MI_PENDING_ORDER,
    MI_POS_SLOT,
    MI_SCAN_UNTIL,
    MI_TICKS,
    N_BREAKERS,
    N_OUT_F,
    N_OUT_I,
    N_SIG,
    NO_DAY_YET,
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
    OF_COMMUNITY,
    OF_CONF,
    OF_CORR,
    OF_DECISION_PRICE,
    OF_FIRST_CONTEXT,
    OF_FLOW,
    OF_FUND,
    OF_LIQ,
    OF_MCAP,
    OF_MOMENTUM,
    OF_OUT_CONF,
    OF_OUT_STOP,
    OF_PORT_RISK,
    OF_PRICE,
    OF_RANGE,
    OF_RISK_SCORE,
    OF_RISKADJ,
    OF_SCAN_SCORE,
    OF_SENTIMENT,
    OF_SIZE_SOL,
    OF_SOCIAL,
    OF_STOP_FRAC,
    OF_TECH,
    OF_TP1,
    OF_TP2,
    OF_TP3,
    OF_TREND,
    OF_VOL5,
    OF_VOL60,
    OF_VOLATILITY,
    OI_ACTIVE,
    OI_DEC_ID,
    OI_DUE_TS,
    OI_ID,
    OI_MAX_HOLD,
    OI_MINT,
    OI_PLACED_SEQ,
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
    PF_RISK_SOL,
    PF_STOP_FRAC,
    PF_STOP_PRICE,
    PF_TRAIL_HIGH,
    PI_ACTIVE,
    PI_COST,
    PI_DEC_ID,
    PI_FEE_RESERVE,
    PI_MAX_HOLD,
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
    STATUS_RESUME,
    VENUE_EXTERNAL,
    VENUE_SIMULATED,
)
from engine.nb_cache import key_on_sources
from engine.params import N_PARAMS, P

NS_PER_MIN = 60_000_000_000
NS_PER_DAY = 86_400_000_000_000
NAN = np.nan

# Input kinds, output kinds, reasons, actions (engine.events; plain ints for the compiler).
TICK, SIGNAL, HEARTBEAT, PARAM, CONDITIONS, CONDITION = 0, 1, 2, 3, 4, 5
VENUE_FILL, VENUE_REJECT, VENUE_ADJUST = 6, 7, 8
DECIDED, ORDER_PLACED, ORDER_FILLED, ORDER_REJECTED, POS_OPENED, POS_CLOSED = 1, 2, 3, 4, 5, 6
BREAKER_TRIPPED, BREAKER_RESET, EQUITY_MARKED = 7, 8, 9
PARAM_CHANGED, CONDITIONS_CHANGED, CONTROL_REFUSED = 10, 11, 12
REF_INVALID_VALUE, REF_FIXED_AT_START, REF_CONFLICT, REF_INVALID_CONDITIONS = 1, 2, 3, 4
# (engine.events.Refusal)
CTL_PARAM, CTL_CONDITIONS = 1, 2
R_ENTRY, R_STOP, R_TP1, R_TP2, R_TP3, R_TIME, R_TRAIL, R_VOLDEATH = 1, 2, 3, 4, 5, 6, 7, 8
R_SENT_FLIP, R_EMERGENCY_EXIT, R_RECONCILED = 9, 10, 11
R_LOW_CONF, R_HOLD_ZONE, R_TREND_NOT_UP, R_LOW_LIQ, R_STRONG_SELL = 30, 31, 32, 33, 34
R_BREAKER, R_CORRELATED, R_PORT_RISK, R_MAX_POS, R_NO_CASH, R_TOO_SMALL = 35, 36, 37, 38, 39, 40
R_REJ_SLIP, R_REJ_CASH, R_REJ_SIZE, R_REJ_VENUE = 20, 21, 22, 23
A_BUY, A_SELL, A_HOLD, A_SKIP = 1, 2, 3, 4
TRIG_POSITION, TRIG_SNIPER, TRIG_SCANNER = 0, 1, 2
BK_CONSEC, BK_LOSS_SOL, BK_LOSS_PCT, BK_TRADES, BK_SLIP, BK_EMERGENCY = 1, 2, 3, 4, 5, 6
CAUSE_TRIPPED, CAUSE_NEW_DAY, CAUSE_MANUAL = 1, 2, 3
SIG_EMERGENCY, SIG_RESET, SIG_EXIT_ALL = 64, 65, 66
SIG_SOL_USD = 32
GO_TICK, GO_NEXT, GO_RESUME = 0, 1, 2
"""What `event_before_nb` left for an event: its tick part, nothing, or a resume."""
NS_PER_HOUR = 3_600_000_000_000
# Signal kinds (engine.codes.SignalKind) the scores read.
S_BUYERS, S_TOP3, S_BOT, S_BUY_P, S_SELL_P = 1, 2, 4, 5, 6
S_SENTIMENT, S_ENGAGEMENT, S_NARRATIVE, S_COMMUNITY, S_RISK, S_TYPE, S_MCAP = (
    7, 8, 9, 10, 11, 12, 13,
)  # fmt: skip
TREND_EPS = 1e-9
"""The trend is up when the fast EMA leads the slow one by more than this (relative):
below it the gap is float rounding of a flat market, not a trend."""
MAX_RAW = 9.0e18
"""Largest raw token amount an order may produce (int64 holds up to ~9.22e18)."""
I64_MAX = np.iinfo(np.int64).max

# Parameter indices (engine.params.P).
_CASH0 = int(P.INITIAL_CASH_SOL)
_MIN_POS_SOL = int(P.MIN_POSITION_SOL)
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
_MIN_BUY = int(P.MIN_BUY_CONFIDENCE)
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
_MAX_POS_SOL = int(P.MAX_POSITION_SOL)
_SIZE_REF = int(P.SIZE_REF_CONFIDENCE)
_LIQ_CAP = int(P.LIQ_CAP_PCT)
_MAX_PORT_RISK = int(P.MAX_PORTFOLIO_RISK)
_MIN_ORDER = int(P.MIN_ORDER_SOL)
_HOLD_CONF = int(P.HOLD_CONFIDENCE)
_MIN_LIQ = int(P.MIN_LIQUIDITY)
_REQ_TREND = int(P.REQUIRE_TREND_UP)
_W_TECH = int(P.W_TECHNICAL)
_W_SOC_MEME = int(P.W_SOCIAL_MEME)
_W_SOC_OTHER = int(P.W_SOCIAL_OTHER)
_W_FUND = int(P.W_FUNDAMENTAL)
_W_RISK = int(P.W_RISK)
_TW_TREND = int(P.TW_TREND)
_TW_MOM = int(P.TW_MOMENTUM)
_TW_VOLUME = int(P.TW_VOLUME)
_TW_VOLA = int(P.TW_VOLATILITY)
_TW_RANGE = int(P.TW_RANGE)
_EMA_FAST = int(P.EMA_FAST_MIN)
_EMA_SLOW = int(P.EMA_SLOW_MIN)
_TREND_SCALE = int(P.TREND_SCALE)
_MOM_SCALE = int(P.MOMENTUM_SCALE)
_VOLR_FULL = int(P.VOLUME_RATIO_FULL)
_VOLA_MAX = int(P.VOLATILITY_MAX)
_SW_SENT = int(P.SW_SENTIMENT)
_SW_ENG = int(P.SW_ENGAGEMENT)
_SW_NAR = int(P.SW_NARRATIVE)
_SW_COM = int(P.SW_COMMUNITY)
_SW_FLOW = int(P.SW_FLOW)
_COM_FULL = int(P.COMMUNITY_FULL)
_FW_RISK = int(P.FW_RISK)
_FW_TYPE = int(P.FW_TYPE)
_FW_MCAP = int(P.FW_MCAP)
_FW_LIQ = int(P.FW_LIQUIDITY)
_FW_VOLMCAP = int(P.FW_VOLMCAP)
_MEME_SCORE = int(P.MEME_TYPE_SCORE)
_OTHER_SCORE = int(P.OTHER_TYPE_SCORE)
_LIQ_FULL = int(P.LIQUIDITY_FULL)
_MCAP_LO = int(P.MCAP_LOW_SOL)
_MCAP_HI = int(P.MCAP_HIGH_SOL)
_VOLMCAP_FULL = int(P.VOLMCAP_FULL)
_SUPPLY = int(P.ASSUMED_SUPPLY_TOKENS)
_DEFAULT_MEME = int(P.DEFAULT_MEME)
_TOP3_FULL = int(P.RISK_TOP3_FULL)
_SS_SOCIAL = int(P.STRONG_SELL_SOCIAL)
_SS_TECH = int(P.STRONG_SELL_TECHNICAL)
_SS_RISK = int(P.STRONG_SELL_RISK)
_TIME_STOP_OTHER = int(P.TIME_STOP_OTHER_S)
_LOG_IV = int(P.DECISION_LOG_INTERVAL_S)
_MAX_CONSEC = int(P.MAX_CONSECUTIVE_LOSSES)
_MAX_LOSS_SOL = int(P.MAX_DAILY_LOSS_SOL)
_MAX_LOSS_PCT = int(P.MAX_DAILY_LOSS_PCT)
_MAX_TRADES = int(P.MAX_DAILY_TRADES)
_MAX_SLIP_PCT = int(P.MAX_SLIPPAGE_PCT)
_MAX_CORR = int(P.MAX_CORRELATION)
_CORR_W = int(P.CORR_WINDOW_MIN)
_CORR_MIN_N = int(P.CORR_MIN_RETURNS)
_SCAN_IV = int(P.SCAN_INTERVAL_S)
_MAX_CAND = int(P.MAX_CANDIDATES)
_SCAN_COOL = int(P.SCANNER_COOLDOWN_S)
_FRESH_AGE = int(P.FRESH_AGE_MIN)
_FRESH_VOL = int(P.FRESH_MIN_VOLUME)
_SPIKE = int(P.SPIKE_RATIO)
_TRENDING = int(P.TRENDING_VOLMCAP)
_SRC_FRESH = int(P.SRC_W_FRESH)
_SRC_SPIKE = int(P.SRC_W_SPIKE)
_SRC_BREAKOUT = int(P.SRC_W_BREAKOUT)
_SRC_TRENDING = int(P.SRC_W_TRENDING)
_ADAPTIVE = int(P.ADAPTIVE_SCAN)
_SCAN_FAST = int(P.SCAN_FAST_S)
_SCAN_SLOW = int(P.SCAN_SLOW_S)
_SCAN_BUSY = int(P.SCAN_BUSY_S)
_SCAN_HOT = int(P.SCAN_HOT_CHANGE)
_SCAN_QUIET = int(P.SCAN_QUIET_CHANGE)
_SCAN_BUSY_N = int(P.SCAN_BUSY_POSITIONS)
_MIN_LIQ_USD = int(P.MIN_LIQUIDITY_USD)
_MCAP_LO_USD = int(P.MCAP_LOW_USD)
_MCAP_HI_USD = int(P.MCAP_HIGH_USD)


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
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
    dec_id: int,
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
    out_i[n, O_DEC_ID] = dec_id
    for c in range(O_DEC_ID + 1, N_OUT_I):
        out_i[n, c] = 0
    out_f[n, OF_PRICE] = price
    out_f[n, OF_OUT_CONF] = conf
    out_f[n, OF_OUT_STOP] = stop
    for c in range(OF_FIRST_CONTEXT, N_OUT_F):
        out_f[n, c] = NAN
    return n + 1


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _context(
    out_i: np.ndarray,
    out_f: np.ndarray,
    row: int,
    dec: np.ndarray,
    action: int,
    trigger: int,
    sources: int,
    max_hold_s: int,
    trailing: int,
) -> None:
    """Copy a decision's context (scores, inputs, recommendations) onto an output row."""
    out_i[row, O_ACTION] = action
    out_i[row, O_TRIGGER] = trigger
    out_i[row, O_SOURCES] = sources
    out_i[row, O_MAX_HOLD_S] = max_hold_s
    out_i[row, O_TRAILING] = trailing
    for c in range(OF_FIRST_CONTEXT, N_OUT_F):
        out_f[row, c] = dec[c]


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _breaker_event(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n: int,
    kind: int,
    t: int,
    mint: int,
    breaker: int,
    cause: int,
    seq: int,
    value: float,
    limit: float,
) -> int:
    n = _emit(out_i, out_f, n, kind, t, mint, 0, 0, 0, breaker, 0, 0, 0, 0, 0, seq, value, NAN,
              limit, 0)  # fmt: skip
    out_i[n - 1, O_ACTION] = cause
    return n


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _trip(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n: int,
    glob: np.ndarray,
    breaker: int,
    t: int,
    mint: int,
    seq: int,
    value: float,
    limit: float,
) -> int:
    """Trip `breaker` (once: a tripped breaker does not trip again until reset)."""
    bit = np.int64(1) << (breaker - 1)
    if glob[G_BREAKERS] & bit:
        return n
    glob[G_BREAKERS] |= bit
    return _breaker_event(out_i, out_f, n, BREAKER_TRIPPED, t, mint, breaker, CAUSE_TRIPPED,
                          seq, value, limit)  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _reset_breakers(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n: int,
    glob: np.ndarray,
    t: int,
    seq: int,
    cause: int,
    keep_emergency: bool,
) -> int:
    """Reset tripped breakers (the emergency stop only by hand) with one event each."""
    for b in range(1, N_BREAKERS + 1):
        bit = np.int64(1) << (b - 1)
        if glob[G_BREAKERS] & bit and not (keep_emergency and b == BK_EMERGENCY):
            glob[G_BREAKERS] &= ~bit
            n = _breaker_event(out_i, out_f, n, BREAKER_RESET, t, -1, b, cause, seq, NAN, NAN)
    return n


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
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
    dec_id: int,
    seq: int,
) -> tuple[int, int]:
    """Take the first free order slot for a new order; return (slot, order id).

    `seq` is the input seq of the event placing it: the venue never fills an order at
    the event that placed it, even when its latency is zero.
    """
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
    ord_i[o, OI_DEC_ID] = dec_id
    ord_i[o, OI_PLACED_SEQ] = seq
    return o, oid


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _exit_all(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    glob: np.ndarray,
    mint_i: np.ndarray,
    mint_f: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    ord_i: np.ndarray,
    ord_f: np.ndarray,
    t: int,
    seq: int,
    latency: int,
) -> int:
    """The emergency exit: everything left in every open position is sold.

    A position with an order pending is sold when that order has ended.
    """
    for s in range(pos_i.shape[0]):
        if pos_i[s, PI_ACTIVE] != 1 or n_out + 2 > out_i.shape[0]:
            continue
        m = pos_i[s, PI_MINT]
        if mint_i[m, MI_PENDING_ORDER] >= 0:
            continue
        n_out = _place_exit(out_i, out_f, n_out, glob, mint_i, pos_i, pos_f, ord_i, ord_f, s, m,
                            pos_i[s, PI_QTY], R_EMERGENCY_EXIT, mint_f[m, MF_LAST_PRICE], 0.0,
                            t, seq, latency)  # fmt: skip
    return n_out


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _place_exit(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    glob: np.ndarray,
    mint_i: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    ord_i: np.ndarray,
    ord_f: np.ndarray,
    s: int,
    m: int,
    qty: int,
    why: int,
    price: float,
    stop: float,
    t: int,
    seq: int,
    latency: int,
) -> int:
    """A sell of `qty` from slot s's position: its decision (action sell) and its order.

    Every exit takes this path: the tick's exit rules, the heartbeat's time stop and
    the emergency exit. `stop` is what the two rows carry in their stop column.
    """
    pid = pos_i[s, PI_POS_ID]
    conf = pos_f[s, PF_CONF]
    did = glob[G_NEXT_DEC_ID] + 1
    glob[G_NEXT_DEC_ID] = did
    o, oid = _place_order(ord_i, glob, m, -1, t, t + latency, qty, 0, why, s, 0, did, seq)
    ord_f[o, OF_DECISION_PRICE] = price
    mint_i[m, MI_PENDING_ORDER] = o
    n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, pid, -1, why, qty, 0, 0, 0, 0, seq,
                  price, conf, stop, did)  # fmt: skip
    out_i[n_out - 1, O_ACTION] = A_SELL
    return _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, pid, -1, why, qty, 0, 0, 0, 0,
                 seq, price, conf, stop, did)  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _close_position(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    params: np.ndarray,
    glob: np.ndarray,
    mint_i: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    slot: int,
    m: int,
    t: int,
    seq: int,
    oid: int,
    pid: int,
    reason: int,
    exec_price: float,
    cooldown: int,
) -> int:
    """The last unit sold: the position closes with its realized PnL.

    The PnL feeds the consecutive-loss and daily-loss breakers.
    """
    entry = pos_f[slot, PF_ENTRY_PRICE]
    pnl = pos_i[slot, PI_PROCEEDS] - pos_i[slot, PI_COST]
    glob[G_RESERVED] -= pos_i[slot, PI_FEE_RESERVE]
    pos_i[slot, PI_FEE_RESERVE] = 0
    pos_i[slot, PI_ACTIVE] = 0
    glob[G_SLOTS_USED] -= 1
    mint_i[m, MI_POS_SLOT] = -1
    mint_i[m, MI_COOLDOWN_UNTIL] = t + cooldown
    n_out = _emit(out_i, out_f, n_out, POS_CLOSED, t, m, oid, pid, -1, reason,
                  pos_i[slot, PI_QTY0], pnl, 0, 0, 0, seq, exec_price,
                  pos_f[slot, PF_CONF], entry, pos_i[slot, PI_DEC_ID])  # fmt: skip
    glob[G_DAY_PNL] += pnl
    if pnl < 0:
        glob[G_CONSEC_LOSSES] += 1
    else:
        glob[G_CONSEC_LOSSES] = 0
    if glob[G_CONSEC_LOSSES] >= np.int64(params[_MAX_CONSEC]):
        n_out = _trip(out_i, out_f, n_out, glob, BK_CONSEC, t, m, seq,
                      float(glob[G_CONSEC_LOSSES]), params[_MAX_CONSEC])  # fmt: skip
    loss = -glob[G_DAY_PNL] / 1e9
    if loss > params[_MAX_LOSS_SOL]:
        n_out = _trip(out_i, out_f, n_out, glob, BK_LOSS_SOL, t, m, seq, loss,
                      params[_MAX_LOSS_SOL])  # fmt: skip
    limit = params[_MAX_LOSS_PCT] * glob[G_DAY_START_EQUITY] / 1e9
    if loss > limit:
        n_out = _trip(out_i, out_f, n_out, glob, BK_LOSS_PCT, t, m, seq, loss, limit)
    return n_out


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _fill_buy(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    params: np.ndarray,
    glob: np.ndarray,
    mint_i: np.ndarray,
    mint_f: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    ord_i: np.ndarray,
    ord_f: np.ndarray,
    o: int,
    m: int,
    t: int,
    seq: int,
    tokens: int,
    pay: int,
    fee: int,
    nf: int,
    slip: int,
    fill_price: float,
    impact: float,
    max_slip: float,
) -> int:
    """An entry order filled (by the simulated venue or a live one): open its position.

    Its cost is what was paid plus the network fees `nf`; what the order reserved beyond
    that stays reserved for the exits' fees.
    """
    slot = ord_i[o, OI_SLOT]
    oid = ord_i[o, OI_ID]
    reason = ord_i[o, OI_REASON]
    did = ord_i[o, OI_DEC_ID]
    keep = max(np.int64(0), ord_i[o, OI_RESERVED] - pay - nf)
    glob[G_CASH] -= pay + nf
    glob[G_RESERVED] -= ord_i[o, OI_RESERVED] - keep
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
    pos_i[slot, PI_COST] = pay + nf
    pos_i[slot, PI_PROCEEDS] = 0
    pos_i[slot, PI_FEE_RESERVE] = keep
    pos_i[slot, PI_MAX_HOLD] = ord_i[o, OI_MAX_HOLD]
    pos_i[slot, PI_DEC_ID] = did
    pos_f[slot, PF_ENTRY_PRICE] = fill_price
    pos_f[slot, PF_STOP_FRAC] = stop_frac
    pos_f[slot, PF_STOP_PRICE] = fill_price * (1.0 - stop_frac)
    pos_f[slot, PF_TRAIL_HIGH] = fill_price
    pos_f[slot, PF_ENTRY_VOL60] = mint_f[m, MF_VOL60]
    pos_f[slot, PF_CONF] = conf
    pos_f[slot, PF_RISK_SOL] = 0.0
    mint_i[m, MI_POS_SLOT] = slot
    ord_i[o, OI_ACTIVE] = 0
    mint_i[m, MI_PENDING_ORDER] = -1
    n_out = _emit(out_i, out_f, n_out, ORDER_FILLED, t, m, oid, pid, 1, reason,
                  tokens, pay, fee, nf, slip, seq, fill_price, impact,
                  pos_f[slot, PF_STOP_PRICE], did)  # fmt: skip
    n_out = _emit(out_i, out_f, n_out, POS_OPENED, t, m, oid, pid, 1, reason,
                  tokens, pay + nf, 0, 0, 0, seq, fill_price, conf,
                  pos_f[slot, PF_STOP_PRICE], did)  # fmt: skip
    if impact > max_slip:
        n_out = _trip(out_i, out_f, n_out, glob, BK_SLIP, t, m, seq, impact, max_slip)
    return n_out


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _reject_buy(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    glob: np.ndarray,
    mint_i: np.ndarray,
    pos_i: np.ndarray,
    ord_i: np.ndarray,
    o: int,
    m: int,
    t: int,
    seq: int,
    why: int,
    cost: int,
    price: float,
    impact: float,
) -> int:
    """An entry order refused: its slot and reservation are released.

    `cost` lamports it spent anyway (a live transaction that landed and failed still
    pays its fee) leave cash.
    """
    slot = ord_i[o, OI_SLOT]
    pay = ord_i[o, OI_SOL]
    glob[G_RESERVED] -= ord_i[o, OI_RESERVED]
    glob[G_CASH] -= cost
    glob[G_SLOTS_USED] -= 1
    pos_i[slot, PI_ACTIVE] = 0
    ord_i[o, OI_ACTIVE] = 0
    mint_i[m, MI_PENDING_ORDER] = -1
    return _emit(out_i, out_f, n_out, ORDER_REJECTED, t, m, ord_i[o, OI_ID], 0, 1, why, 0, pay,
                 0, cost, 0, seq, price, impact, 0.0, ord_i[o, OI_DEC_ID])  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _reject_sell(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    glob: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    ord_i: np.ndarray,
    ord_f: np.ndarray,
    o: int,
    m: int,
    t: int,
    seq: int,
    why: int,
    qty: int,
    cost: int,
    price: float,
    impact: float,
    latency: int,
) -> int:
    """An exit order refused: it is placed again at once (an exit is never dropped).

    The lamports it cost anyway come out of the position's fee reserve, then cash.
    """
    slot = ord_i[o, OI_SLOT]
    pid = pos_i[slot, PI_POS_ID]
    did = ord_i[o, OI_DEC_ID]
    if cost > 0:
        from_reserve = min(cost, pos_i[slot, PI_FEE_RESERVE])
        pos_i[slot, PI_FEE_RESERVE] -= from_reserve
        glob[G_RESERVED] -= from_reserve
        glob[G_CASH] -= cost
        pos_i[slot, PI_PROCEEDS] -= cost
    n_out = _emit(out_i, out_f, n_out, ORDER_REJECTED, t, m, ord_i[o, OI_ID], pid, -1, why, qty,
                  0, 0, cost, 0, seq, price, impact, 0.0, did)  # fmt: skip
    oid = glob[G_NEXT_ORDER_ID] + 1
    glob[G_NEXT_ORDER_ID] = oid
    ord_i[o, OI_ID] = oid
    ord_i[o, OI_PLACED_TS] = t
    ord_i[o, OI_PLACED_SEQ] = seq
    ord_i[o, OI_DUE_TS] = t + latency
    ord_f[o, OF_DECISION_PRICE] = price
    return _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, pid, -1, ord_i[o, OI_REASON],
                 qty, 0, 0, 0, 0, seq, price, pos_f[slot, PF_CONF], 0.0, did)  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _fill_sell(
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    params: np.ndarray,
    glob: np.ndarray,
    mint_i: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    ord_i: np.ndarray,
    o: int,
    m: int,
    t: int,
    seq: int,
    qty: int,
    recv: int,
    fee: int,
    nf: int,
    slip: int,
    exec_price: float,
    impact: float,
    max_slip: float,
    cooldown: int,
) -> int:
    """An exit order filled: `recv` lamports (after the DEX fee) less fees `nf` come in.

    A target moves the stop; the last unit closes the position.
    """
    slot = ord_i[o, OI_SLOT]
    oid = ord_i[o, OI_ID]
    reason = ord_i[o, OI_REASON]
    did = ord_i[o, OI_DEC_ID]
    pid = pos_i[slot, PI_POS_ID]
    pay_fee = min(nf, pos_i[slot, PI_FEE_RESERVE])
    pos_i[slot, PI_FEE_RESERVE] -= pay_fee
    glob[G_RESERVED] -= pay_fee
    glob[G_CASH] += recv - nf
    pos_i[slot, PI_QTY] -= qty
    pos_i[slot, PI_PROCEEDS] += recv - nf
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
                  qty, recv, fee, nf, slip, seq, exec_price, impact,
                  pos_f[slot, PF_STOP_PRICE], did)  # fmt: skip
    if impact > max_slip:
        n_out = _trip(out_i, out_f, n_out, glob, BK_SLIP, t, m, seq, impact, max_slip)
    if pos_i[slot, PI_QTY] == 0:
        n_out = _close_position(out_i, out_f, n_out, params, glob, mint_i, pos_i, pos_f, slot,
                                m, t, seq, oid, pid, reason, exec_price, cooldown)  # fmt: skip
    return n_out


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _close_hist(mint_f: np.ndarray, mint_i: np.ndarray, bars: np.ndarray, m: int, k: int) -> float:
    """Close of minute k, or NaN when k is before the mint's first tick or out of the ring."""
    if mint_i[m, MI_TICKS] == 0 or k < mint_i[m, MI_FIRST_MIN]:
        return NAN
    cur = mint_i[m, MI_CUR_MIN]
    if k >= cur:
        return mint_f[m, MF_LAST_PRICE]
    if k <= cur - RING:
        return NAN
    return bars[m, k % RING, B_CLOSE]


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _market_cap(m: int, p: float, params: np.ndarray, sig: np.ndarray) -> float:
    """The market_cap signal when present, else price x assumed supply (NaN if unknown)."""
    mc = sig[m, S_MCAP]
    if mc > 0.0:
        return mc
    if params[_SUPPLY] > 0.0:
        return p * params[_SUPPLY]
    return NAN


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _is_meme(m: int, params: np.ndarray, sig: np.ndarray) -> bool:
    tt = sig[m, S_TYPE]
    if tt == tt:
        return tt >= 0.5
    return params[_DEFAULT_MEME] >= 0.5


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def feature_value(
    fid: int,
    m: int,
    t: int,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
) -> float:
    """Current value of feature `fid` for mint m (engine.conditions.Feature).

    One exit and no nested helpers that take arrays: numba then compiles the inlined
    body without reference-count calls, which otherwise cost more than the feature.
    """
    last = mint_f[m, MF_LAST_PRICE]
    cur = mint_i[m, MI_CUR_MIN]
    v = NAN
    if fid == 0:
        v = last
    elif fid <= 3:
        back = 1 if fid == 1 else (5 if fid == 2 else 60)
        k = cur - back
        if k < mint_i[m, MI_FIRST_MIN]:
            v = last / mint_f[m, MF_FIRST_PRICE] - 1.0
        else:
            v = last / bars[m, k % RING, B_CLOSE] - 1.0
    elif fid == 4:
        v = math.sqrt(mint_f[m, MF_EWMA_VAR])
    elif fid == 5:
        v = last / mint_f[m, MF_NBAR_HIGH] - 1.0
    elif fid == 6:
        v = mint_f[m, MF_VOL5]
    elif fid == 7:
        v = mint_f[m, MF_VOL60]
    elif fid == 8:
        v60 = mint_f[m, MF_VOL60]
        if v60 > 0.0:
            v = mint_f[m, MF_VOL5] / (v60 / 12.0)
    elif fid == 9:
        v = float(mint_i[m, MI_TICKS])
    elif fid == 10:
        v = mint_f[m, MF_LIQ]
    elif fid == 11:
        v = (t - mint_i[m, MI_FIRST_TS]) / NS_PER_MIN
    elif fid == 12:
        a_f = 2.0 / (params[_EMA_FAST] + 1.0)
        a_s = 2.0 / (params[_EMA_SLOW] + 1.0)
        ema_f = mint_f[m, MF_EMA_FAST] + a_f * (last - mint_f[m, MF_EMA_FAST])
        ema_s = mint_f[m, MF_EMA_SLOW] + a_s * (last - mint_f[m, MF_EMA_SLOW])
        v = ema_f / ema_s - 1.0
    elif fid == 13:
        hi = mint_f[m, MF_NBAR_HIGH]
        lo = mint_f[m, MF_NBAR_LOW]
        if hi > lo:
            v = (last - lo) / (hi - lo)
    elif fid == 14:
        total = mint_f[m, MF_VOL_TOTAL]
        alive = cur - mint_i[m, MI_FIRST_MIN] + 1
        if total > 0.0:
            v = (mint_f[m, MF_VOL5] / min(5, alive)) / (total / alive)
    elif fid == 15:
        mc = sig[m, S_MCAP]
        if mc > 0.0:
            v = mc
        elif params[_SUPPLY] > 0.0:
            v = last * params[_SUPPLY]
    elif 16 < fid < 16 + N_SIG:
        v = sig[m, fid - 16]
    return v


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def conditions_pass_nb(
    m: int,
    t: int,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    cond: np.ndarray,
    n_cond: int,
) -> bool:
    """Whether mint m meets every one of the sniper's first n_cond entry conditions.

    Reads only the features, the signals and `CONDITION_PARAMS`: sets that agree on
    those and on their conditions get the same answer (a sweep asks once per tick).
    """
    for c in range(n_cond):
        v = feature_value(np.int64(cond[CS_ACTIVE, c, C_FEATURE]), m, t, params, mint_f,
                          mint_i, bars, sig)  # fmt: skip
        thr = cond[CS_ACTIVE, c, C_THRESHOLD]
        op = np.int64(cond[CS_ACTIVE, c, C_OP])
        if not (
            (op == 0 and v > thr)
            or (op == 1 and v >= thr)
            or (op == 2 and v < thr)
            or (op == 3 and v <= thr)
        ):
            return False
    return True


CONDITION_PARAMS = (_EMA_FAST, _EMA_SLOW, _SUPPLY)
"""The parameters `feature_value` (so `conditions_pass_nb`) reads."""


@njit(cache=True, error_model="numpy", _nrt=False)
def _scores(
    m: int,
    t: int,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    dec: np.ndarray,
    globf: np.ndarray,
) -> float:
    """Fill `dec` with mint m's component scores and inputs; return the confidence.

    Seed "calculateConfidence": a weighted mean of the technical, social, fundamental
    and risk-adjustment scores, each in [0, 1]; a score whose inputs are all missing
    drops out and the remaining weights renormalise (division by the summed weight).
    Each score is itself a weighted mean of the sub-scores whose inputs are present.
    """
    for c in range(N_OUT_F):
        dec[c] = NAN
    p = mint_f[m, MF_LAST_PRICE]
    liq = mint_f[m, MF_LIQ]
    sigma = math.sqrt(mint_f[m, MF_EWMA_VAR])
    dec[OF_PRICE] = p
    dec[OF_LIQ] = liq
    dec[OF_VOL5] = mint_f[m, MF_VOL5]
    dec[OF_VOL60] = mint_f[m, MF_VOL60]
    dec[OF_VOLATILITY] = sigma

    # Technical: trend, momentum, volume profile, (low) volatility, support/resistance.
    trend = feature_value(12, m, t, params, mint_f, mint_i, bars, sig)
    mom = feature_value(2, m, t, params, mint_f, mint_i, bars, sig)
    vratio = feature_value(8, m, t, params, mint_f, mint_i, bars, sig)
    rng = feature_value(13, m, t, params, mint_f, mint_i, bars, sig)
    dec[OF_TREND] = trend
    dec[OF_MOMENTUM] = mom
    dec[OF_RANGE] = rng
    num = 0.0
    den = 0.0
    if trend == trend:
        num += params[_TW_TREND] * _clamp01(0.5 + trend / (2.0 * params[_TREND_SCALE]))
        den += params[_TW_TREND]
    if mom == mom:
        num += params[_TW_MOM] * _clamp01(0.5 + mom / (2.0 * params[_MOM_SCALE]))
        den += params[_TW_MOM]
    if vratio == vratio:
        num += params[_TW_VOLUME] * _clamp01(vratio / params[_VOLR_FULL])
        den += params[_TW_VOLUME]
    num += params[_TW_VOLA] * (1.0 - _clamp01(sigma / params[_VOLA_MAX]))
    den += params[_TW_VOLA]
    if rng == rng:
        num += params[_TW_RANGE] * _clamp01(rng)
        den += params[_TW_RANGE]
    tech = num / den if den > 0.0 else NAN

    # Social: sentiment, engagement, narrative heat, community (or unique buyers), flow.
    sen = sig[m, S_SENTIMENT]
    eng = sig[m, S_ENGAGEMENT]
    nar = sig[m, S_NARRATIVE]
    com = sig[m, S_COMMUNITY]
    if com != com:
        com = sig[m, S_BUYERS]
    buy_p = sig[m, S_BUY_P]
    sell_p = sig[m, S_SELL_P]
    flow = NAN
    if buy_p == buy_p and sell_p == sell_p:
        b = max(buy_p, 0.0)
        total = b + max(sell_p, 0.0)
        if total > 0.0:
            flow = b / total
    dec[OF_SENTIMENT] = sen
    dec[OF_COMMUNITY] = com
    dec[OF_FLOW] = flow
    num = 0.0
    den = 0.0
    if sen == sen:
        num += params[_SW_SENT] * _clamp01((sen + 1.0) / 2.0)
        den += params[_SW_SENT]
    if eng == eng:
        num += params[_SW_ENG] * _clamp01(eng)
        den += params[_SW_ENG]
    if nar == nar:
        num += params[_SW_NAR] * _clamp01(nar)
        den += params[_SW_NAR]
    if com == com:
        full = math.log10(1.0 + params[_COM_FULL])
        num += params[_SW_COM] * _clamp01(math.log10(1.0 + max(com, 0.0)) / full)
        den += params[_SW_COM]
    if flow == flow:
        num += params[_SW_FLOW] * flow
        den += params[_SW_FLOW]
    social = num / den if den > 0.0 else NAN

    # Fundamental: external risk score, token type, market cap, liquidity, volume/mcap.
    meme = _is_meme(m, params, sig)
    ext_risk = sig[m, S_RISK]
    mcap = _market_cap(m, p, params, sig)
    dec[OF_MCAP] = mcap
    num = 0.0
    den = 0.0
    if ext_risk == ext_risk:
        num += params[_FW_RISK] * (1.0 - _clamp01(ext_risk / 10.0))
        den += params[_FW_RISK]
    num += params[_FW_TYPE] * (params[_MEME_SCORE] if meme else params[_OTHER_SCORE])
    den += params[_FW_TYPE]
    if mcap > 0.0:
        span = math.log(globf[GF_MCAP_HI] / globf[GF_MCAP_LO])
        num += params[_FW_MCAP] * _clamp01(math.log(globf[GF_MCAP_HI] / mcap) / span)
        den += params[_FW_MCAP]
        num += params[_FW_VOLMCAP] * _clamp01(mint_f[m, MF_VOL60] / mcap / params[_VOLMCAP_FULL])
        den += params[_FW_VOLMCAP]
    if liq > 0.0:
        num += params[_FW_LIQ] * _clamp01(liq / params[_LIQ_FULL])
        den += params[_FW_LIQ]
    fund = num / den if den > 0.0 else NAN

    # Risk score 0-10: the external one, else the mean of concentration, bot-likeness
    # and volatility (volatility is always known, so the score always is).
    if ext_risk == ext_risk:
        risk = min(10.0, max(0.0, ext_risk))
    else:
        r_sum = _clamp01(sigma / params[_VOLA_MAX])
        r_n = 1.0
        top3 = sig[m, S_TOP3]
        if top3 == top3:
            r_sum += _clamp01(top3 / params[_TOP3_FULL])
            r_n += 1.0
        bot = sig[m, S_BOT]
        if bot == bot:
            r_sum += _clamp01(bot)
            r_n += 1.0
        risk = 10.0 * r_sum / r_n
    risk_adj = 1.0 - risk / 10.0
    dec[OF_RISK_SCORE] = risk
    dec[OF_TECH] = tech
    dec[OF_SOCIAL] = social
    dec[OF_FUND] = fund
    dec[OF_RISKADJ] = risk_adj

    w_soc = params[_W_SOC_MEME] if meme else params[_W_SOC_OTHER]
    num = params[_W_RISK] * risk_adj
    den = params[_W_RISK]
    if tech == tech:
        num += params[_W_TECH] * tech
        den += params[_W_TECH]
    if social == social:
        num += w_soc * social
        den += w_soc
    if fund == fund:
        num += params[_W_FUND] * fund
        den += params[_W_FUND]
    conf = num / den if den > 0.0 else 0.0
    dec[OF_OUT_CONF] = conf
    return conf


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _strong_sell(m: int, params: np.ndarray, sig: np.ndarray, dec: np.ndarray) -> bool:
    """Seed: strong sell signals override everything.

    A collapsed social or technical score, or an external risk score at the avoid
    level. The risk score derived from volatility and holder data sizes positions but
    never forces a sale on its own: a volatile memecoin is not a sell signal.
    """
    tech = dec[OF_TECH]
    social = dec[OF_SOCIAL]
    return (
        (social == social and social <= params[_SS_SOCIAL])
        or (tech == tech and tech <= params[_SS_TECH])
        or sig[m, S_RISK] >= params[_SS_RISK]
    )


@njit(cache=True, error_model="numpy", _nrt=False)
def _max_correlation(
    m: int,
    t: int,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    pos_i: np.ndarray,
) -> float:
    """Highest return correlation of mint m with a held (or pending) mint.

    Pearson correlation of 1-minute log returns over the last `corr_window_min`
    completed minutes; NaN when no pair has `corr_min_returns` shared returns.
    """
    now = t // NS_PER_MIN
    w = np.int64(params[_CORR_W])
    min_n = params[_CORR_MIN_N]
    best = NAN
    for s in range(pos_i.shape[0]):
        if pos_i[s, PI_ACTIVE] == 0:
            continue
        j = pos_i[s, PI_MINT]
        if j == m:
            continue
        px = _close_hist(mint_f, mint_i, bars, m, now - w)
        py = _close_hist(mint_f, mint_i, bars, j, now - w)
        n = 0.0
        sx = 0.0
        sy = 0.0
        sxx = 0.0
        syy = 0.0
        sxy = 0.0
        for k in range(now - w + 1, now):
            x = _close_hist(mint_f, mint_i, bars, m, k)
            y = _close_hist(mint_f, mint_i, bars, j, k)
            if x > 0.0 and px > 0.0 and y > 0.0 and py > 0.0:
                rx = math.log(x / px)
                ry = math.log(y / py)
                n += 1.0
                sx += rx
                sy += ry
                sxx += rx * rx
                syy += ry * ry
                sxy += rx * ry
            px = x
            py = y
        if n < min_n:
            continue
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        if vx <= 1e-18 or vy <= 1e-18:
            continue
        c = min(1.0, max(-1.0, (sxy - sx * sy / n) / math.sqrt(vx * vy)))  # rounding
        if not (best >= c):
            best = c
    return best


@njit(cache=True, error_model="numpy", _nrt=False)
def _equity(glob: np.ndarray, pos_i: np.ndarray, mint_f: np.ndarray) -> float:
    """Cash plus open positions marked at their mint's last price, lamports."""
    eq = float(glob[G_CASH])
    for s in range(pos_i.shape[0]):
        if pos_i[s, PI_ACTIVE] == 1:
            j = pos_i[s, PI_MINT]
            eq += pos_i[s, PI_QTY] / mint_f[j, MF_SCALE] * mint_f[j, MF_LAST_PRICE] * 1e9
    return eq


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def held_sol_nb(pos_i: np.ndarray, mint_f: np.ndarray, n_used: int) -> float:
    """Open positions marked at their mint's last price, SOL (the equity curve's term).

    `n_used` is the slots in use (G_SLOTS_USED: open and reserved); the scan stops after
    the last of them, so an equity mark with one position open reads one slot row, not
    all MAX_SLOTS (each its own cache line).
    """
    held = 0.0
    seen = 0
    for s in range(pos_i.shape[0]):
        if seen >= n_used:
            break
        active = pos_i[s, PI_ACTIVE]
        if active != 0:
            seen += 1
            if active == 1:
                j = pos_i[s, PI_MINT]
                held += pos_i[s, PI_QTY] / mint_f[j, MF_SCALE] * mint_f[j, MF_LAST_PRICE]
    return held


@njit(cache=True, error_model="numpy", _nrt=False)
def _open_risk(pos_i: np.ndarray, pos_f: np.ndarray, mint_f: np.ndarray) -> float:
    """Open risk in SOL: what the portfolio loses if every stop fills at its price.

    Positions count (entry - stop) x remaining size (a stop at or above entry risks
    nothing); pending entries count their budget, stop fraction x spend.
    """
    r = 0.0
    for s in range(pos_i.shape[0]):
        if pos_i[s, PI_ACTIVE] == 1:
            j = pos_i[s, PI_MINT]
            gap = pos_f[s, PF_ENTRY_PRICE] - pos_f[s, PF_STOP_PRICE]
            if gap > 0.0:
                r += gap * pos_i[s, PI_QTY] / mint_f[j, MF_SCALE]
        elif pos_i[s, PI_ACTIVE] == 2:
            r += pos_f[s, PF_RISK_SOL]
    return r


@njit(cache=True, error_model="numpy", _nrt=False)
def _decide(
    m: int,
    t: int,
    seq: int,
    trigger: int,
    sources: int,
    scan_score: float,
    params: np.ndarray,
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
    dec: np.ndarray,
    globf: np.ndarray,
) -> int:
    """The decision engine for a flat mint: score, choose, size, guard, log, order.

    Seed "determineAction": strong sell overrides; buy at `min_buy_confidence` with an
    up trend and liquidity > `min_liquidity`; hold from `hold_confidence`; else skip.
    A buy then passes the guards (breakers, slots, correlation, portfolio risk, size,
    cash) or becomes a skip naming the guard. Holds and skips (and sells of mints we do
    not hold) are logged at most once per `decision_log_interval_s` per mint.
    """
    conf = _scores(m, t, params, mint_f, mint_i, bars, sig, dec, globf)
    p = dec[OF_PRICE]
    dec[OF_SCAN_SCORE] = scan_score
    meme = _is_meme(m, params, sig)
    liq = mint_f[m, MF_LIQ]
    liq_v = liq if liq > 0.0 else 0.0
    trend_up = dec[OF_TREND] > TREND_EPS or params[_REQ_TREND] < 0.5
    liq_ok = liq_v > globf[GF_MIN_LIQ]
    if _strong_sell(m, params, sig, dec):
        action = A_SELL
        reason = R_STRONG_SELL
    elif conf >= params[_MIN_BUY] and trend_up and liq_ok:
        action = A_BUY
        reason = R_ENTRY
    elif conf >= params[_HOLD_CONF]:
        action = A_HOLD
        reason = R_HOLD_ZONE
        if conf >= params[_MIN_BUY]:
            reason = R_TREND_NOT_UP if not trend_up else R_LOW_LIQ
    else:
        action = A_SKIP
        reason = R_LOW_CONF

    # Exit plan and size (seed "sizePosition"), recommended whatever the action.
    sigma = dec[OF_VOLATILITY]
    stop_frac = min(params[_STOP] * (1.0 + params[_VOL_SCALE] * sigma), params[_STOP_CAP])
    stop_px = p * (1.0 - stop_frac)
    dec[OF_TP1] = p * (1.0 + params[_TP1])
    dec[OF_TP2] = p * (1.0 + params[_TP2])
    dec[OF_TP3] = p * (1.0 + params[_TP3])
    max_hold = params[_TIME_STOP] if meme else params[_TIME_STOP_OTHER]
    trailing = 1 if conf > params[_TRAIL_CONF] else 0
    size = (
        params[_MIN_POS_SOL]
        * conf
        / params[_SIZE_REF]
        * max(0.5, (10.0 - dec[OF_RISK_SCORE]) / 10.0)
    )
    if liq_v > 0.0:
        size = min(size, params[_LIQ_CAP] * liq_v)
    size = min(size, params[_MAX_POS_SOL])

    netfee = np.int64(params[_NET_FEE] + params[_PRIO_FEE])
    if action == A_BUY:
        equity = _equity(glob, pos_i, mint_f) / 1e9
        open_risk = _open_risk(pos_i, pos_f, mint_f)
        capped = False
        if glob[G_BREAKERS] != 0:
            action = A_SKIP
            reason = R_BREAKER
        elif glob[G_SLOTS_USED] >= np.int64(params[_MAX_POS]):
            action = A_SKIP
            reason = R_MAX_POS
        else:
            corr = _max_correlation(m, t, params, mint_f, mint_i, bars, pos_i)
            dec[OF_CORR] = corr
            if corr > params[_MAX_CORR]:
                action = A_SKIP
                reason = R_CORRELATED
            else:
                budget = params[_MAX_PORT_RISK] * equity - open_risk
                if stop_frac > 0.0 and size * stop_frac > budget:
                    size = max(budget, 0.0) / stop_frac
                    capped = True
                if size < params[_MIN_ORDER]:
                    action = A_SKIP
                    reason = R_PORT_RISK if capped else R_TOO_SMALL
        if action == A_BUY:
            spend = np.int64(math.floor(size * 1e9))
            need = spend + netfee * (1 + EXIT_FEE_RESERVE_TX)
            if glob[G_CASH] - glob[G_RESERVED] < need:
                action = A_SKIP
                reason = R_NO_CASH
        if equity > 0.0:
            dec[OF_PORT_RISK] = (open_risk + (size * stop_frac if action == A_BUY else 0.0)) / (
                equity
            )
    dec[OF_SIZE_SOL] = size
    if action != A_BUY:
        if t < mint_i[m, MI_LOG_AFTER]:
            return n_out
        mint_i[m, MI_LOG_AFTER] = t + np.int64(params[_LOG_IV] * 1e9)
        did = glob[G_NEXT_DEC_ID] + 1
        glob[G_NEXT_DEC_ID] = did
        side = -1 if action == A_SELL else 0
        n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, 0, side, reason, 0,
                      np.int64(size * 1e9), 0, 0, 0, seq, p, conf, stop_px, did)  # fmt: skip
        _context(out_i, out_f, n_out - 1, dec, action, trigger, sources,
                 np.int64(max_hold), trailing)  # fmt: skip
        return n_out

    latency = np.int64(params[_LATENCY] * 1e6)
    spend = np.int64(math.floor(size * 1e9))
    need = spend + netfee * (1 + EXIT_FEE_RESERVE_TX)
    slot = 0
    while pos_i[slot, PI_ACTIVE] != 0:
        slot += 1
    did = glob[G_NEXT_DEC_ID] + 1
    glob[G_NEXT_DEC_ID] = did
    o, oid = _place_order(ord_i, glob, m, 1, t, t + latency, 0, spend, R_ENTRY, slot, need, did,
                          seq)  # fmt: skip
    ord_i[o, OI_MAX_HOLD] = np.int64(max_hold * 1e9)
    pos_i[slot, PI_ACTIVE] = 2  # reserved for this pending entry
    pos_i[slot, PI_MINT] = m
    pos_f[slot, PF_RISK_SOL] = size * stop_frac
    ord_f[o, OF_STOP_FRAC] = stop_frac
    ord_f[o, OF_CONF] = conf
    ord_f[o, OF_DECISION_PRICE] = p
    glob[G_RESERVED] += need
    glob[G_SLOTS_USED] += 1
    mint_i[m, MI_PENDING_ORDER] = o
    n_out = _emit(out_i, out_f, n_out, DECIDED, t, m, 0, 0, 1, R_ENTRY, 0, spend, 0, 0, 0,
                  seq, p, conf, stop_px, did)  # fmt: skip
    _context(out_i, out_f, n_out - 1, dec, A_BUY, trigger, sources, np.int64(max_hold), trailing)
    n_out = _emit(out_i, out_f, n_out, ORDER_PLACED, t, m, oid, 0, 1, R_ENTRY, 0, spend, 0,
                  0, 0, seq, p, conf, stop_px, did)  # fmt: skip
    glob[G_DAY_TRADES] += 1
    if glob[G_DAY_TRADES] >= np.int64(params[_MAX_TRADES]):
        n_out = _trip(out_i, out_f, n_out, glob, BK_TRADES, t, m, seq,
                      float(glob[G_DAY_TRADES]), params[_MAX_TRADES])  # fmt: skip
    return n_out


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _scan_sources(
    j: int,
    t: int,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
) -> tuple[int, float]:
    """Scanner sources mint j matches (bits) and its composite score (0: none).

    Each matching source adds weight x strength, strength being how far past its
    threshold the mint is (1 at the threshold), capped at 3 so one extreme source
    cannot drown the others.
    """
    p = mint_f[j, MF_LAST_PRICE]
    bits = 0
    score = 0.0
    age = (t - mint_i[j, MI_FIRST_TS]) / NS_PER_MIN
    vol60 = mint_f[j, MF_VOL60]
    if age < params[_FRESH_AGE] and vol60 > params[_FRESH_VOL]:
        bits |= 1
        score += params[_SRC_FRESH] * (2.0 - age / params[_FRESH_AGE])
    spike = feature_value(14, j, t, params, mint_f, mint_i, bars, sig)
    if spike >= params[_SPIKE]:
        bits |= 2
        score += params[_SRC_SPIKE] * min(spike / params[_SPIKE], 3.0)
    high = mint_f[j, MF_NBAR_HIGH]
    if high > 0.0 and p > high:
        bits |= 4
        score += params[_SRC_BREAKOUT] * min(1.0 + (p / high - 1.0) / params[_MOM_SCALE], 3.0)
    mcap = _market_cap(j, p, params, sig)
    if mcap > 0.0:
        ratio = vol60 / mcap
        if ratio >= params[_TRENDING]:
            bits |= 8
            score += params[_SRC_TRENDING] * min(ratio / params[_TRENDING], 3.0)
    return bits, score


@njit(cache=True, error_model="numpy", _nrt=False)
def usd_thresholds_nb(params: np.ndarray, globf: np.ndarray) -> None:
    """The liquidity and market-cap thresholds in force, in SOL.

    A threshold set in USD (above 0) replaces the SOL one while a SOL/USD reference
    price is known; otherwise the SOL parameter applies.
    """
    usd = globf[GF_SOL_USD]
    known = usd == usd
    globf[GF_MIN_LIQ] = params[_MIN_LIQ]
    if known and params[_MIN_LIQ_USD] > 0.0:
        globf[GF_MIN_LIQ] = params[_MIN_LIQ_USD] / usd
    globf[GF_MCAP_LO] = params[_MCAP_LO]
    globf[GF_MCAP_HI] = params[_MCAP_HI]
    if known and params[_MCAP_HI_USD] > 0.0:
        globf[GF_MCAP_LO] = max(params[_MCAP_LO_USD], 1e-9) / usd
        globf[GF_MCAP_HI] = params[_MCAP_HI_USD] / usd


@njit(cache=True, error_model="numpy", _nrt=False)
def _adaptive_interval(
    t: int, params: np.ndarray, mint_f: np.ndarray, mint_i: np.ndarray, bars: np.ndarray,
    pos_i: np.ndarray, base: int,
) -> int:  # fmt: skip
    """The next scan interval (ns) by the seed's "Adaptive Timing" rule.

    The market's hourly change is the mean |ret_1h| and its daily change the mean
    |price / the day's first price - 1| of the mints traded in the last hour (a mint
    first seen this hour counts its change since then).
    """
    n_h = 0
    s_h = 0.0
    n_d = 0
    s_d = 0.0
    day = t // NS_PER_DAY
    for j in range(mint_f.shape[0]):
        if mint_i[j, MI_TICKS] == 0 or t - mint_i[j, MI_LAST_TS] > NS_PER_HOUR:
            continue
        last = mint_f[j, MF_LAST_PRICE]
        k = mint_i[j, MI_CUR_MIN] - 60
        ref = (
            mint_f[j, MF_FIRST_PRICE] if k < mint_i[j, MI_FIRST_MIN] else bars[j, k % RING, B_CLOSE]
        )
        r = last / ref - 1.0
        if r == r:
            s_h += abs(r)
            n_h += 1
        if mint_i[j, MI_DAY] == day:
            s_d += abs(last / mint_f[j, MF_DAY_OPEN] - 1.0)
            n_d += 1
    iv = base
    if n_h > 0 and s_h / n_h > params[_SCAN_HOT]:
        iv = np.int64(params[_SCAN_FAST] * 1e9)
    elif n_d > 0 and s_d / n_d < params[_SCAN_QUIET]:
        iv = np.int64(params[_SCAN_SLOW] * 1e9)
    n_open = 0
    for s in range(pos_i.shape[0]):
        if pos_i[s, PI_ACTIVE] == 1:
            n_open += 1
    if n_open > params[_SCAN_BUSY_N]:
        iv = min(iv, np.int64(params[_SCAN_BUSY] * 1e9))
    return iv


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def params_conflict_nb(params: np.ndarray) -> bool:
    """True when the vector breaks a rule that ties parameters together.

    The same rules `engine.params.make_params` enforces when a run starts (a test
    checks they agree), so a change mid-run cannot reach a state no run could start in.
    """
    return (
        params[_TP1_FRAC] + params[_TP2_FRAC] > 1.0
        or not (params[_TP1] < params[_TP2] < params[_TP3])
        or params[_HOLD_CONF] > params[_MIN_BUY]
        or params[_MCAP_LO] >= params[_MCAP_HI]
        or (params[_MCAP_HI_USD] > 0.0 and params[_MCAP_LO_USD] >= params[_MCAP_HI_USD])
    )


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def _refused(
    out_i: np.ndarray, out_f: np.ndarray, n: int, t: int, seq: int, what: int, code: int,
    index: int, value: float, kept: float,
) -> int:  # fmt: skip
    n = _emit(out_i, out_f, n, CONTROL_REFUSED, t, -1, 0, 0, 0, index, 0, 0, 0, 0, 0, seq,
              value, kept, NAN, 0)  # fmt: skip
    out_i[n - 1, O_ACTION] = code
    out_i[n - 1, O_TRIGGER] = what
    return n


@njit(cache=True, error_model="numpy", _nrt=False)
def _change_param(
    index: int, value: float, code: int, t: int, seq: int, params: np.ndarray,
    out_i: np.ndarray, out_f: np.ndarray, n: int,
) -> tuple[bool, int]:  # fmt: skip
    """Apply (or refuse) one parameter change; (applied?, outputs)."""
    if index < 0 or index >= N_PARAMS:
        return False, _refused(out_i, out_f, n, t, seq, CTL_PARAM, REF_INVALID_VALUE, index,
                              value, NAN)  # fmt: skip
    old = params[index]
    if code == 0 and index == _CASH0:
        code = REF_FIXED_AT_START
    if code == 0:
        params[index] = value
        if params_conflict_nb(params):
            params[index] = old
            code = REF_CONFLICT
    if code != 0:
        return False, _refused(out_i, out_f, n, t, seq, CTL_PARAM, code, index, value, old)
    n = _emit(out_i, out_f, n, PARAM_CHANGED, t, -1, 0, 0, 0, index, 0, 0, 0, 0, 0, seq, value,
              old, NAN, 0)  # fmt: skip
    return True, n


@njit(cache=True, error_model="numpy", _nrt=False)
def _change_conditions(
    kind: int, count: int, value: float, code: int, t: int, seq: int, cond: np.ndarray,
    glob: np.ndarray, out_i: np.ndarray, out_f: np.ndarray, n: int,
) -> int:  # fmt: skip
    """A condition-set header or one of its conditions; the set swaps in at its last."""
    if kind == CONDITIONS:
        if code != 0 or count < 0 or count > MAX_CONDITIONS:
            glob[G_COND_STAGE] = -1
            return _refused(out_i, out_f, n, t, seq, CTL_CONDITIONS,
                            code if code != 0 else REF_INVALID_CONDITIONS,
                            -1, NAN, NAN)  # fmt: skip
        glob[G_COND_STAGE] = count
        glob[G_COND_HAVE] = 0
    elif glob[G_COND_STAGE] > glob[G_COND_HAVE]:
        k = glob[G_COND_HAVE]
        cond[CS_STAGE, k, C_FEATURE] = count // 4
        cond[CS_STAGE, k, C_OP] = count % 4
        cond[CS_STAGE, k, C_THRESHOLD] = value
        glob[G_COND_HAVE] = k + 1
    else:
        return n  # a condition without its header (never written by Clanka): ignored
    if glob[G_COND_HAVE] < glob[G_COND_STAGE]:
        return n
    old = glob[G_COND_N]
    new = glob[G_COND_STAGE]
    for c in range(MAX_CONDITIONS):
        for f in range(3):
            cond[CS_ACTIVE, c, f] = cond[CS_STAGE, c, f] if c < new else 0.0
    glob[G_COND_N] = new
    glob[G_COND_STAGE] = -1
    return _emit(out_i, out_f, n, CONDITIONS_CHANGED, t, -1, 0, 0, 0, 0, new, old, 0, 0, 0, seq,
                 NAN, NAN, NAN, 0)  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def tick_before_due_nb(t: int, glob: np.ndarray, n_cand: int) -> bool:
    """Whether `event_before_nb` has anything to do for a tick at t.

    Only an equity mark, a new UTC day or a due scan: without one of them a caller may
    skip the call for a tick.
    """
    return (
        t >= glob[G_MARK_END] or t >= glob[G_DAY_END] or (n_cand > 0 and t >= glob[G_NEXT_SCAN_TS])
    )


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def take_mark_nb(t: int, glob: np.ndarray) -> int:
    """Close the equity mark a tick at t (>= G_MARK_END) is due; return its time.

    NO_DAY_YET before the first tick: no mark then. The mark values the state as it
    stands before the tick (cash plus `held_sol_nb`); the next falls due at the end of
    t's minute.
    """
    end = glob[G_MARK_END]
    glob[G_MARK_END] = (t // NS_PER_MIN + 1) * NS_PER_MIN
    return end


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def next_due_nb(glob: np.ndarray, n_cand: int) -> int:
    """The earliest tick time at which `tick_before_due_nb` turns true.

    A caller with many states (a sweep's sets) keeps the least of theirs and skips every
    one of them for a tick before it.
    """
    due = min(glob[G_MARK_END], glob[G_DAY_END])
    if n_cand > 0:
        due = min(due, glob[G_NEXT_SCAN_TS])
    return due


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def event_before_nb(
    i: int,
    in_kind: np.ndarray,
    in_ts: np.ndarray,
    in_seq: np.ndarray,
    in_mint: np.ndarray,
    in_price: np.ndarray,
    in_size: np.ndarray,
    in_liq: np.ndarray,
    in_sig_kind: np.ndarray,
    in_sig_value: np.ndarray,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    pos_f: np.ndarray,
    pos_i: np.ndarray,
    ord_f: np.ndarray,
    ord_i: np.ndarray,
    glob: np.ndarray,
    dec: np.ndarray,
    top: np.ndarray,
    cond: np.ndarray,
    globf: np.ndarray,
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    ki: tuple[int, int, int, int, int, int, int, int, bool, bool],
    kf: tuple[float, float, float, float, float, float, float, float],
) -> tuple[int, int]:
    """Event i up to its features; return (outputs, GO_*).

    The equity mark, the UTC day, controls, the scanner, heartbeats and a live venue's
    reports.

    Everything here reads the features as they stood before the event. GO_TICK: the
    event is a tick whose features and actions follow (`features_nb`, `tick_after_nb`);
    GO_NEXT: the event is done; GO_RESUME: a parameter changed (re-derive its values).
    """
    latency, cooldown, _, _, _, scan_iv, n_cand, _, _, _ = ki
    max_slip = kf[7]
    n_mints = mint_f.shape[0]
    kind = in_kind[i]
    t = in_ts[i]
    seq = in_seq[i]
    # ----------------------------------------- 0. equity mark, UTC day, controls, scan
    if kind == TICK and t >= glob[G_MARK_END]:
        # The equity curve: a mark per minute that had a tick, taken before the first
        # tick of a later minute changes anything (replay's report and sweeps fold it).
        end = take_mark_nb(t, glob)
        if end != NO_DAY_YET:
            held = held_sol_nb(pos_i, mint_f, glob[G_SLOTS_USED])
            n_out = _emit(out_i, out_f, n_out, EQUITY_MARKED, end, -1, 0, 0, 0, 0, 0,
                          glob[G_CASH], 0, 0, 0, seq, held, NAN, NAN, 0)  # fmt: skip
    if t >= glob[G_DAY_END]:
        if glob[G_DAY_END] != NO_DAY_YET:
            n_out = _reset_breakers(out_i, out_f, n_out, glob, t, seq, CAUSE_NEW_DAY, True)
        glob[G_DAY_END] = (t // NS_PER_DAY + 1) * NS_PER_DAY
        glob[G_DAY_PNL] = 0
        glob[G_DAY_TRADES] = 0
        glob[G_CONSEC_LOSSES] = 0
        glob[G_DAY_START_EQUITY] = np.int64(_equity(glob, pos_i, mint_f))
    if kind == SIGNAL:
        k = in_sig_kind[i]
        if 0 <= k < N_SIG:
            if in_mint[i] >= 0:
                sig[in_mint[i], k] = in_sig_value[i]
        elif k == SIG_SOL_USD:
            v = in_sig_value[i]
            globf[GF_SOL_USD] = v if v > 0.0 and v < np.inf else NAN
            usd_thresholds_nb(params, globf)
        elif k == SIG_EMERGENCY and in_sig_value[i] != 0.0:
            n_out = _trip(out_i, out_f, n_out, glob, BK_EMERGENCY, t, -1, seq,
                          in_sig_value[i], 0.0)  # fmt: skip
        elif k == SIG_EXIT_ALL and in_sig_value[i] != 0.0:
            glob[G_EXIT_ALL] = 1
            n_out = _trip(out_i, out_f, n_out, glob, BK_EMERGENCY, t, -1, seq,
                          in_sig_value[i], 0.0)  # fmt: skip
            n_out = _exit_all(out_i, out_f, n_out, glob, mint_i, mint_f, pos_i, pos_f,
                              ord_i, ord_f, t, seq, latency)  # fmt: skip
        elif k == SIG_RESET:
            glob[G_EXIT_ALL] = 0
            n_out = _reset_breakers(out_i, out_f, n_out, glob, t, seq, CAUSE_MANUAL, False)
            glob[G_DAY_PNL] = 0
            glob[G_DAY_TRADES] = 0
            glob[G_CONSEC_LOSSES] = 0
        return n_out, GO_NEXT
    if kind == PARAM:
        changed, n_out = _change_param(in_sig_kind[i], in_sig_value[i], in_size[i], t,
                                       seq, params, out_i, out_f, n_out)  # fmt: skip
        if changed:
            return n_out, GO_RESUME
        return n_out, GO_NEXT
    if kind in (CONDITIONS, CONDITION):
        n_out = _change_conditions(kind, in_sig_kind[i], in_sig_value[i], in_size[i], t,
                                   seq, cond, glob, out_i, out_f, n_out)  # fmt: skip
        return n_out, GO_NEXT
    if n_cand > 0 and t >= glob[G_NEXT_SCAN_TS]:
        # The scanner ranks every recently traded flat mint on the state as it stood
        # before this event, and hands the top `max_candidates` to the decision engine.
        n_top = 0
        for j in range(n_mints):
            if (
                mint_i[j, MI_TICKS] == 0
                or t - mint_i[j, MI_LAST_TS] > scan_iv
                or mint_i[j, MI_POS_SLOT] >= 0
                or mint_i[j, MI_PENDING_ORDER] >= 0
                or t < mint_i[j, MI_COOLDOWN_UNTIL]
                or t < mint_i[j, MI_SCAN_UNTIL]
            ):
                continue
            bits, score = _scan_sources(j, t, params, mint_f, mint_i, bars, sig)
            if bits == 0 or not (score > 0.0):
                continue
            # Insert into the sorted top list (ties keep the lower mint id first).
            r = n_top
            while r > 0 and top[r - 1, 1] < score:
                r -= 1
            if r >= n_cand:
                continue
            last = min(n_top, n_cand - 1)
            for q in range(last, r, -1):
                for f in range(3):
                    top[q, f] = top[q - 1, f]
            top[r, 0] = j
            top[r, 1] = score
            top[r, 2] = bits
            n_top = min(n_top + 1, n_cand)
        for r in range(n_top):
            j = np.int64(top[r, 0])
            mint_i[j, MI_SCAN_UNTIL] = t + np.int64(params[_SCAN_COOL] * 1e9)
            bits = np.int64(top[r, 2])
            n_out = _decide(j, t, seq, TRIG_SCANNER, bits, top[r, 1], params, mint_f,
                            mint_i, bars, sig, pos_f, pos_i, ord_f, ord_i, glob, out_i,
                            out_f, n_out, dec, globf)  # fmt: skip
        iv = scan_iv
        if params[_ADAPTIVE] >= 0.5:
            iv = _adaptive_interval(t, params, mint_f, mint_i, bars, pos_i, scan_iv)
        glob[G_NEXT_SCAN_TS] = (t // iv + 1) * iv
    if kind == HEARTBEAT:
        if glob[G_EXIT_ALL] == 1:
            n_out = _exit_all(out_i, out_f, n_out, glob, mint_i, mint_f, pos_i, pos_f,
                              ord_i, ord_f, t, seq, latency)  # fmt: skip
        for s in range(pos_i.shape[0]):
            if pos_i[s, PI_ACTIVE] != 1:
                continue
            m = pos_i[s, PI_MINT]
            if (
                mint_i[m, MI_PENDING_ORDER] >= 0
                or t - pos_i[s, PI_OPENED_TS] < pos_i[s, PI_MAX_HOLD]
            ):
                continue
            n_out = _place_exit(out_i, out_f, n_out, glob, mint_i, pos_i, pos_f, ord_i,
                                ord_f, s, m, pos_i[s, PI_QTY], R_TIME,
                                mint_f[m, MF_LAST_PRICE], 0.0, t, seq, latency)  # fmt: skip
        return n_out, GO_NEXT
    if kind == VENUE_ADJUST:
        # The chain wins (live start-up): cash, or the mint's open position, moves to
        # what the wallet holds; a position left with nothing closes as it is.
        m = in_mint[i]
        d = in_size[i]
        if m < 0:
            glob[G_CASH] += d
        elif m < n_mints and mint_i[m, MI_POS_SLOT] >= 0:
            slot = mint_i[m, MI_POS_SLOT]
            pos_i[slot, PI_QTY] = max(np.int64(0), pos_i[slot, PI_QTY] + d)
            if pos_i[slot, PI_QTY] == 0 and mint_i[m, MI_PENDING_ORDER] < 0:
                n_out = _close_position(out_i, out_f, n_out, params, glob, mint_i, pos_i,
                                        pos_f, slot, m, t, seq, 0, pos_i[slot, PI_POS_ID],
                                        R_RECONCILED, mint_f[m, MF_LAST_PRICE],
                                        cooldown)  # fmt: skip
        return n_out, GO_NEXT
    if kind in (VENUE_FILL, VENUE_REJECT):
        # A live venue's report on the mint's pending order (engine.events.InputKind):
        # the order's id must match, else the report is stale and changes nothing.
        m = in_mint[i]
        o = mint_i[m, MI_PENDING_ORDER] if m < n_mints else -1
        if o < 0 or glob[G_VENUE] != VENUE_EXTERNAL or ord_i[o, OI_ID] != np.int64(in_sig_value[i]):
            return n_out, GO_NEXT
        scale = mint_f[m, MF_SCALE]
        decided_at = ord_f[o, OF_DECISION_PRICE]
        sol = np.int64(in_price[i])
        nf = np.int64(in_liq[i])
        qty = in_size[i]
        if kind == VENUE_REJECT or qty <= 0:
            why = np.int64(in_sig_kind[i]) if kind == VENUE_REJECT else R_REJ_SIZE
            if ord_i[o, OI_SIDE] == 1:
                n_out = _reject_buy(out_i, out_f, n_out, glob, mint_i, pos_i, ord_i, o, m, t,
                                    seq, why, nf, decided_at, 0.0)  # fmt: skip
            else:
                slot = ord_i[o, OI_SLOT]
                n_out = _reject_sell(out_i, out_f, n_out, glob, pos_i, pos_f, ord_i, ord_f, o,
                                     m, t, seq, why, min(ord_i[o, OI_QTY],
                                                         pos_i[slot, PI_QTY]), nf,
                                     mint_f[m, MF_LAST_PRICE], 0.0, latency)  # fmt: skip
            return n_out, GO_NEXT
        price = sol / 1e9 / (qty / scale)
        impact = abs(price / decided_at - 1.0) if decided_at > 0.0 else 0.0
        if ord_i[o, OI_SIDE] == 1:
            slip = sol - np.int64(qty / scale * decided_at * 1e9)
            n_out = _fill_buy(out_i, out_f, n_out, params, glob, mint_i, mint_f, pos_i, pos_f,
                              ord_i, ord_f, o, m, t, seq, qty, sol, 0, nf, slip, price,
                              impact, max_slip)  # fmt: skip
        else:
            slot = ord_i[o, OI_SLOT]
            qty = min(qty, pos_i[slot, PI_QTY])
            slip = np.int64(qty / scale * decided_at * 1e9) - sol
            n_out = _fill_sell(out_i, out_f, n_out, params, glob, mint_i, pos_i, pos_f,
                               ord_i, o, m, t, seq, qty, sol, 0, nf, slip, price, impact,
                               max_slip, cooldown)  # fmt: skip
        return n_out, GO_NEXT

    return n_out, GO_TICK


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def features_nb(
    i: int,
    in_ts: np.ndarray,
    in_mint: np.ndarray,
    in_price: np.ndarray,
    in_size: np.ndarray,
    in_liq: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    decay: float,
    alpha: float,
    a_fast: float,
    a_slow: float,
    keep_f: float,
    keep_s: float,
    n_bars: int,
) -> None:
    """Tick i's per-mint features: bars, volumes, EMAs, volatility, range, liquidity.

    They depend on the tick and on four parameters only (the volatility half-life, the
    two EMA lengths and the bar lookback), never on positions, orders or other
    parameters: parameter sets that share those four can share one copy of them
    (replay.sweep.sweep_nb's shared mode).
    """
    t = in_ts[i]
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
        mint_f[m, MF_EMA_FAST] = p
        mint_f[m, MF_EMA_SLOW] = p
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
            # Empty minutes in between are zero returns: the variance only decays,
            # and the EMAs move toward the unchanged close once per minute.
            if gap == 1:  # the common case: no pow() on the hot path
                mint_f[m, MF_EWMA_VAR] = var
                mint_f[m, MF_EMA_FAST] += a_fast * (close - mint_f[m, MF_EMA_FAST])
                mint_f[m, MF_EMA_SLOW] += a_slow * (close - mint_f[m, MF_EMA_SLOW])
            else:
                mint_f[m, MF_EWMA_VAR] = var * decay ** (gap - 1)
                ema_f = mint_f[m, MF_EMA_FAST]
                ema_s = mint_f[m, MF_EMA_SLOW]
                mint_f[m, MF_EMA_FAST] = close + (ema_f - close) * keep_f**gap
                mint_f[m, MF_EMA_SLOW] = close + (ema_s - close) * keep_s**gap
            mint_f[m, MF_PREV_CLOSE] = close
            if gap >= RING:
                for s in range(RING):
                    bars[m, s, B_VOL] = 0.0
                    bars[m, s, B_CLOSE] = close
                    bars[m, s, B_HIGH] = close
                    bars[m, s, B_LOW] = close
                mint_f[m, MF_VOL5] = 0.0
                mint_f[m, MF_VOL60] = 0.0
            else:
                v5 = mint_f[m, MF_VOL5]
                v60 = mint_f[m, MF_VOL60]
                for k in range(cur + 1, minute + 1):
                    v5 -= bars[m, (k - 5) % RING, B_VOL]
                    v60 -= bars[m, (k - 60) % RING, B_VOL]
                    s = k % RING
                    bars[m, s, B_VOL] = 0.0
                    bars[m, s, B_CLOSE] = close
                    bars[m, s, B_HIGH] = close
                    bars[m, s, B_LOW] = close
                mint_f[m, MF_VOL5] = max(v5, 0.0)
                mint_f[m, MF_VOL60] = max(v60, 0.0)
            hi = -np.inf
            lo = np.inf
            first_min = mint_i[m, MI_FIRST_MIN]
            for k in range(max(minute - n_bars, first_min), minute):
                hi = max(hi, bars[m, k % RING, B_HIGH])
                lo = min(lo, bars[m, k % RING, B_LOW])
            mint_f[m, MF_NBAR_HIGH] = hi if hi > -np.inf else NAN
            mint_f[m, MF_NBAR_LOW] = lo if lo < np.inf else NAN
            mint_i[m, MI_CUR_MIN] = minute
            new_bar = True
    s_bar = minute % RING
    if new_bar and mint_i[m, MI_DAY] != minute // 1440:
        # The first bar of a new UTC day opens it (the adaptive scan's daily change).
        mint_i[m, MI_DAY] = minute // 1440
        mint_f[m, MF_DAY_OPEN] = p
    if new_bar:
        bars[m, s_bar, B_HIGH] = p
        bars[m, s_bar, B_LOW] = p
    else:  # branch-free min/max: a price's rank in its minute is unpredictable
        bars[m, s_bar, B_HIGH] = max(bars[m, s_bar, B_HIGH], p)
        bars[m, s_bar, B_LOW] = min(bars[m, s_bar, B_LOW], p)
    bars[m, s_bar, B_CLOSE] = p
    vol = p * q / scale
    bars[m, s_bar, B_VOL] += vol
    mint_f[m, MF_VOL5] += vol
    mint_f[m, MF_VOL60] += vol
    mint_f[m, MF_VOL_TOTAL] += vol
    mint_f[m, MF_LAST_PRICE] = p
    mint_i[m, MI_TICKS] += 1
    mint_i[m, MI_LAST_TS] = t
    if liq > 0.0 and liq < np.inf:
        mint_f[m, MF_LIQ] = liq


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def tick_after_nb(
    m: int,
    t: int,
    seq: int,
    p: float,
    params: np.ndarray,
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    pos_f: np.ndarray,
    pos_i: np.ndarray,
    ord_f: np.ndarray,
    ord_i: np.ndarray,
    glob: np.ndarray,
    dec: np.ndarray,
    cond: np.ndarray,
    globf: np.ndarray,
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
    ki: tuple[int, int, int, int, int, int, int, int, bool, bool],
    kf: tuple[float, float, float, float, float, float, float, float],
) -> int:
    """A tick after its features: the simulated venue, exits, then entry; return outputs.

    m, t, seq and p are the tick's mint, time, input seq and price: the caller reads
    them once, before `features_nb` (which reads the same), so they stay in registers.
    """
    latency, cooldown, netfee, min_need, max_pos, _, _, _, score_exits, need_trend = ki
    _, _, a_fast, a_slow, _, _, fee_bps, max_slip = kf
    scale = mint_f[m, MF_SCALE]
    min_liq = globf[GF_MIN_LIQ]
    liq_known = mint_f[m, MF_LIQ] > 0.0

    # ------------------------------------------------------- 2. simulated venue
    o = mint_i[m, MI_PENDING_ORDER]
    if (
        o >= 0
        and glob[G_VENUE] == VENUE_SIMULATED
        and ord_i[o, OI_DUE_TS] <= t
        and (ord_i[o, OI_PLACED_SEQ] != seq or ord_i[o, OI_PLACED_TS] != t)
    ):
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
                n_out = _reject_buy(out_i, out_f, n_out, glob, mint_i, pos_i, ord_i, o, m, t,
                                    seq, why_rej, 0, p, impact)  # fmt: skip
            else:
                tokens = np.int64(tokens_f)
                n_out = _fill_buy(out_i, out_f, n_out, params, glob, mint_i, mint_f, pos_i,
                                  pos_f, ord_i, ord_f, o, m, t, seq, tokens, pay, fee, netfee,
                                  np.int64(net * impact), net_sol / (tokens / scale), impact,
                                  max_slip)  # fmt: skip
        else:
            slot = ord_i[o, OI_SLOT]
            qty = min(ord_i[o, OI_QTY], pos_i[slot, PI_QTY])
            value = qty / scale * p
            impact = (
                value / (mint_f[m, MF_LIQ] + value) if liq_known else params[_FIXED_SLIP] / 10_000.0
            )
            exit_slip = impact * 10_000.0 > params[_EXIT_SLIP]
            if exit_slip or value * 1e9 >= MAX_RAW:
                # Rejected as Jupiter would; an exit is retried from the next tick.
                why_rej = R_REJ_SLIP if exit_slip else R_REJ_SIZE
                n_out = _reject_sell(out_i, out_f, n_out, glob, pos_i, pos_f, ord_i, ord_f,
                                     o, m, t, seq, why_rej, qty, 0, p, impact,
                                     latency)  # fmt: skip
            else:
                gross = np.int64(math.floor(value * (1.0 - impact) * 1e9))
                fee = np.int64(gross * fee_bps / 10_000.0)
                n_out = _fill_sell(out_i, out_f, n_out, params, glob, mint_i, pos_i, pos_f,
                                   ord_i, o, m, t, seq, qty, gross - fee, fee, netfee,
                                   np.int64(value * 1e9) - gross, p * (1.0 - impact), impact,
                                   max_slip, cooldown)  # fmt: skip

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
            scored = False
            if glob[G_EXIT_ALL] == 1:
                why = R_EMERGENCY_EXIT
            elif p <= pos_f[slot, PF_STOP_PRICE]:
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
            elif t - pos_i[slot, PI_OPENED_TS] >= pos_i[slot, PI_MAX_HOLD]:
                why = R_TIME
            elif (
                pos_f[slot, PF_ENTRY_VOL60] > 0.0
                and mint_f[m, MF_VOL60] < params[_VOLDEATH] * pos_f[slot, PF_ENTRY_VOL60]
            ):
                why = R_VOLDEATH
            elif score_exits or sig[m, S_RISK] >= params[_SS_RISK]:
                # Scores lie in [0, 1]: with both score thresholds below 0 only an
                # external risk rating can flip a position, so skip scoring ticks.
                _scores(m, t, params, mint_f, mint_i, bars, sig, dec, globf)
                scored = True
                if _strong_sell(m, params, sig, dec):
                    why = R_SENT_FLIP
            if why == R_TP1 and sell == 0:
                pos_i[slot, PI_TARGETS_HIT] = 1  # nothing to sell at this target
                pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], entry)
            elif why == R_TP2 and sell == 0:
                pos_i[slot, PI_TARGETS_HIT] = 2
                tp1_price = entry * (1.0 + params[_TP1])
                pos_f[slot, PF_STOP_PRICE] = max(pos_f[slot, PF_STOP_PRICE], tp1_price)
            elif why != 0:
                n_out = _place_exit(out_i, out_f, n_out, glob, mint_i, pos_i, pos_f, ord_i,
                                    ord_f, slot, m, sell, why, p,
                                    pos_f[slot, PF_STOP_PRICE], t, seq, latency)  # fmt: skip
                if scored:  # the scores behind a strong-sell exit, on its decision row
                    _context(out_i, out_f, n_out - 2, dec, A_SELL, TRIG_POSITION, 0, 0, 0)
        return n_out

    # ----------------------------------------------------------------- 4. entry
    n_cond = glob[G_COND_N]
    if n_cond == 0 or mint_i[m, MI_PENDING_ORDER] >= 0 or t < mint_i[m, MI_COOLDOWN_UNTIL]:
        return n_out
    if (
        glob[G_SLOTS_USED] >= max_pos
        or glob[G_BREAKERS] != 0
        or glob[G_CASH] - glob[G_RESERVED] < min_need
    ):
        # Nothing can be bought: the sniper does not ask (the scanner still logs its
        # candidates' skips, and the breaker's own events say why).
        return n_out
    if t < mint_i[m, MI_LOG_AFTER]:
        # The engine's answer could only be logged if it were a buy; with the pool
        # too thin or the trend not up it cannot be: skip the trigger and scoring.
        liq = mint_f[m, MF_LIQ]
        ema_f = mint_f[m, MF_EMA_FAST] + a_fast * (p - mint_f[m, MF_EMA_FAST])
        ema_s = mint_f[m, MF_EMA_SLOW] + a_slow * (p - mint_f[m, MF_EMA_SLOW])
        if not ((liq if liq > 0.0 else 0.0) > min_liq) or not (
            ema_f / ema_s - 1.0 > TREND_EPS or not need_trend
        ):
            return n_out
    if conditions_pass_nb(m, t, params, mint_f, mint_i, bars, sig, cond, n_cond):
        n_out = _decide(m, t, seq, TRIG_SNIPER, 0, NAN, params, mint_f, mint_i, bars, sig,
                        pos_f, pos_i, ord_f, ord_i, glob, out_i, out_f, n_out,
                        dec, globf)  # fmt: skip
    return n_out


QB_UNTIL, QB_EPOCH = 0, 1
"""A quiet band's int64 columns (`quiet_band_nb`): the time it ends, and a caller's tag."""
QB_LO, QB_HI, QB_VOL_FLOOR = 2, 3, 4
"""A quiet band's float64 columns (the same row seen as float64)."""
N_QB = 8
"""Columns of a quiet band row: 64 bytes, one cache line."""


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def quiet_band_nb(
    m: int,
    params: np.ndarray,
    mint_i: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    glob: np.ndarray,
    sig: np.ndarray,
    score_exits: bool,
    band_i: np.ndarray,
    band_f: np.ndarray,
) -> bool:
    """Where a tick of mint m leaves the state untouched; False when there is no such band.

    For a mint the state holds with no order pending, `tick_after_nb` does nothing but its
    exit checks, and each is a comparison of the tick's price, time or 60 s volume with
    values only a change to this position (or a non-tick event) moves. This writes
    them into one row, the same 64 bytes seen as int64 (`band_i`) and as float64
    (`band_f`): a tick with `in_quiet_band_nb` true would raise no exit and move no
    trailing high. Each bound is the very expression `tick_after_nb` compares with, so
    the test is the exits' own, negated (a tick outside takes the full path, which may
    still do nothing: a price equal to the trailing high). No band with an emergency
    exit on, with
    score exits (they read scores every tick), or with the external risk rating already
    past its threshold. Valid until the position, the order book, the parameters or
    the risk rating change: the caller drops it then (a sweep tags it with an epoch);
    other signals it never reads (`signal_keeps_bands_nb`).
    """
    slot = mint_i[m, MI_POS_SLOT]
    if slot < 0 or mint_i[m, MI_PENDING_ORDER] >= 0 or glob[G_EXIT_ALL] == 1:
        return False
    if score_exits or sig[m, S_RISK] >= params[_SS_RISK]:
        return False
    entry = pos_f[slot, PF_ENTRY_PRICE]
    lo = pos_f[slot, PF_STOP_PRICE]
    hi = np.inf
    if pos_i[slot, PI_TRAILING] == 1:
        high = pos_f[slot, PF_TRAIL_HIGH]
        hi = high  # above it the trailing high moves
        lo = max(lo, high * (1.0 - params[_TRAIL_PCT]))
    hit = pos_i[slot, PI_TARGETS_HIT]
    if hit == 0:
        hi = min(hi, entry * (1.0 + params[_TP1]))
    elif hit == 1:
        hi = min(hi, entry * (1.0 + params[_TP2]))
    elif hit == 2:
        hi = min(hi, entry * (1.0 + params[_TP3]))
    opened = pos_i[slot, PI_OPENED_TS]
    hold = pos_i[slot, PI_MAX_HOLD]
    # t - opened >= hold, as t >= until (no band when the sum would overflow).
    if hold > 0 and opened > 0 and hold > I64_MAX - opened:
        return False
    until = opened + hold
    vol0 = pos_f[slot, PF_ENTRY_VOL60]
    band_i[QB_UNTIL] = until
    band_f[QB_LO] = lo
    band_f[QB_HI] = hi
    band_f[QB_VOL_FLOOR] = params[_VOLDEATH] * vol0 if vol0 > 0.0 else -np.inf
    return True


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def signal_keeps_bands_nb(
    i: int, in_kind: np.ndarray, in_sig_kind: np.ndarray, in_mint: np.ndarray
) -> bool:
    """Whether event i, if it made no output, leaves every quiet band as it was.

    True for a mint's signal of any kind but the risk rating: `event_before_nb` stores
    it and nothing else a band reads (a UTC day it opens resets day counters; a breaker
    reset there is output), and `quiet_band_nb` reads no signal but the risk rating
    (bands are off where score exits read the others). Kept here, beside the band, so
    the two change together.
    """
    k = in_sig_kind[i]
    return in_kind[i] == SIGNAL and 0 <= k < N_SIG and k != S_RISK and in_mint[i] >= 0


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def in_quiet_band_nb(
    t: int, p: float, vol60: float, band_i: np.ndarray, band_f: np.ndarray
) -> bool:
    """Whether a tick at time t, price p and 60 s volume vol60 falls in a quiet band.

    Each test is the negation of one of `tick_after_nb`'s exit checks (a NaN price
    falls outside: it takes the full path).
    """
    return (
        p > band_f[QB_LO]
        and p < band_f[QB_HI]
        and t < band_i[QB_UNTIL]
        and not (vol60 < band_f[QB_VOL_FLOOR])
    )


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def derived_ints_nb(
    params: np.ndarray,
) -> tuple[int, int, int, int, int, int, int, int, bool, bool]:
    """The integer (and flag) values the event loop derives from the parameters.

    (latency ns, re-entry cooldown ns, network fee per transaction, cash an entry needs,
    max positions, scan interval ns, scan candidates, bar lookback, score exits on, trend
    required); recomputed after every parameter change.
    """
    netfee = np.int64(params[_NET_FEE] + params[_PRIO_FEE])
    return (
        np.int64(params[_LATENCY] * 1e6),
        np.int64(params[_COOLDOWN] * 1e9),
        netfee,
        np.int64(params[_MIN_ORDER] * 1e9) + netfee * (1 + EXIT_FEE_RESERVE_TX),
        np.int64(params[_MAX_POS]),
        np.int64(params[_SCAN_IV] * 1e9),
        min(np.int64(params[_MAX_CAND]), MAX_CANDIDATES),
        np.int64(params[_BARS_N]),
        params[_SS_SOCIAL] >= 0.0 or params[_SS_TECH] >= 0.0,
        params[_REQ_TREND] >= 0.5,
    )


@njit(cache=True, inline="always", error_model="numpy", _nrt=False)
def derived_floats_nb(
    params: np.ndarray,
) -> tuple[float, float, float, float, float, float, float, float]:
    """The float values the event loop derives from the parameters.

    (volatility decay per minute and its complement, fast and slow EMA weights and their
    complements, DEX fee bps, slippage breaker limit).
    """
    decay = 0.5 ** (1.0 / params[_VOL_HL])
    a_fast = 2.0 / (params[_EMA_FAST] + 1.0)
    a_slow = 2.0 / (params[_EMA_SLOW] + 1.0)
    return (decay, 1.0 - decay, a_fast, a_slow, 1.0 - a_fast, 1.0 - a_slow, params[_DEX_FEE],
            params[_MAX_SLIP_PCT])  # fmt: skip


FEATURE_PARAMS = (_VOL_HL, _EMA_FAST, _EMA_SLOW, _BARS_N)
"""The parameters `features_nb` reads: sets equal in these can share their features."""


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
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
    mint_f: np.ndarray,
    mint_i: np.ndarray,
    bars: np.ndarray,
    sig: np.ndarray,
    pos_f: np.ndarray,
    pos_i: np.ndarray,
    ord_f: np.ndarray,
    ord_i: np.ndarray,
    glob: np.ndarray,
    dec: np.ndarray,
    top: np.ndarray,
    cond: np.ndarray,
    globf: np.ndarray,
    out_i: np.ndarray,
    out_f: np.ndarray,
    n_out: int,
) -> tuple[int, int, int]:
    """Process input events from `start`; return (next input index, outputs, status).

    `params` is the run's own vector: a parameter change writes into it (and returns
    STATUS_RESUME so the values derived from it are recomputed on the next call).
    """
    n_in = in_ts.shape[0]
    cap = out_i.shape[0]
    ki = derived_ints_nb(params)
    kf = derived_floats_nb(params)
    n_bars = ki[7]
    decay, alpha, a_fast, a_slow, keep_f, keep_s, _, _ = kf
    usd_thresholds_nb(params, globf)
    for i in range(start, n_in):
        if n_out + MAX_OUT_PER_EVENT > cap:
            return i, n_out, STATUS_OUT_FULL
        go = GO_TICK
        if in_kind[i] != TICK or tick_before_due_nb(in_ts[i], glob, ki[6]):
            # (a tick with no mark, day or scan due has nothing before its features)
            n_out, go = event_before_nb(i, in_kind, in_ts, in_seq, in_mint, in_price, in_size,
                                        in_liq, in_sig_kind, in_sig_value, params, mint_f,
                                        mint_i, bars, sig, pos_f, pos_i, ord_f, ord_i, glob,
                                        dec, top, cond, globf, out_i, out_f, n_out, ki,
                                        kf)  # fmt: skip
        if go == GO_RESUME:
            return i + 1, n_out, STATUS_RESUME
        if go == GO_NEXT:
            continue
        m = in_mint[i]
        t = in_ts[i]
        p = in_price[i]
        features_nb(i, in_ts, in_mint, in_price, in_size, in_liq, mint_f, mint_i, bars, decay,
                    alpha, a_fast, a_slow, keep_f, keep_s, n_bars)  # fmt: skip
        n_out = tick_after_nb(m, t, in_seq[i], p, params, mint_f, mint_i, bars, sig, pos_f,
                              pos_i, ord_f, ord_i, glob, dec, cond, globf, out_i, out_f, n_out,
                              ki, kf)  # fmt: skip
    return n_in, n_out, STATUS_DONE


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def mints_in_range_nb(in_kind: np.ndarray, in_mint: np.ndarray, n_mints: int) -> bool:
    """True when every tick's mint is in [0, n_mints) and every signal's in [-1, n_mints).

    One pass, no allocation: the wrapper runs it on every batch before `step_nb`.
    """
    for i in range(in_mint.shape[0]):
        m = in_mint[i]
        lo = 0 if in_kind[i] == TICK else -1
        if m < lo or m >= n_mints:
            return False
    return True


# numba keys a cache on this file alone; the files compiled into it count too.
key_on_sources(globals())
