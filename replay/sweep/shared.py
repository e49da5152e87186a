"""Features shared by the parameter sets of a sweep: one copy per thread, not per set.

A tick's features (bars, volumes, EMAs, volatility, range, liquidity: what
`engine.kernel_nb.features_nb` writes) depend on the ticks and on the four parameters
of `FEATURE_PARAMS` only. Sets that agree on those compute the same features on every
tick, so a sweep over stops, targets, sizes or thresholds can compute them once per
tick and let every set read them (`replay.sweep.sweep_nb.sweep_shared_nb`); only
decisions, exits, orders, fills and the portfolio stay per set. Each thread keeps its
own copy for its group of sets, so threads never share a write.

Sharing ends (each set gets its own copy of the features and the per-set kernel takes
over) before a batch holding a parameter change to one of those four, which could make
the sets' features part.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine.events import InputKind
from engine.kernel import KernelInput
from engine.kernel_nb import FEATURE_PARAMS
from engine.layout import MI_CUR_MIN, MI_DAY, MI_FIRST_MIN, MI_FIRST_TS, MI_LAST_TS, MI_TICKS
from replay.sweep.sweep_nb import sweep_shared_nb

FEATURE_COLUMNS = [MI_TICKS, MI_CUR_MIN, MI_LAST_TS, MI_FIRST_MIN, MI_FIRST_TS, MI_DAY]
"""The per-mint integer columns `features_nb` writes (the rest of mint_i is per set)."""
N_KI, N_KF = 10, 8
"""Derived values kept per set (kernel_nb.derived_ints_nb, derived_floats_nb)."""


def shares_features(params: np.ndarray) -> bool:
    """True when every set (a row of params) agrees on the parameters features read."""
    cols = params[:, list(FEATURE_PARAMS)]
    return bool(np.all(cols == cols[0]))


def changes_features(batch: KernelInput) -> bool:
    """True when the batch holds a parameter change to one the features read."""
    is_param = batch.kind == InputKind.PARAM
    return bool(np.any(is_param & np.isin(batch.sig_kind, FEATURE_PARAMS)))


@dataclass
class SharedFeatures:
    """Each thread group's copy of the features, and each set's derived values."""

    feat_f: np.ndarray
    feat_i: np.ndarray
    feat_bars: np.ndarray
    bounds: np.ndarray
    """Group g holds sets bounds[g] to bounds[g + 1] - 1."""
    ki: np.ndarray
    kf: np.ndarray

    @classmethod
    def start(
        cls, params: np.ndarray, mint_f: np.ndarray, mint_i: np.ndarray, bars: np.ndarray,
        groups: int,
    ) -> SharedFeatures | None:  # fmt: skip
        """Sharing for fresh per-set state (axis 0: the set), or None when sets differ."""
        if not shares_features(params):
            return None
        n = len(params)
        import os

        groups = max(groups, -(-n // int(os.environ.get("GS", "1000"))))
        groups = max(1, min(groups, n))
        return cls(
            feat_f=np.stack([mint_f[0]] * groups),
            feat_i=np.stack([mint_i[0]] * groups),
            feat_bars=np.stack([bars[0]] * groups),
            bounds=np.array([n * g // groups for g in range(groups + 1)], dtype=np.int64),
            ki=np.zeros((n, N_KI), np.int64),
            kf=np.zeros((n, N_KF)),
        )

    def run(
        self, batch: KernelInput, params: np.ndarray, arrays: list[np.ndarray],
        out_i: np.ndarray, out_f: np.ndarray, met: np.ndarray, ring: np.ndarray,
        pool: ThreadPoolExecutor | None,
    ) -> None:  # fmt: skip
        """Every set over one batch, each tick's features computed once per group.

        Groups run on `pool`'s threads (the kernel releases the GIL), or here in turn.
        """

        def group(g: int) -> None:
            sweep_shared_nb(*batch, params, *arrays, out_i, out_f, met, ring, self.feat_f[g],
                            self.feat_i[g], self.feat_bars[g], int(self.bounds[g]),
                            int(self.bounds[g + 1]), self.ki, self.kf)  # fmt: skip

        groups = range(len(self.bounds) - 1)
        if pool is None or len(groups) == 1:
            for g in groups:
                group(g)
        else:
            list(pool.map(group, groups))

    def end(self, mint_f: np.ndarray, mint_i: np.ndarray, bars: np.ndarray) -> None:
        """Give every set its own copy of its group's features (sharing stops here)."""
        for g in range(len(self.bounds) - 1):
            lo, hi = int(self.bounds[g]), int(self.bounds[g + 1])
            mint_f[lo:hi] = self.feat_f[g]
            bars[lo:hi] = self.feat_bars[g]
            mint_i[lo:hi, :, FEATURE_COLUMNS] = self.feat_i[g][:, FEATURE_COLUMNS]
