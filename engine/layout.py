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
MAX_OUT_PER_EVENT = 2 + 6 * MAX_SLOTS
"""Output rows one input event can produce at most (a heartbeat time-stopping all)."""

# Per-mint floats
MF_LAST_PRICE = 0
MF_FIRST_PRICE = 1
MF_LIQ = 2
MF_EWMA_VAR = 3
MF_NBAR_HIGH = 4
MF_VOL5 = 5
MF_VOL60 = 6
MF_SCALE = 7  # 10 ** decimals: raw units per whole token
MF_PREV_CLOSE = 8  # close of the last completed minute
N_MF = 9

# Per-mint ints
MI_FIRST_TS = 0
MI_TICKS = 1
MI_CUR_MIN = 2
MI_FIRST_MIN = 3
MI_POS_SLOT = 4  # -1: no position
MI_PENDING_ORDER = 5  # -1: none; an order slot otherwise (entry or exit)
MI_COOLDOWN_UNTIL = 6
N_MI = 7

# Bar ring planes
B_CLOSE = 0
B_HIGH = 1
B_VOL = 2

# Position floats
PF_ENTRY_PRICE = 0
PF_STOP_PRICE = 1
PF_TRAIL_HIGH = 2
PF_ENTRY_VOL60 = 3
PF_CONF = 4
PF_STOP_FRAC = 5
N_PF = 6

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
N_PI = 11

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
N_OI = 11

# Portfolio
G_CASH = 0
G_RESERVED = 1
G_NEXT_ORDER_ID = 2
G_NEXT_POS_ID = 3
G_SLOTS_USED = 4  # open positions + pending entries
N_G = 5

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
N_OUT_I = 13
OF_PRICE = 0
OF_OUT_CONF = 1
OF_OUT_STOP = 2
N_OUT_F = 3

STATUS_DONE = 0
STATUS_OUT_FULL = 1


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


def new_state(scales: np.ndarray, initial_cash_lamports: int) -> KernelState:
    """Fresh state for mints with the given raw-units-per-token scales."""
    n = len(scales)
    mint_f = np.full((n, N_MF), np.nan)
    mint_f[:, MF_SCALE] = scales
    mint_f[:, MF_EWMA_VAR] = 0.0
    mint_f[:, MF_VOL5] = 0.0
    mint_f[:, MF_VOL60] = 0.0
    mint_i = np.zeros((n, N_MI), dtype=np.int64)
    mint_i[:, MI_POS_SLOT] = -1
    mint_i[:, MI_PENDING_ORDER] = -1
    glob = np.zeros(N_G, dtype=np.int64)
    glob[G_CASH] = initial_cash_lamports
    return KernelState(
        mint_f=mint_f,
        mint_i=mint_i,
        bars=np.zeros((n, 3, RING)),
        sig=np.full((n, 8), np.nan),
        pos_f=np.zeros((MAX_SLOTS, N_PF)),
        pos_i=np.zeros((MAX_SLOTS, N_PI), dtype=np.int64),
        ord_f=np.zeros((MAX_ORDERS, N_OF)),
        ord_i=np.zeros((MAX_ORDERS, N_OI), dtype=np.int64),
        glob=glob,
    )
