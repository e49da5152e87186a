"""Builders for event rows used across tests, and the shared hypothesis strategies."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

NS = 1_000_000_000
DAY = 86_400 * NS
T0 = 1_749_168_000 * NS  # 2025-06-06T00:00:00Z


def ticks(
    ts: list[int] | np.ndarray,
    *,
    mint_id: int | list[int] = 0,
    price: float | list[float] = 1.0,
    size: int = 1,
    uid_base: int = 0,
) -> dict[str, Any]:
    """Tick rows with the given timestamps; other columns constant or per-row lists."""
    n = len(ts)
    return {
        "ts_ns": np.asarray(ts, dtype=np.int64),
        "mint_id": np.broadcast_to(np.asarray(mint_id, dtype=np.int32), (n,)).copy(),
        "price": np.broadcast_to(np.asarray(price, dtype=np.float64), (n,)).copy(),
        "size": np.full(n, size, dtype=np.int64),
        "side": np.zeros(n, dtype=np.int8),
        "liquidity": np.full(n, np.nan),
        "uid": np.arange(uid_base, uid_base + n, dtype=np.int64),
    }


# A batch for property tests: timestamps over three UTC days (so batches cross date
# partitions) with many ties, a mint id, and a source among a few.
tick_batches = st.lists(
    st.tuples(
        st.integers(min_value=T0, max_value=T0 + 3 * DAY).map(lambda t: t - t % (NS * 3600)),
        st.integers(min_value=0, max_value=4),
    ),
    min_size=0,
    max_size=30,
)
sources = st.sampled_from(["alpha", "beta", "gamma"])
