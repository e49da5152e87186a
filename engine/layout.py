"""State layout of the kernel: column indices into a few packed 2-D arrays.

The kernel's state is struct-of-arrays packed into 2-D arrays (one row per mint, per
position slot, per order slot) so one compiled function can carry all of it without
passing dozens of arrays around (DESIGN.md section 3 measured a 13x slowdown for
that). Kernels import these constants; numba treats them as compile-time values.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

RING = 64
"""Slots in each mint's 1-minute bar ring (>= 61 so the bar 60 minutes ago survives)."""
MAX_SLOTS = 16
"""Position slots (max_positions is at most this)."""
MAX_ORDERS = 2 * MAX_SLOTS
EXIT_FEE_RESERVE_TX = 3
"""Exit transactions whose network fees an entry reserves (target 1, target 2, final)."""
MAX_CONDITIONS = 8
"""Conditions in one entry set (engine.conditions keeps the same limit)."""
MAX_CANDIDATES = 16
"""Upper bound of the scanner's `max_candidates` per scan."""
N_SIG = 16
"""Per-mint signal kinds kept (engine.codes.SignalKind values below this)."""
N_BREAKERS = 6
MAX_OUT_PER_EVENT = 2 * N_BREAKERS + 2 * MAX_SLOTS + 3 * MAX_CANDIDATES + 17
"""Output rows one input event can produce at most: breaker resets and trips, a
heartbeat time-stopping every slot, a scan buying every candidate (decision, order,
trades-breaker trip), one tick's equity mark, fill, exit and entry rows."""

# Per-mint floats. A tick reads and writes only columns 0-7 (one 64-byte cache line:
# rows are 16 wide and 64-byte aligned); the rest change once a minute or less.
MF_LAST_PRICE = 0
MF_VOL_TOTAL = 1  # quote volume since the first tick
MF_LIQ = 2
MF_NBAR_HIGH = 3
MF_NBAR_LOW = 4  # lowest low of the last N completed bars (support)
MF_VOL5 = 5
MF_VOL60 = 6
MF_SCALE = 7  # 10 ** decimals: raw units per whole token
MF_PREV_CLOSE = 8  # close of the last completed minute
MF_EMA_FAST = 9  # EMA of completed 1-minute closes
MF_EMA_SLOW = 10
MF_EWMA_VAR = 11
MF_FIRST_PRICE = 12
MF_DAY_OPEN = 13  # first price of the current UTC day (set when the day's first bar opens)
N_MF = 16

# Per-mint ints, laid out like the floats: what a tick touches is in columns 0-7.
MI_TICKS = 0
MI_CUR_MIN = 1
MI_POS_SLOT = 2  # -1: no position
MI_PENDING_ORDER = 3  # -1: none; an order slot otherwise (entry or exit)
MI_COOLDOWN_UNTIL = 4
MI_LAST_TS = 5
MI_LOG_AFTER = 6  # hold/skip/sell decisions are logged again from this time
MI_FIRST_MIN = 7
MI_FIRST_TS = 8
MI_SCAN_UNTIL = 9  # scanner cooldown: not surfaced again before this
MI_DAY = 10  # UTC day (days since the epoch) of MF_DAY_OPEN; -1 before the first tick
N_MI = 16

# Bar ring fields: bars[mint, minute % RING, field], so one minute's close, high,
# volume and low share a cache line (a tick touches one line of the ring, not four)
B_CLOSE = 0
B_HIGH = 1
B_VOL = 2
B_LOW = 3
N_B = 4

# Position floats
PF_ENTRY_PRICE = 0
PF_STOP_PRICE = 1
PF_TRAIL_HIGH = 2
PF_ENTRY_VOL60 = 3
PF_CONF = 4
PF_STOP_FRAC = 5
PF_RISK_SOL = 6  # a pending entry's risk budget: stop fraction x spend, SOL
N_PF = 7

# Position ints
PI_ACTIVE = 0
PI_MINT = 1
PI_QTY = 2
PI_QTY0 = 3
PI_OPENED_TS = 4
PI_TARGETS_HIT = 5
PI_TRAILING = 6
PI_POS_ID = 7
PI_COST = 8  # lamports paid: spend + network fees
PI_PROCEEDS = 9  # lamports received, net of DEX and network fees
PI_FEE_RESERVE = 10  # lamports still reserved for exit network fees
PI_MAX_HOLD = 11  # time stop, ns after opening
PI_DEC_ID = 12  # the entry decision
N_PI = 13

# Order floats
OF_STOP_FRAC = 0
OF_CONF = 1
OF_DECISION_PRICE = 2
N_OF = 3

# Order ints
OI_ACTIVE = 0
OI_ID = 1
OI_MINT = 2
OI_SIDE = 3  # +1 buy, -1 sell
OI_PLACED_TS = 4
OI_DUE_TS = 5
OI_QTY = 6  # raw tokens to sell
OI_SOL = 7  # lamports to spend
OI_REASON = 8
OI_SLOT = 9
OI_RESERVED = 10  # lamports reserved at placement
OI_DEC_ID = 11
OI_MAX_HOLD = 12
OI_PLACED_SEQ = 13  # input seq of the event that placed it: it never fills at that event
N_OI = 14

# Portfolio
G_CASH = 0
G_RESERVED = 1
G_NEXT_ORDER_ID = 2
G_NEXT_POS_ID = 3
G_SLOTS_USED = 4  # open positions + pending entries
G_NEXT_DEC_ID = 5
G_BREAKERS = 6  # bit (kind - 1) set while breaker `kind` is tripped
G_DAY_END = 7  # end (exclusive, ns) of the current event's UTC day
G_DAY_START_EQUITY = 8  # lamports, marked to market at the day's first event
G_DAY_PNL = 9  # realized lamports of positions closed today
G_DAY_TRADES = 10  # entries placed today
G_CONSEC_LOSSES = 11
G_NEXT_SCAN_TS = 12
G_MARK_END = 13  # end (exclusive, ns) of the minute of the latest tick: the next equity mark
G_COND_N = 14  # conditions in the active entry set (0: the sniper is off)
G_COND_STAGE = 15  # conditions a condition-set change announced (-1: none under way)
G_COND_HAVE = 16  # of those, received so far
G_VENUE = 17  # VENUE_SIMULATED (replay, paper) or VENUE_EXTERNAL (live: fills are inputs)
G_EXIT_ALL = 18  # 1 from an emergency exit until a reset: every position is sold
N_G = 19
VENUE_SIMULATED, VENUE_EXTERNAL = 0, 1
NO_DAY_YET = -(2**63)
"""G_DAY_END before the first event: any event starts a day without resetting."""

# Portfolio floats: the SOL/USD reference price and the thresholds derived from it.
GF_SOL_USD = 0  # latest SOL/USD reference price (NaN: unknown)
GF_MIN_LIQ = 1  # min_liquidity in force, SOL (min_liquidity_usd / SOL/USD when set)
GF_MCAP_LO = 2  # mcap_low in force, SOL
GF_MCAP_HI = 3  # mcap_high in force, SOL
N_GF = 4

# Output rows
O_KIND = 0
O_TS = 1
O_MINT = 2
O_ORDER_ID = 3
O_POS_ID = 4
O_SIDE = 5
O_REASON = 6
O_QTY = 7
O_SOL = 8
O_FEE = 9
O_NETFEE = 10
O_SLIP = 11
O_IN_SEQ = 12
O_DEC_ID = 13
O_ACTION = 14  # engine.events.Action (decisions); for risk events: 1 trip, 2 new day, 3 manual
O_TRIGGER = 15  # engine.events.Trigger
O_SOURCES = 16  # scanner source bits (engine.events.ScanSource)
O_MAX_HOLD_S = 17
O_TRAILING = 18
N_OUT_I = 19
OF_PRICE = 0
OF_OUT_CONF = 1
OF_OUT_STOP = 2
# Decision context (NaN when not computed). The kernel fills a scratch vector laid out
# exactly like these columns, so a decision row is one slice copy.
OF_TECH = 3
OF_SOCIAL = 4
OF_FUND = 5
OF_RISKADJ = 6
OF_LIQ = 7
OF_VOL5 = 8
OF_VOL60 = 9
OF_VOLATILITY = 10
OF_MOMENTUM = 11
OF_TREND = 12
OF_RISK_SCORE = 13
OF_SIZE_SOL = 14
OF_TP1 = 15
OF_TP2 = 16
OF_TP3 = 17
OF_SENTIMENT = 18
OF_COMMUNITY = 19
OF_FLOW = 20
OF_MCAP = 21
OF_SCAN_SCORE = 22
OF_PORT_RISK = 23  # open risk / equity including this entry
OF_CORR = 24  # highest return correlation with an open position
OF_RANGE = 25  # position between support and resistance
N_OUT_F = 26
OF_FIRST_CONTEXT = OF_TECH

STATUS_DONE = 0
STATUS_OUT_FULL = 1
STATUS_RESUME = 2
"""A parameter changed: call again from the returned index (values derived from the
parameters are recomputed on entry)."""

# The entry condition set: cond[0] is active, cond[1] stages a change until all of its
# conditions have arrived; columns are the feature id, the op code and the threshold.
CS_ACTIVE = 0
CS_STAGE = 1
C_FEATURE = 0
C_OP = 1
C_THRESHOLD = 2
N_C = 3


class KernelState(NamedTuple):
    """All mutable kernel state; one instance per run (or per sweep parameter set)."""

    mint_f: np.ndarray
    mint_i: np.ndarray
    bars: np.ndarray
    sig: np.ndarray
    pos_f: np.ndarray
    pos_i: np.ndarray
    ord_f: np.ndarray
    ord_i: np.ndarray
    glob: np.ndarray
    dec: np.ndarray
    """Scratch: the decision being built (laid out like an output row's floats)."""
    top: np.ndarray
    """Scratch: the scanner's ranked candidates (mint id, score, source bits)."""
    cond: np.ndarray
    """The entry condition set (active and staging), see CS_ACTIVE / CS_STAGE."""
    globf: np.ndarray
    """Portfolio floats (GF_*): the SOL/USD reference and thresholds derived from it."""


def _aligned(shape: tuple[int, ...], dtype: type, fill: float) -> np.ndarray:
    """An array filled with `fill` whose data starts on a 64-byte (cache line) boundary."""
    count = int(np.prod(shape))
    item = np.dtype(dtype).itemsize
    raw = np.empty(count * item + 64, dtype=np.uint8)
    skip = -raw.ctypes.data % 64
    out: np.ndarray = raw[skip : skip + count * item].view(dtype).reshape(shape)
    out.fill(fill)
    return out


def new_state(scales: np.ndarray, initial_cash_lamports: int) -> KernelState:
    """Fresh state for mints with the given raw-units-per-token scales."""
    n = len(scales)
    mint_f = _aligned((n, N_MF), np.float64, np.nan)
    mint_f[:, MF_SCALE] = scales
    mint_f[:, MF_EWMA_VAR] = 0.0
    mint_f[:, MF_VOL5] = 0.0
    mint_f[:, MF_VOL60] = 0.0
    mint_i = _aligned((n, N_MI), np.int64, 0)
    mint_i[:, MI_POS_SLOT] = -1
    mint_i[:, MI_PENDING_ORDER] = -1
    mint_i[:, MI_LOG_AFTER] = np.iinfo(np.int64).min
    mint_i[:, MI_DAY] = -1
    mint_f[:, MF_VOL_TOTAL] = 0.0
    glob = np.zeros(N_G, dtype=np.int64)
    glob[G_CASH] = initial_cash_lamports
    glob[G_DAY_END] = NO_DAY_YET
    glob[G_MARK_END] = NO_DAY_YET
    glob[G_DAY_START_EQUITY] = initial_cash_lamports
    glob[G_COND_STAGE] = -1
    return KernelState(
        mint_f=mint_f,
        mint_i=mint_i,
        bars=_aligned((n, RING, N_B), np.float64, 0.0),
        sig=np.full((n, N_SIG), np.nan),
        pos_f=np.zeros((MAX_SLOTS, N_PF)),
        pos_i=np.zeros((MAX_SLOTS, N_PI), dtype=np.int64),
        ord_f=np.zeros((MAX_ORDERS, N_OF)),
        ord_i=np.zeros((MAX_ORDERS, N_OI), dtype=np.int64),
        glob=glob,
        dec=np.full(N_OUT_F, np.nan),
        top=np.zeros((MAX_CANDIDATES, 3)),
        cond=np.zeros((2, MAX_CONDITIONS, N_C)),
        globf=np.full(N_GF, np.nan),
    )


def load_conditions(
    state: KernelState, compiled: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> None:
    """Make `compiled` (ConditionSet.compile(); None: no entry rule) the active set."""
    feat, ops, thr = compiled if compiled is not None else (np.zeros(0), np.zeros(0), np.zeros(0))
    n = len(feat)
    if n > MAX_CONDITIONS:
        raise ValueError(f"at most {MAX_CONDITIONS} conditions, got {n}")
    state.cond[CS_ACTIVE].fill(0.0)
    state.cond[CS_ACTIVE, :n, C_FEATURE] = feat
    state.cond[CS_ACTIVE, :n, C_OP] = ops
    state.cond[CS_ACTIVE, :n, C_THRESHOLD] = thr
    state.glob[G_COND_N] = n


def grow_state(state: KernelState, more_scales: np.ndarray) -> KernelState:
    """The same state with rows for more mints appended (fresh, as `new_state` makes them).

    A live feed meets new mints as it goes; their ids are the next ones, so existing
    rows keep their positions and values.
    """
    if len(more_scales) == 0:
        return state
    extra = new_state(np.asarray(more_scales, dtype=np.float64), 0)
    return state._replace(
        mint_f=np.concatenate([state.mint_f, extra.mint_f]),
        mint_i=np.concatenate([state.mint_i, extra.mint_i]),
        bars=np.concatenate([state.bars, extra.bars]),
        sig=np.concatenate([state.sig, extra.sig]),
    )
