"""The learning loop of one run: what it has seen, what is due, and the events it wrote.

The scheduler (replay.core.scheduler) drives it the same way in replay, sweep and
paper runs:

- `see(...)` after every slice the kernel processed, with that slice's input rows and
  output rows: trades are followed, traded mints' prices recorded;
- `next_due()`: the earliest review (exit + review_horizon_s) or deep reflection (every
  reflection_interval_s, at multiples since the epoch) still to run;
- `run(t)` once every input row with time <= t has been seen, and none later: the
  reviews due by t (in due order), then the reflection of t if due (insights,
  adaptations, follow-ups). It returns the control rows to feed the kernel at
  t + adaptation_delay_s (mode 'on').

So whatever is stamped t was computed from events with time <= t, and a run's
learning events depend only on its inputs: replaying them reproduces them.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from engine.controls import ControlRow, adaptation_in_seq, check_param
from strategies.learning.adaptation import Adapter
from strategies.learning.brain import Brain
from strategies.learning.patterns import match
from strategies.learning.records import LEARNING_FAMILIES, Row, hit_row, review_row, table
from strategies.learning.reflection import Reflection
from strategies.learning.review import Trade, review_trade
from strategies.learning.settings import LearningSettings
from strategies.learning.trades import TradeBook
from strategies.learning.watch import PriceWatch


@dataclass(frozen=True)
class Steer:
    """Control rows for the kernel at apply_ts, with their input seq."""

    apply_ts: int
    in_seq: int
    rows: tuple[ControlRow, ...]


@dataclass
class Learner:
    """Reviews, patterns, brain, reflection and adaptation over one run's stream."""

    settings: LearningSettings
    scale: Callable[[int], float]
    """Raw units per whole token of a mint (10 ** decimals)."""
    params: Callable[[], np.ndarray]
    """The kernel's parameter vector now (what an adaptation steps from)."""
    names: Callable[[int], str] = str
    book: TradeBook = field(init=False)
    watch: PriceWatch = field(default_factory=PriceWatch)
    brain: Brain = field(default_factory=Brain)
    pending: list[tuple[int, int, Trade]] = field(default_factory=list)
    """Heap of (due, pos_id, trade) of closed trades waiting for their review."""
    next_reflection: int | None = None
    reviews: list[Row] = field(default_factory=list)
    hits: list[Row] = field(default_factory=list)
    insights: list[Row] = field(default_factory=list)
    adaptations: list[Row] = field(default_factory=list)
    patterns_of: dict[int, list[str]] = field(default_factory=dict)
    """review_no -> the patterns its trade matched."""
    last_ts: int = -(2**63)
    """Time of the last input row seen."""
    freeze_at: int | None = None
    """From this time on it only observes: it reviews and reflects, and logs what it
    would change, but changes nothing (the frozen arm of `clanka validate learning`)."""

    def __post_init__(self) -> None:
        self.book = TradeBook(self.scale)
        self.reflection = Reflection(self.settings, self.names)
        self.adapter = Adapter(self.settings)

    # ---------------------------------------------------------------- observe
    def begin(self, ts: int) -> None:
        """Start the reflection schedule at the first input's time (idempotent)."""
        if self.next_reflection is None:
            step = self.settings.reflection_ns
            self.next_reflection = (ts // step + 1) * step

    def see(self, kind: np.ndarray, ts: np.ndarray, mint: np.ndarray, price: np.ndarray,
            liq: np.ndarray, sig_kind: np.ndarray, sig_value: np.ndarray, out_i: np.ndarray,
            out_f: np.ndarray) -> None:  # fmt: skip
        """One processed slice: its input rows and the output rows it produced."""
        if len(ts):
            self.begin(int(ts[0]))
            self.last_ts = max(self.last_ts, int(ts[-1]))
        self.book.memory.see(kind, ts, mint, sig_kind, sig_value)
        opened, closed = self.book.see(out_i, out_f)
        for m, t in opened:
            self.watch.watch(m, t)
        for trade in closed:
            due = trade.exit_ts + self.settings.horizon_ns
            heapq.heappush(self.pending, (due, trade.pos_id, trade))
        self.watch.see(kind, ts, mint, price, liq)

    # ------------------------------------------------------------------- run
    def next_due(self) -> int | None:
        """The earliest time something is due (None before the first input)."""
        if self.next_reflection is None:
            return None
        review = self.pending[0][0] if self.pending else self.next_reflection
        return min(review, self.next_reflection)

    def run(self, t: int) -> list[Steer]:
        """Everything due by t, in time order (call once every row <= t has been seen)."""
        steer: list[Steer] = []
        while True:
            due = self.next_due()
            if due is None or due > t:
                return steer
            if self.pending and self.pending[0][0] == due:
                _, _, trade = heapq.heappop(self.pending)
                self._review(trade, due, due)
            else:
                assert self.next_reflection is not None
                self.next_reflection += self.settings.reflection_ns
                steer += self._reflect(due)

    def finish(self) -> None:
        """The run ended: run what is due by its last input, then review what still waits.

        Those last reviews use the prices up to the end and are stamped at the last
        input's time with `complete` false: a review is never stamped before its inputs
        are known, and these never will be. (Controls decided now would steer nothing.)
        """
        self.run(self.last_ts)
        while self.pending:
            due, _, trade = heapq.heappop(self.pending)
            self._review(trade, max(self.last_ts, trade.exit_ts), due)

    def _review(self, trade: Trade, at: int, horizon_end: int) -> None:
        s = self.settings
        path = self.watch.path(trade.mint_id, trade.entry_ts, min(at, horizon_end))
        review = review_trade(
            trade, path, at_ns=at, horizon_end_ns=horizon_end,
            rug_price_drop=s.rug_price_drop, rug_liquidity_drop=s.rug_liquidity_drop,
        )  # fmt: skip
        self.watch.release(trade.mint_id, trade.entry_ts)
        row = review_row(len(self.reviews), trade, review)
        hits = match(trade, review, s.patterns)
        self.reviews.append(row)
        self.hits += [hit_row(row, h) for h in hits]
        self.patterns_of[row["review_no"]] = [h.pattern for h in hits]
        self.brain.add(row, self.patterns_of[row["review_no"]])

    def _reflect(self, t: int) -> list[Steer]:
        for row in self.reflection.reflect(t, self.reviews, self.patterns_of, self.brain):
            self.insights.append({**row, "insight_no": len(self.insights)})
        if self.settings.mode == "off":
            return []
        params = self.params()
        frozen = self.freeze_at is not None and t >= self.freeze_at
        mode = "observe" if frozen else self.settings.mode
        proposals = [] if frozen else self.adapter.follow_up(t, self.reviews, params)
        proposals += self.adapter.adapt(t, self.reviews, self.patterns_of, params, mode)
        steer = []
        for p in proposals:
            no = len(self.adaptations)
            p.row["adaptation_no"] = no  # the same dict the adapter follows up
            self.adaptations.append(p.row)
            if p.row["status"] == "sent":
                rows = check_param(p.param, p.value).rows
                steer.append(Steer(p.row["apply_ts_ns"], adaptation_in_seq(no), rows))
        return steer

    def prompt_context(self, t: int, insights: int = 3) -> dict[str, object]:
        """What the strategist's prompt at t shows of the learning (see below).

        The brain's summary and the latest insights about patterns, buckets and metrics
        (stamped <= t). Mints are left out: their names come from the feed, and the
        prompt names tokens only as cleaned strings of its own (strategist.prompt).
        """
        b = self.brain.summary()
        latest = [i["text"] for i in self.insights
                  if i["ts_ns"] <= t and i["kind"] != "summary" and i["mint_id"] < 0]  # fmt: skip
        return {
            "reviewed_trades": b["trades"], "success_rate": b["success_rate"],
            "median_efficiency": b["median_efficiency"],
            "patterns": {k: {"trades": v["trades"], "success_rate": v["success_rate"]}
                         for k, v in list(b["patterns"].items())[:4]},
            "best_buckets": [x["bucket"] for x in b["best_buckets"]],
            "worst_buckets": [x["bucket"] for x in b["worst_buckets"]],
            "insights": latest[-insights:],
        }  # fmt: skip

    def status(self) -> dict[str, object]:
        """What it knows, what it changed and what it is watching (for `clanka learn status`)."""
        return {
            "reviews": len(self.reviews), "pattern_hits": len(self.hits),
            "insights": len(self.insights), "adaptations": len(self.adaptations),
            "brain": self.brain.summary(self.names),
            "watching": self.adapter.watching(self.last_ts, self.reviews, self.patterns_of,
                                              self.params()),
        }  # fmt: skip

    def rows(self, family: str) -> list[Row]:
        """Its rows of one learning family so far, in the order they were made."""
        return {"reviews": self.reviews, "pattern_hits": self.hits, "insights": self.insights,
                "adaptations": self.adaptations}[family]  # fmt: skip

    def tables(self) -> dict[str, pa.Table]:
        """Its events as the families' tables (those with rows), to append under the run id."""
        return {fam: table(fam, self.rows(fam)) for fam in LEARNING_FAMILIES if self.rows(fam)}

    def report(self) -> dict[str, object]:
        """The run report's `learning` section: counts, the brain's summary, the changes."""
        outcomes = Counter(r["outcome"] for r in self.reviews)
        by_pattern = Counter(h["pattern"] for h in self.hits)
        kinds = Counter(i["kind"] for i in self.insights)
        return {
            "mode": self.settings.mode,
            "reviews": len(self.reviews),
            "incomplete_reviews": sum(not r["complete"] for r in self.reviews),
            "outcomes": dict(sorted(outcomes.items())),
            "pattern_hits": dict(sorted(by_pattern.items())),
            "insights": dict(kinds),
            "adaptations": [
                {"no": a["adaptation_no"], "action": a["action"], "status": a["status"],
                 "param": a["param"], "old": a["old_value"], "new": a["new_value"],
                 "reason": a["reason"]}
                for a in self.adaptations
            ],
            "brain": self.brain.summary(self.names),
            "settings": self.settings.model_dump(mode="json"),
        }  # fmt: skip
