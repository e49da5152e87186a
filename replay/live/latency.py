"""Latency figures of a live run in constant memory, however long it runs.

A paper run at 1,000 batches a second used to keep every sample of four latencies in
Python lists: about 12 GB a day, for figures read once at the end. Here each latency is
a histogram of log-spaced buckets, 1 % wide, from 1 us to about 1,000 s (percentiles
within half a percent, the maximum exact), fed from a small buffer that is folded in
with numpy every few thousand samples; the latest samples stay for the status view.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_STEP = math.log(1.01)
_LO_NS = 1_000.0
N_BUCKETS = 2_100
"""1 us x 1.01^2099 is about 1.2e9 us: every latency a run can see."""
_FOLD_AT = 4_096


def bucket_of(ns: np.ndarray) -> np.ndarray:
    """Bucket indices of latencies in ns (0 holds everything up to 1 us)."""
    x = np.maximum(ns.astype(np.float64), _LO_NS)
    return np.minimum((np.log(x / _LO_NS) / _STEP).astype(np.int64) + 1, N_BUCKETS - 1)


def bucket_center_us(k: int) -> float:
    """A bucket's value in us: the geometric middle of its edges (1 us for bucket 0)."""
    if k <= 0:
        return _LO_NS / 1e3
    return _LO_NS / 1e3 * math.exp((k - 0.5) * _STEP)


class Latencies:
    """One latency's samples: a bucket histogram, the count, the exact maximum."""

    def __init__(self, recent: int = 2_000) -> None:
        self.counts = np.zeros(N_BUCKETS, np.int64)
        self.n = 0
        self.max_ns = 0
        self.recent: deque[int] = deque(maxlen=recent)
        """The latest samples (the status view's window)."""
        self._keep = recent
        self._buf: list[int] = []

    def add(self, ns: int) -> None:
        """One sample."""
        self._buf.append(ns)
        self.recent.append(ns)
        if len(self._buf) >= _FOLD_AT:
            self._fold()

    def add_many(self, ns: np.ndarray) -> None:
        """Several samples at once (a batch's messages)."""
        self._buf.extend(ns.tolist())
        self.recent.extend(ns[-self._keep :].tolist())
        if len(self._buf) >= _FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        if not self._buf:
            return
        a = np.asarray(self._buf, np.int64)
        self._buf = []
        self.counts += np.bincount(bucket_of(a), minlength=N_BUCKETS)
        self.n += len(a)
        self.max_ns = max(self.max_ns, int(a.max()))

    def __len__(self) -> int:
        return self.n + len(self._buf)

    def percentile_us(self, q: float) -> float | None:
        """The q-th percentile (0-100) in us, to the bucket (within 0.5 %)."""
        self._fold()
        if not self.n:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.n))
        k = int(np.searchsorted(np.cumsum(self.counts), rank))
        return min(bucket_center_us(k), self.max_ns / 1e3)

    def summary(self, unit: str = "batches") -> dict[str, float | int | None]:
        """{unit: count, p50, p99, max} in us, rounded to 0.1 us (the run report's form)."""
        self._fold()
        if not self.n:
            return {unit: 0, "p50": None, "p99": None, "max": None}
        p50, p99 = self.percentile_us(50), self.percentile_us(99)
        return {
            unit: self.n,
            "p50": None if p50 is None else round(p50, 1),
            "p99": None if p99 is None else round(p99, 1),
            "max": round(self.max_ns / 1e3, 1),
        }
