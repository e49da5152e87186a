"""Features shared by the parameter sets of a sweep: one copy per thread, not per set.

A tick's features (bars, volumes, EMAs, volatility, range, liquidity: what
`engine.kernel_nb.features_nb` writes) depend on the ticks and on the four parameters
of `FEATURE_PARAMS` only. Sets that agree on those compute the same features on every
tick, so a sweep over stops, targets, sizes or thresholds can compute them once per
tick and let every set read them (`replay.sweep.sweep_nb.sweep_shared_nb`); only
decisions, exits, orders, fills and the portfolio stay per set. Each thread keeps its
own copy for its group of sets, so threads never share a write. A group whose sets
also agree on their entry conditions and on `CONDITION_PARAMS` asks the conditions once
per tick (`shares_conditions`), and each group keeps its sets' quiet bands (one 64-byte
row per set and mint) and their epochs.

Sharing ends (each set gets its own copy of the features and the per-set kernel takes
over) before a batch holding a parameter change to one of those four or to
`CONDITION_PARAMS`, which could make the sets' features or answers part.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine.events import InputKind
from engine.kernel import KernelInput
from engine.kernel_nb import CONDITION_PARAMS, FEATURE_PARAMS, N_QB
from engine.layout import MAX_OUT_PER_EVENT, N_OUT_F, N_OUT_I, KernelState
from replay.sweep.sweep_nb import sweep_shared_nb

N_KI, N_KF = 10, 8
"""Derived values kept per set (kernel_nb.derived_ints_nb, derived_floats_nb)."""
_COND = KernelState._fields.index("cond")


def shares_features(params: np.ndarray) -> bool:
    """True when every set (a row of params) agrees on the parameters features read."""
    cols = params[:, list(FEATURE_PARAMS)]
    return bool(np.all(cols == cols[0]))


def shares_conditions(params: np.ndarray, cond: np.ndarray) -> bool:
    """True when every set agrees on its entry conditions and on the parameters they read.

    Such sets get one answer from `kernel_nb.conditions_pass_nb` on every tick, so the
    sweep asks once per tick. Conditions change only by control events, which every
    set receives alike (`changes_features` ends sharing before a change to one of
    CONDITION_PARAMS).
    """
    cols = params[:, list(CONDITION_PARAMS)]
    return bool(np.all(cols == cols[0]) and np.all(cond == cond[0]))


def changes_features(batch: KernelInput) -> bool:
    """True when the batch holds a parameter change to one the features or conditions read."""
    is_param = batch.kind == InputKind.PARAM
    read = (*FEATURE_PARAMS, *CONDITION_PARAMS)
    return bool(np.any(is_param & np.isin(batch.sig_kind, read)))


def own_lines(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `a` on cache lines no other array touches.

    Starts on a 64-byte boundary with at least 64 bytes of slack after its end, so two
    threads writing two such arrays never write one cache line (the last set of one
    group and the first of the next would, in one stacked array: false sharing).
    """
    raw = np.empty(a.nbytes + 128, dtype=np.uint8)
    skip = -raw.ctypes.data % 64
    out: np.ndarray = raw[skip : skip + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


@dataclass
class _Group:
    """One thread's sets: their state, metrics and parameters, and one copy of features."""

    lo: int
    hi: int
    params: np.ndarray
    arrays: list[np.ndarray]
    out_i: np.ndarray
    out_f: np.ndarray
    """Each set's output rows of one event (folded at once): small, and hot in cache."""
    met: np.ndarray
    ring: np.ndarray
    feat_f: np.ndarray
    feat_i: np.ndarray
    feat_bars: np.ndarray
    ki: np.ndarray
    kf: np.ndarray
    band_i: np.ndarray
    """Each set's quiet band per mint (`kernel_nb.quiet_band_nb`), int64 columns..."""
    band_f: np.ndarray
    """... and the same memory as float64 columns."""
    epoch: np.ndarray
    """Each set's band tag: a band is trusted only while its tag is the set's."""
    share_cond: bool
    """The sets agree on their entry conditions and CONDITION_PARAMS: ask once a tick."""

    def run(self, batch: KernelInput) -> None:
        sweep_shared_nb(*batch, self.params, *self.arrays, self.out_i, self.out_f, self.met,
                        self.ring, self.feat_f, self.feat_i, self.feat_bars, 0,
                        self.hi - self.lo, self.ki, self.kf, self.share_cond, self.band_i,
                        self.band_f, self.epoch)  # fmt: skip


class SharedFeatures:
    """Sets split into groups (one per thread), each with its own copy of the features.

    A group also holds its own copy of its sets' state, metrics and parameters, on cache
    lines of its own: the groups' threads work on neighbouring sets at the same moment,
    and would otherwise write the same cache lines. `end` hands everything back.
    """

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups

    @classmethod
    def start(
        cls, params: np.ndarray, arrays: list[np.ndarray], met: np.ndarray, ring: np.ndarray,
        groups: int,
    ) -> SharedFeatures | None:  # fmt: skip
        """Sharing for fresh per-set state (axis 0: the set), or None when sets differ."""
        if not shares_features(params):
            return None
        n = len(params)
        groups = max(1, min(groups, n))
        mint_f, mint_i, bars = arrays[:3]  # KernelState's first three fields
        cond = arrays[_COND]
        parts = []
        for g in range(groups):
            lo, hi = n * g // groups, n * (g + 1) // groups
            band_i = own_lines(np.full((hi - lo, mint_i.shape[1], N_QB), -1, np.int64))
            parts.append(_Group(
                lo=lo, hi=hi, params=own_lines(params[lo:hi]),
                # The kernel reads features from feat_*, never the sets' own mint_f and
                # bars (fields 0 and 2): those stay views, not copies.
                arrays=[a[lo:hi] if f in (0, 2) else own_lines(a[lo:hi])
                        for f, a in enumerate(arrays)],
                out_i=np.zeros((hi - lo, MAX_OUT_PER_EVENT, N_OUT_I), np.int64),
                out_f=np.zeros((hi - lo, MAX_OUT_PER_EVENT, N_OUT_F)),
                met=own_lines(met[lo:hi]), ring=own_lines(ring[lo:hi]),
                feat_f=own_lines(mint_f[0]), feat_i=own_lines(mint_i[0]),
                feat_bars=own_lines(bars[0]), ki=np.zeros((hi - lo, N_KI), np.int64),
                kf=np.zeros((hi - lo, N_KF)), band_i=band_i, band_f=band_i.view(np.float64),
                epoch=own_lines(np.zeros(hi - lo, np.int64)),
                share_cond=shares_conditions(params[lo:hi], cond[lo:hi]),
            ))  # fmt: skip
        return cls(parts)

    def run(self, batch: KernelInput, pool: ThreadPoolExecutor | None) -> None:
        """Every set over one batch, each tick's features computed once per group.

        Groups run on `pool`'s threads (the kernel releases the GIL), or here in turn.
        """
        if pool is None or len(self.groups) == 1:
            for group in self.groups:
                group.run(batch)
        else:
            list(pool.map(lambda group: group.run(batch), self.groups))

    def end(
        self, params: np.ndarray, arrays: list[np.ndarray], met: np.ndarray, ring: np.ndarray
    ) -> None:
        """Hand every set's state back, each with its own copy of its group's features."""
        mint_f, bars = arrays[0], arrays[2]  # KernelState's mint_f and bars
        for group in self.groups:
            lo, hi = group.lo, group.hi
            params[lo:hi] = group.params
            for f, (full, part) in enumerate(zip(arrays, group.arrays, strict=True)):
                if f not in (0, 2):  # mint_f and bars: views of `full` already
                    full[lo:hi] = part
            met[lo:hi] = group.met
            ring[lo:hi] = group.ring
            # The sets' mint_i rows (copied back above) already hold the feature columns:
            # the kernel copies them from feat_i on every tick.
            mint_f[lo:hi] = group.feat_f
            bars[lo:hi] = group.feat_bars
