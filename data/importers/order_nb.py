"""Numba kernel: the duplicate and time-order rules, applied in one pass in file order.

These two rules feed back on each other (a row is a duplicate only of a row that was
accepted, and "backwards" only relative to rows that were accepted), so they are a
sequential scan by nature; numba keeps it O(n) at tens of millions of rows per second.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

ACCEPTED, DUPLICATE, BACKWARDS = 0, 1, 2
_KEY = types.UniTuple(types.int64, 2)


@njit(cache=True)
def accept_in_order_nb(
    mint_code: np.ndarray, uid: np.ndarray, ts: np.ndarray, candidate: np.ndarray
) -> np.ndarray:
    """Return ACCEPTED / DUPLICATE / BACKWARDS per row (non-candidates stay ACCEPTED).

    A candidate row is a DUPLICATE if an earlier *accepted* row had the same
    (mint, uid), else BACKWARDS if its ts is below the latest *accepted* ts of its
    mint, else it is accepted. So the first acceptable copy of an event always wins.
    """
    n = mint_code.shape[0]
    out = np.zeros(n, dtype=np.int8)
    seen = Dict.empty(key_type=_KEY, value_type=types.boolean)
    n_mints = 0
    for i in range(n):
        if mint_code[i] + 1 > n_mints:
            n_mints = mint_code[i] + 1
    last = np.full(max(n_mints, 1), np.iinfo(np.int64).min, dtype=np.int64)
    for i in range(n):
        if not candidate[i]:
            continue
        m = mint_code[i]
        key = (np.int64(m), np.int64(uid[i]))
        if key in seen:
            out[i] = DUPLICATE
        elif ts[i] < last[m]:
            out[i] = BACKWARDS
        else:
            seen[key] = True
            last[m] = ts[i]
    return out
