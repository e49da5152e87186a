"""A live run's latency figures in constant memory: the bucket histogram's percentiles
against numpy's exact ones on the same samples, the count and maximum exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hs

from replay.live.latency import N_BUCKETS, Latencies

_NS = hs.integers(min_value=0, max_value=600 * 10**9)


@settings(max_examples=200, deadline=None)
@given(samples=hs.lists(_NS, min_size=1, max_size=9_000), split=hs.integers(0, 9_000))
@example(samples=[5860], split=0)  # 5.86 us: its bucket's middle rounds to 5.8
def test_percentiles_are_numpys_within_the_bucket_width(samples: list[int], split: int) -> None:
    lat = Latencies()
    for ns in samples[:split]:  # one at a time (a batch) ...
        lat.add(ns)
    lat.add_many(np.array(samples[split:], np.int64))  # ... and many at once (messages)
    got = lat.summary("messages")
    a = np.array(samples, np.float64) / 1e3
    assert got["messages"] == len(samples) == len(lat)
    assert got["max"] == pytest.approx(a.max(), abs=0.051)  # exact, then rounded to 0.1 us
    for q in (50, 99):
        # The sample at rank ceil(q n / 100), as a 1 %-wide bucket names it: within one
        # bucket (everything up to 1 us is one bucket), never above the maximum.
        exact = float(np.percentile(a, q, method="inverted_cdf"))
        want = min(max(exact, 1.0), a.max())
        # Within the bucket's width (1 %), then rounded to 0.1 us (up to 0.05 more).
        assert abs(got[f"p{q}"] - want) <= 0.0101 * want + 0.05 + 1e-9, (got, want)
    assert lat.counts.shape == (N_BUCKETS,) and len(lat._buf) < 4_096  # bounded


def test_a_day_of_samples_takes_no_more_memory_than_a_few() -> None:
    lat = Latencies(recent=100)
    for k in range(50_000):
        lat.add(1_000 + k % 997)
    assert len(lat) == 50_000 and len(lat.recent) == 100 and len(lat._buf) < 4_096
    assert lat.summary()["batches"] == 50_000


def test_no_samples_no_figures() -> None:
    assert Latencies().summary() == {"batches": 0, "p50": None, "p99": None, "max": None}
