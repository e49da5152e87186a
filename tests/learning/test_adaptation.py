"""Adaptation rules: below the minimum sample nothing changes; at it, exactly the step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.events import ScanSource
from engine.params import P, make_params
from strategies.learning.adaptation import Adapter
from strategies.learning.settings import LearningSettings
from tests.learning.builders import NS, T0, review_rows

S = LearningSettings(mode="on")
H = 3600 * NS


def _hits(n_reviews: int, pattern: str, n_hits: int) -> dict[int, list[str]]:
    return {k: [pattern] for k in range(n_hits)} | {k: [] for k in range(n_hits, n_reviews)}


@pytest.mark.parametrize(
    ("pattern", "param", "more_than", "before", "after"),
    [
        # Seed: premature_stop_loss > 5 -> widen the stop by 1 point.
        ("premature_stop_loss", "stop_loss", 5, 0.08, 0.09),
        # party_sentiment_profitable > 10 -> meme sentiment weight + 5 points.
        ("party_sentiment_profitable", "w_social_meme", 10, 0.30, 0.35),
        # low_liquidity_loss > 3 -> minimum liquidity + 10 SOL.
        ("low_liquidity_loss", "min_liquidity", 3, 30.0, 40.0),
    ],
)
def test_seed_rules_at_and_below_their_thresholds(
    pattern: str, param: str, more_than: int, before: float, after: float
) -> None:
    params = make_params()
    t = T0 + 10 * H
    n = max(S.adaptation_min_sample, more_than + 1)  # a trade hits a pattern at most once
    reviews = review_rows([0.0] * n)
    # Enough hits, one review short of the minimum sample: nothing.
    short = LearningSettings(mode="on", adaptation_min_sample=n + 1)
    assert Adapter(short).adapt(t, reviews, _hits(n, pattern, more_than + 1), params, "on") == []
    # The minimum sample, but only `more_than` hits (the rule needs more): nothing.
    assert Adapter(S).adapt(t, reviews, _hits(n, pattern, more_than), params, "on") == []
    # The minimum sample and more_than + 1 hits: exactly one step.
    (p,) = Adapter(S).adapt(t, reviews, _hits(n, pattern, more_than + 1), params, "on")
    assert (p.param, p.row["old_value"], p.value) == (param, before, pytest.approx(after))
    assert p.row["new_value"] == pytest.approx(after)
    assert p.row["apply_ts_ns"] == t + 1 * NS and p.row["status"] == "sent"
    counts = json.loads(p.row["counts"])
    assert counts == {"hits": more_than + 1, "reviews": n, "more_than": more_than,
                      "min_sample": 10}  # fmt: skip
    assert str(more_than + 1) in p.row["reason"]


def test_window_restarts_after_a_change_and_the_cooldown_holds() -> None:
    params = make_params()
    a = Adapter(S)
    t = T0 + 10 * H
    reviews = review_rows([0.0] * 10)
    (p,) = a.adapt(t, reviews, _hits(10, "premature_stop_loss", 6), params, "on")
    params[P.STOP_LOSS] = p.value
    # The same reviews again: the window starts after the change, so nothing.
    assert a.adapt(t + H, reviews, _hits(10, "premature_stop_loss", 6), params, "on") == []
    # 10 new reviews with 6 hits, half an hour later: cooling down (3600 s).
    more = reviews + review_rows([0.0] * 10, start_s=10 * 3600 + 60, first_no=10)
    hits = _hits(10, "premature_stop_loss", 6) | {10 + k: ["premature_stop_loss"] * (k < 6)
                                                  for k in range(10)}  # fmt: skip
    assert a.adapt(t + H // 2 + 11 * 60 * NS, more, hits, params, "on") == []
    # An hour after the change: the second step, from 0.09.
    (p2,) = a.adapt(t + H, more, hits, params, "on")
    assert (p2.row["old_value"], p2.value) == (pytest.approx(0.09), pytest.approx(0.10))


def test_a_parameter_at_its_bound_is_not_sent() -> None:
    params = make_params({"stop_loss": 0.25})  # the rule's upper bound
    reviews = review_rows([0.0] * 10)
    assert Adapter(S).adapt(T0 + H, reviews, _hits(10, "premature_stop_loss", 6), params,
                            "on") == []  # fmt: skip


def test_observe_mode_logs_and_sends_nothing() -> None:
    reviews = review_rows([0.0] * 10)
    (p,) = Adapter(S).adapt(T0 + H, reviews, _hits(10, "premature_stop_loss", 6), make_params(),
                            "observe")  # fmt: skip
    assert p.row["status"] == "observed" and p.row["mode"] == "observe"


def test_source_weight_follows_its_success() -> None:
    # 10 fresh-listing trades, 8 winners; 10 others, 2 winners: 80% against 50% overall.
    bit = 1 << (ScanSource.FRESH - 1)
    fresh = review_rows([0.1] * 8 + [-0.1] * 2, sources=bit)
    other = review_rows([0.1] * 2 + [-0.1] * 8, start_s=600, first_no=10)
    params = make_params()
    (p,) = Adapter(S).adapt(T0 + H, fresh + other, {}, params, "on")
    assert (p.param, p.row["old_value"], p.value) == ("src_w_fresh", 1.0, pytest.approx(1.1))
    # Nine fresh trades are below source_min_trades (10): nothing.
    assert Adapter(S).adapt(T0 + H, fresh[1:] + other, {}, params, "on") == []
    # With source_weights off the same evidence changes nothing (the probe's setting).
    held = S.model_copy(update={"source_weights": False})
    assert Adapter(held).adapt(T0 + H, fresh + other, {}, params, "on") == []


def test_a_harmful_adaptation_is_reverted_by_a_later_event() -> None:
    a = Adapter(S)
    params = make_params()
    t = T0 + 10 * H
    before = review_rows([0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.12, 0.08, 0.11, 0.09])
    (p,) = a.adapt(t, before, _hits(10, "premature_stop_loss", 6), params, "on")
    p.row["adaptation_no"] = 0
    params[P.STOP_LOSS] = p.value  # 0.09
    # Nine trades entered after the apply time: the window is not complete yet.
    after = review_rows([-0.10, -0.12, -0.08, -0.11, -0.09, -0.10, -0.12, -0.08, -0.11],
                        start_s=10 * 3600 + 60, first_no=10)  # fmt: skip
    assert a.follow_up(t + 2 * H, before + after, params) == []
    after += review_rows([-0.09], start_s=10 * 3600 + 600, first_no=19)
    follow, revert = a.follow_up(t + 2 * H, before + after, params)
    assert follow.row["action"] == "follow_up" and follow.row["status"] == "worse"
    assert follow.row["ref_no"] == 0
    ev = json.loads(follow.row["evidence"])
    assert ev["difference"] == pytest.approx(-0.2)  # -0.10 mean after, +0.10 before
    assert ev["interval"][1] < 0
    assert revert.row["action"] == "revert" and revert.param == "stop_loss"
    assert revert.value == pytest.approx(0.08)  # the step undone
    assert a.open_follow_ups == []


def test_a_mixed_effect_is_inconclusive_and_not_reverted() -> None:
    a = Adapter(S)
    params = make_params()
    t = T0 + 10 * H
    rng = np.random.default_rng(1)
    before = review_rows(list(rng.normal(0, 0.2, 10)))
    (p,) = a.adapt(t, before, _hits(10, "premature_stop_loss", 6), params, "on")
    p.row["adaptation_no"] = 0
    after = review_rows(list(rng.normal(0, 0.2, 10)), start_s=10 * 3600 + 60, first_no=10)
    (follow,) = a.follow_up(t + 2 * H, before + after, params)
    assert follow.row["status"] == "inconclusive"


def test_a_rule_counts_over_its_latest_window_only() -> None:
    # 25 reviews since the start; 6 premature stops among the first 5 only (a trade
    # carries at most one hit of a pattern: review numbers 0..5 hit here, so 6 of the
    # first 6). The window is the last 20 (reviews 5..24): 1 hit there, no change.
    params = make_params()
    reviews = review_rows([0.0] * 25)
    early = _hits(25, "premature_stop_loss", 6)
    assert Adapter(S).adapt(T0 + 10 * H, reviews, early, params, "on") == []
    # The same 6 hits among the last 20 (reviews 19..24): more than 5 of 20, one step.
    late = {k: ["premature_stop_loss"] * (k >= 19) for k in range(25)}
    (p,) = Adapter(S).adapt(T0 + 10 * H, reviews, late, params, "on")
    assert json.loads(p.row["counts"])["reviews"] == 20 and p.value == pytest.approx(0.09)
