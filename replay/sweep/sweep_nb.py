"""The sweep kernels: many parameter sets over one pass of the input, in parallel.

Sets run apart go through the same compiled `step_nb` that replay runs, once per
parameter set, each with its own state, over one shared read-only input batch, and
`fold_nb` folds each call's rows (replay.sweep.chunk, ranges of sets on threads); sets
that share features run in `sweep_shared_nb`. Instead of keeping every output event,
each folds them into per-set metrics as it goes, including the kernel's per-minute
equity marks (the rows replay's report builds its curve from), so a sweep row's metrics
equal the report of a plain replay with the same parameters (tests/test_sweep.py checks
it).

Per-set metric columns (float64) are the M_* constants below; per-set open positions'
cost and opening time live in a small ring keyed by position id (at most MAX_SLOTS are
open at once, so a ring of 64 never collides).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernel_nb import (
    GO_RESUME,
    GO_TICK,
    QB_EPOCH,
    conditions_pass_nb,
    derived_floats_nb,
    derived_ints_nb,
    event_before_nb,
    features_nb,
    held_sol_nb,
    in_quiet_band_nb,
    next_due_nb,
    quiet_band_nb,
    signal_keeps_bands_nb,
    take_mark_nb,
    tick_after_nb,
    tick_before_due_nb,
    usd_thresholds_nb,
)
from engine.layout import (
    G_CASH,
    G_COND_N,
    G_MARK_END,
    G_SLOTS_USED,
    MF_LAST_PRICE,
    MF_SCALE,
    MF_VOL60,
    MI_CUR_MIN,
    MI_DAY,
    MI_FIRST_MIN,
    MI_FIRST_TS,
    MI_LAST_TS,
    MI_PENDING_ORDER,
    MI_POS_SLOT,
    MI_TICKS,
    NO_DAY_YET,
    O_FEE,
    O_KIND,
    O_NETFEE,
    O_POS_ID,
    O_SLIP,
    O_SOL,
    O_TS,
    OF_PRICE,
    PI_ACTIVE,
    PI_COST,
    PI_MINT,
    PI_PROCEEDS,
    PI_QTY,
)
from engine.nb_cache import key_on_sources

NS_PER_DAY = 86_400_000_000_000
I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max
DECIDED, ORDER_PLACED, ORDER_FILLED, ORDER_REJECTED, POS_OPENED, POS_CLOSED = 1, 2, 3, 4, 5, 6
EQUITY_MARKED = 9
TICK = 0

M_TRADES = 0
M_WINS = 1
M_PNL = 2  # lamports
M_RET_SUM = 3  # sum of pnl / cost over closed trades
M_FEES = 4  # lamports: DEX + network fees of every fill
M_SLIP = 5  # lamports
M_HOLD_SUM = 6  # ns
M_DECISIONS = 7
M_ORDERS = 8
M_FILLS = 9
M_REJECTS = 10
M_START_EQ = 11  # SOL
M_PEAK = 12  # SOL
M_MAX_DD = 13
M_POINTS = 14  # equity marks so far
M_LAST_EQ = 15  # SOL, the latest mark
M_DAY = 16  # UTC day of the latest mark
M_PREV_DAY_EQ = 17  # SOL: the previous day's last mark (start equity at first)
M_N_RET = 18  # daily returns so far (Welford)
M_RET_MEAN = 19
M_RET_M2 = 20
N_METRICS = 21
RING = 64


@njit(cache=True, inline="always")
def _fold(out_i: np.ndarray, out_f: np.ndarray, n: int, met: np.ndarray, ring: np.ndarray) -> None:
    """Fold n output rows of one set into its metrics."""
    for r in range(n):
        kind = out_i[r, O_KIND]
        if kind == EQUITY_MARKED:
            _mark(out_i[r, O_TS], out_i[r, O_SOL] / 1e9 + out_f[r, OF_PRICE], met)
        elif kind == DECIDED:
            met[M_DECISIONS] += 1.0
        elif kind == ORDER_PLACED:
            met[M_ORDERS] += 1.0
        elif kind == ORDER_FILLED:
            met[M_FILLS] += 1.0
            met[M_FEES] += out_i[r, O_FEE] + out_i[r, O_NETFEE]
            met[M_SLIP] += out_i[r, O_SLIP]
        elif kind == ORDER_REJECTED:
            met[M_REJECTS] += 1.0
        elif kind == POS_OPENED:
            k = out_i[r, O_POS_ID] % RING
            ring[k, 0] = out_i[r, O_SOL]
            ring[k, 1] = out_i[r, O_TS]
        elif kind == POS_CLOSED:
            k = out_i[r, O_POS_ID] % RING
            pnl = out_i[r, O_SOL]
            met[M_TRADES] += 1.0
            met[M_PNL] += pnl
            if pnl > 0:
                met[M_WINS] += 1.0
            met[M_RET_SUM] += pnl / ring[k, 0]
            met[M_HOLD_SUM] += out_i[r, O_TS] - ring[k, 1]


@njit(cache=True, inline="always")
def _mark(ts_mark: int, eq: float, met: np.ndarray) -> None:
    """One equity mark (SOL): peak, drawdown, and the day's return when a day closes."""
    met[M_PEAK] = max(met[M_PEAK], eq)
    if met[M_PEAK] > 0.0:
        met[M_MAX_DD] = max(met[M_MAX_DD], (met[M_PEAK] - eq) / met[M_PEAK])
    day = (ts_mark - 1) // NS_PER_DAY
    if met[M_POINTS] > 0.0 and day != met[M_DAY]:
        _daily_return(met)
    met[M_DAY] = day
    met[M_LAST_EQ] = eq
    met[M_POINTS] += 1.0


@njit(cache=True, inline="always")
def _mark_state(
    ts_mark: int, glob: np.ndarray, pos_i: np.ndarray, mint_f: np.ndarray, met: np.ndarray
) -> None:
    """A mark of the state as it stands: cash plus open positions at their last prices.

    The value `event_before_nb` writes on its EQUITY_MARKED row (cash and `held_sol_nb`),
    folded without the row.
    """
    _mark(ts_mark, glob[G_CASH] / 1e9 + held_sol_nb(pos_i, mint_f, glob[G_SLOTS_USED]), met)


@njit(cache=True, inline="always")
def _daily_return(met: np.ndarray) -> None:
    """Close the day of the latest mark: its return over the previous day's last mark."""
    prev = met[M_PREV_DAY_EQ]
    if prev > 0.0:
        ret = met[M_LAST_EQ] / prev - 1.0
        met[M_N_RET] += 1.0
        delta = ret - met[M_RET_MEAN]
        met[M_RET_MEAN] += delta / met[M_N_RET]
        met[M_RET_M2] += delta * (ret - met[M_RET_MEAN])
    met[M_PREV_DAY_EQ] = met[M_LAST_EQ]


@njit(cache=True, nogil=True)
def fold_nb(
    out_i: np.ndarray, out_f: np.ndarray, n: int, met: np.ndarray, ring: np.ndarray
) -> None:
    """Fold one set's n output rows (as `step_nb` returned them) into its metrics.

    For sets run apart: the caller calls the very `step_nb` replay calls, set by set, and
    folds what each call wrote. Calling it from Python, not from a compiled loop, keeps
    the warmup from compiling `step_nb` a second time into that loop (105 s).
    """
    _fold(out_i, out_f, n, met, ring)


@njit(cache=True, inline="always")
def _derive(params: np.ndarray, globf: np.ndarray, ki: np.ndarray, kf: np.ndarray) -> None:
    """Keep a set's derived values (kernel_nb.derived_*_nb) in its rows of ki and kf.

    Rows, not tuples, so a parameter change re-derives one set's values in place.
    """
    d = derived_ints_nb(params)
    ki[0], ki[1], ki[2], ki[3], ki[4], ki[5], ki[6], ki[7] = d[:8]
    ki[8] = 1 if d[8] else 0
    ki[9] = 1 if d[9] else 0
    kf[0], kf[1], kf[2], kf[3], kf[4], kf[5], kf[6], kf[7] = derived_floats_nb(params)
    usd_thresholds_nb(params, globf)


@njit(cache=True, inline="always")
def _ints(ki: np.ndarray) -> tuple[int, int, int, int, int, int, int, int, bool, bool]:
    """A set's derived integers as `derived_ints_nb` returns them."""
    return (ki[0], ki[1], ki[2], ki[3], ki[4], ki[5], ki[6], ki[7], ki[8] == 1, ki[9] == 1)


@njit(cache=True, inline="always")
def _floats(kf: np.ndarray) -> tuple[float, float, float, float, float, float, float, float]:
    """A set's derived floats as `derived_floats_nb` returns them."""
    return (kf[0], kf[1], kf[2], kf[3], kf[4], kf[5], kf[6], kf[7])


@njit(cache=True, nogil=True, _nrt=False)
def sweep_shared_nb(
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
    met: np.ndarray,
    ring: np.ndarray,
    feat_f: np.ndarray,
    feat_i: np.ndarray,
    feat_bars: np.ndarray,
    lo: int,
    hi: int,
    ki: np.ndarray,
    kf: np.ndarray,
    share_cond: bool,
    band_i: np.ndarray,
    band_f: np.ndarray,
    epoch: np.ndarray,
) -> None:
    """Sets that share their features over a batch: each tick's features once.

    Runs sets lo to hi - 1, which keep one copy of the features (`feat_f`, `feat_i`,
    `feat_bars`: mint_f, mint_i and bars as `features_nb` writes them). Event by event,
    every set runs `event_before_nb` on the features as they stood before the event; for
    a tick, `features_nb` then runs once, its per-mint counters and times are copied into
    each set's own mint_i row, and every set runs `tick_after_nb`. These are the parts
    `step_nb` runs, in the same order, so each set's events are the ones it would make
    alone. The caller guarantees the sets agree on `kernel_nb.FEATURE_PARAMS` and that
    none of those changes in the input; the sets' own mint_f and bars are not touched.

    A set skips a part only where the part provably does nothing for it: a tick before
    every set's `next_due_nb` skips `event_before_nb` (whose equity marks are folded
    here, without their rows); a tick inside the set's quiet band for its mint
    (`kernel_nb.quiet_band_nb`, `band_i` / `band_f`, trusted while tagged with the set's
    `epoch`) skips `tick_after_nb`, and so does a flat mint with no order pending when
    the entry conditions, asked once for all sets (`share_cond`: the caller found them
    read alike), say no.

    No NRT and no GIL: the per-set views taken on every event cost no reference counts,
    and each of the caller's threads runs its own group of sets with its own features.
    """
    n_in = in_ts.shape[0]
    for s in range(lo, hi):
        _derive(params[s], globf[s], ki[s], kf[s])
        epoch[s] += 1  # bands from an earlier call are not trusted
    decay, alpha, a_fast, a_slow, keep_f, keep_s, _, _ = _floats(kf[lo])  # as just derived
    n_bars = ki[lo, 7]
    due = I64_MIN  # the least of the sets' next_due_nb: before it, no set has a tick's part 1
    for i in range(n_in):
        t = in_ts[i]
        tick = in_kind[i] == TICK
        if not tick or t >= due:
            due = I64_MAX
            for s in range(lo, hi):
                g = glob[s]
                if tick:
                    if t >= g[G_MARK_END]:
                        # The mark event_before_nb would emit, folded without the row.
                        end = take_mark_nb(t, g)
                        if end != NO_DAY_YET:
                            _mark_state(end, g, pos_i[s], feat_f, met[s])
                    if not tick_before_due_nb(t, g, ki[s, 6]):
                        due = min(due, next_due_nb(g, ki[s, 6]))
                        continue
                n, go = event_before_nb(
                    i, in_kind, in_ts, in_seq, in_mint, in_price, in_size, in_liq,
                    in_sig_kind, in_sig_value, params[s], feat_f, mint_i[s], feat_bars, sig[s],
                    pos_f[s], pos_i[s], ord_f[s], ord_i[s], g, dec[s], top[s], cond[s],
                    globf[s], out_i[s], out_f[s], 0, _ints(ki[s]), _floats(kf[s]),
                )  # fmt: skip
                if n > 0:
                    _fold(out_i[s], out_f[s], n, met[s], ring[s])
                if go == GO_RESUME:
                    _derive(params[s], globf[s], ki[s], kf[s])
                if n > 0 or (
                    go != GO_TICK and not signal_keeps_bands_nb(i, in_kind, in_sig_kind, in_mint)
                ):
                    # Anything else may move what bands read. In the cross-check setting
                    # the entry signal's two events every 37 bars otherwise sent every
                    # held set through `tick_after_nb` on the next tick: 1.7 M of its
                    # 2.3 M calls for 64 sets.
                    epoch[s] += 1
                due = min(due, next_due_nb(g, ki[s, 6]))
                tick = go == GO_TICK
        if not tick:
            continue
        features_nb(i, in_ts, in_mint, in_price, in_size, in_liq, feat_f, feat_i, feat_bars,
                    decay, alpha, a_fast, a_slow, keep_f, keep_s, n_bars)  # fmt: skip
        m = in_mint[i]
        p = in_price[i]
        vol60 = feat_f[m, MF_VOL60]
        enter = True
        if share_cond:
            n_cond = glob[lo, G_COND_N]
            enter = n_cond > 0 and conditions_pass_nb(
                m, t, params[lo], feat_f, feat_i, feat_bars, sig[lo], cond[lo], n_cond
            )
        for s in range(lo, hi):
            mi = mint_i[s]
            mi[m, MI_TICKS] = feat_i[m, MI_TICKS]
            mi[m, MI_CUR_MIN] = feat_i[m, MI_CUR_MIN]
            mi[m, MI_LAST_TS] = feat_i[m, MI_LAST_TS]
            mi[m, MI_FIRST_MIN] = feat_i[m, MI_FIRST_MIN]
            mi[m, MI_FIRST_TS] = feat_i[m, MI_FIRST_TS]
            mi[m, MI_DAY] = feat_i[m, MI_DAY]
            bi = band_i[s, m]
            if bi[QB_EPOCH] == epoch[s] and in_quiet_band_nb(t, p, vol60, bi, band_f[s, m]):
                continue  # a held position this tick cannot exit, nor move a trailing high
            if not enter and mi[m, MI_POS_SLOT] < 0 and mi[m, MI_PENDING_ORDER] < 0:
                # No order to fill, no position to exit, no entry: tick_after_nb would
                # change nothing (its entry path has no effect before its conditions).
                continue
            k_i = _ints(ki[s])
            n = tick_after_nb(
                m, t, in_seq[i], p, params[s], feat_f, mi, feat_bars, sig[s], pos_f[s],
                pos_i[s], ord_f[s], ord_i[s], glob[s], dec[s], cond[s], globf[s], out_i[s],
                out_f[s], 0, k_i, _floats(kf[s]),
            )  # fmt: skip
            if n > 0:
                _fold(out_i[s], out_f[s], n, met[s], ring[s])
            ok = quiet_band_nb(m, params[s], mi, pos_i[s], pos_f[s], glob[s], sig[s], k_i[8],
                               bi, band_f[s, m])  # fmt: skip
            bi[QB_EPOCH] = epoch[s] if ok else -1


@njit(cache=True)
def sweep_finish_nb(
    glob: np.ndarray,
    pos_i: np.ndarray,
    mint_f: np.ndarray,
    met: np.ndarray,
    unrealized: np.ndarray,
    n_open: np.ndarray,
) -> None:
    """Close every set: the latest (partial) minute's mark and the last day's return.

    Also each set's open positions' unrealized PnL: marked at the last price, plus
    what their partial exits returned, minus their cost (as the replay report).
    """
    for s in range(met.shape[0]):
        if glob[s, G_MARK_END] != NO_DAY_YET:
            _mark_state(glob[s, G_MARK_END], glob[s], pos_i[s], mint_f[s], met[s])
        if met[s, M_POINTS] > 0.0:
            _daily_return(met[s])
        u = 0.0
        c = 0
        for p in range(pos_i.shape[1]):
            if pos_i[s, p, PI_ACTIVE] == 1:
                m = pos_i[s, p, PI_MINT]
                value = pos_i[s, p, PI_QTY] / mint_f[s, m, MF_SCALE] * mint_f[s, m, MF_LAST_PRICE]
                u += value * 1e9 + pos_i[s, p, PI_PROCEEDS] - pos_i[s, p, PI_COST]
                c += 1
        unrealized[s] = u
        n_open[s] = c


# numba keys a cache on this file alone; the files compiled into it count too.
key_on_sources(globals())
