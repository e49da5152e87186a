"""The learner's bookkeeping that was made incremental for speed, against hand-worked cases.

`EntryMemory` (what a trade's entry context reads from the inputs) groups each slice's
signals with numpy; `Reflection._group` (the lessons' subjects) groups only the reviews
new since its last call. Both must give exactly what the plain per-row bookkeeping gives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codes import SignalKind
from engine.events import InputKind
from engine.params import NS_PER_S
from strategies.learning.brain import source_names
from strategies.learning.buckets import DIMENSIONS
from strategies.learning.reflection import Reflection
from strategies.learning.settings import LearningSettings
from strategies.learning.trades import EntryMemory

TICK, SIGNAL = int(InputKind.TICK), int(InputKind.SIGNAL)
TOP3, TYPE = int(SignalKind.TOP3_PCT), int(SignalKind.TOKEN_TYPE)
OTHER = next(int(k) for k in SignalKind if k not in (SignalKind.TOP3_PCT, SignalKind.TOKEN_TYPE))
MIN = 60 * NS_PER_S


def _slice(rows: list[tuple[int, int, int, int, float]]) -> tuple[np.ndarray, ...]:
    """(kind, ts, mint, sig_kind, sig_value) rows as the learner's column arrays."""
    kind, ts, mint, sk, sv = zip(*rows, strict=True)
    return (np.array(kind, np.int8), np.array(ts, np.int64), np.array(mint, np.int64),
            np.array(sk, np.int64), np.array(sv, np.float64))  # fmt: skip


def test_entry_memory_keeps_first_ticks_and_each_kept_signal_in_time_order() -> None:
    mem = EntryMemory()
    # Mint 3 first trades at t = 0 (a time of zero is a time), mint 1 at 2 min.
    mem.see(*_slice([
        (TICK, 0, 3, 0, 0.0),
        (SIGNAL, 1 * MIN, 3, TOP3, 40.0),
        (SIGNAL, 1 * MIN, 1, TYPE, 2.0),
        (TICK, 2 * MIN, 1, 0, 0.0),
        (SIGNAL, 2 * MIN, 3, OTHER, 99.0),  # not a kept kind
        (SIGNAL, 3 * MIN, 3, TOP3, 35.0),
        (TICK, 3 * MIN, 3, 0, 0.0),  # not a first tick
    ]))  # fmt: skip
    mem.see(*_slice([(SIGNAL, 5 * MIN, 3, TOP3, 20.0), (TICK, 6 * MIN, 7, 0, 0.0),
                     (TICK, 7 * MIN, 3, 0, 0.0)]))  # mint 3 again: still first at 0  # fmt: skip
    assert mem.age_min(3, 10 * MIN) == 10.0
    assert mem.age_min(1, 10 * MIN) == 8.0
    assert mem.age_min(7, 10 * MIN) == 4.0
    assert math.isnan(mem.age_min(2, 10 * MIN))  # never traded
    assert math.isnan(mem.age_min(50, 10 * MIN))  # past every id seen
    top3 = SignalKind.TOP3_PCT
    assert math.isnan(mem.signal_at(3, top3, MIN - 1))  # before its first
    assert mem.signal_at(3, top3, MIN) == 40.0  # at its time: seen
    assert mem.signal_at(3, top3, 3 * MIN - 1) == 40.0
    assert mem.signal_at(3, top3, 3 * MIN) == 35.0
    assert mem.signal_at(3, top3, 10 * MIN) == 20.0  # the second slice's
    assert mem.signal_at(1, SignalKind.TOKEN_TYPE, 10 * MIN) == 2.0
    assert math.isnan(mem.signal_at(1, top3, 10 * MIN))  # another kind
    assert (3, OTHER) not in mem.signals


def _row(no: int, r: dict[str, Any]) -> dict[str, Any]:
    row = {"review_no": no, "actual_return": r["ret"], "exit_reason": r["exit"],
           "mint_id": r["mint"], "sources": r["sources"]}  # fmt: skip
    row.update({f"{d}_bucket": r["bucket"] for d in DIMENSIONS})
    return row


def _plain_groups(reviews: list[dict[str, Any]], patterns: dict[int, list[str]]) -> Any:
    """The grouping `_lessons` did before: every review, every call, one by one."""
    groups: dict[str, list[int]] = {}
    wins: dict[str, int] = {}
    for r in reviews:
        keys = [f"pattern:{p}" for p in patterns.get(r["review_no"], [])]
        keys += [f"{d}:{r[f'{d}_bucket']}" for d in DIMENSIONS if r[f"{d}_bucket"] != "unknown"]
        keys += [f"exit_reason:{r['exit_reason']}", f"mint:{r['mint_id']}"]
        keys += [f"source:{n}" for n in source_names(int(r["sources"]))]
        for k in keys:
            groups.setdefault(k, []).append(r["review_no"])
            wins[k] = wins.get(k, 0) + (r["actual_return"] > 0)
    return groups, wins


_REVIEW = st.fixed_dictionaries({
    "ret": st.sampled_from([-0.5, -0.01, 0.0, 0.02, 0.7, float("nan")]),
    "exit": st.sampled_from(["stop_loss", "target_1", "time_stop"]),
    "mint": st.integers(0, 3),
    "sources": st.integers(0, 7),
    "bucket": st.sampled_from(["unknown", "low", "high"]),
    "patterns": st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2),
})  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(reviews=st.lists(_REVIEW, max_size=30), cuts=st.lists(st.integers(0, 30), max_size=6))
def test_lessons_group_new_reviews_only_and_match_grouping_all_of_them(
    reviews: list[dict[str, Any]], cuts: list[int]
) -> None:
    refl = Reflection(LearningSettings())
    rows = [_row(k, r) for k, r in enumerate(reviews)]
    patterns = {k: r["patterns"] for k, r in enumerate(reviews)}
    grown: list[dict[str, Any]] = []  # the learner's list: it only grows between calls
    for n in [*sorted(c for c in cuts if c <= len(rows)), len(rows)]:
        grown.extend(rows[len(grown) : n])
        groups, wins = refl._group(grown, patterns)
        want_groups, want_wins = _plain_groups(grown, patterns)
        assert {k: [r["review_no"] for r in v] for k, v in groups.items()} == want_groups
        assert wins == want_wins
    # Another list (a replay from the log, say) is grouped from scratch, not appended to,
    # even when it is as long: here every trade lost, plus one more.
    extra = [_row(len(rows), reviews[0])] if reviews else []
    other = [{**r, "actual_return": -1.0} for r in [*rows, *extra]]
    groups, wins = refl._group(other, patterns)
    want_groups, want_wins = _plain_groups(other, patterns)
    assert {k: [r["review_no"] for r in v] for k, v in groups.items()} == want_groups
    assert wins == want_wins
