"""Numba kernel: merge the tick and signal streams into one kernel input, in one pass.

Both streams arrive sorted by `(ts, seq)`; signals go first at equal timestamps so a
decision at t sees every signal stamped t. The signal stream also carries the controls
(parameter and condition-set changes), each row with its own input kind and size
(the refusal code). Pure arrays in and out, no GIL held.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def merge_streams_nb(
    t_ts: np.ndarray,
    t_seq: np.ndarray,
    t_mint: np.ndarray,
    t_price: np.ndarray,
    t_size: np.ndarray,
    t_liq: np.ndarray,
    s_ts: np.ndarray,
    s_seq: np.ndarray,
    s_mint: np.ndarray,
    s_kind: np.ndarray,
    s_value: np.ndarray,
    s_in_kind: np.ndarray,
    s_size: np.ndarray,
    kind: np.ndarray,
    ts: np.ndarray,
    seq: np.ndarray,
    mint: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    liq: np.ndarray,
    sig_kind: np.ndarray,
    sig_value: np.ndarray,
) -> None:
    """Fill the output arrays (length = both streams) with the merged events."""
    i = 0
    j = 0
    n_t = t_ts.shape[0]
    n_s = s_ts.shape[0]
    for k in range(n_t + n_s):
        take_sig = j < n_s and (i >= n_t or s_ts[j] <= t_ts[i])
        if take_sig:
            kind[k] = s_in_kind[j]
            ts[k] = s_ts[j]
            seq[k] = -1 - s_seq[j]
            mint[k] = s_mint[j]
            price[k] = 0.0
            size[k] = s_size[j]
            liq[k] = np.nan
            sig_kind[k] = s_kind[j]
            sig_value[k] = s_value[j]
            j += 1
        else:
            kind[k] = 0
            ts[k] = t_ts[i]
            seq[k] = t_seq[i]
            mint[k] = t_mint[i]
            price[k] = t_price[i]
            size[k] = t_size[i]
            liq[k] = t_liq[i]
            sig_kind[k] = 0
            sig_value[k] = 0.0
            i += 1
