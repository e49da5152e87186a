"""The learning loop's state rebuilt from the log alone: the brain, the rules' windows, lessons.

Everything the learner knows is in its run's `reviews`, `pattern_hits`, `insights` and
`adaptations` events. These functions read them back with DuckDB: `clanka learn
status` and `clanka lessons` use them, and tests check that the brain's statistics
rebuilt with SQL equal the ones the learner kept incrementally.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from data.store import EventStore
from engine.events import ScanSource
from engine.params import P
from strategies.learning.adaptation import Adapter
from strategies.learning.brain import Brain
from strategies.learning.buckets import DIMENSIONS
from strategies.learning.records import Row
from strategies.learning.settings import LearningSettings

Counts = dict[tuple[str, str], tuple[int, int, float]]
"""(group, key) -> (trades, wins, sum of returns)."""


def _where(upto: int | None) -> str:
    return "source = $run" + ("" if upto is None else " AND ts_ns <= $upto")


def _params(run_id: str, upto: int | None) -> dict[str, Any]:
    return {"run": run_id} if upto is None else {"run": run_id, "upto": upto}


def brain_counts(store: EventStore, run_id: str, upto: int | None = None) -> Counts:
    """The brain's statistics of a run as of `upto`, by SQL over its events only."""
    where, args = _where(upto), _params(run_id, upto)
    agg = "count(*), sum((actual_return > 0)::INT), sum(actual_return)"
    out: Counts = {}

    def add(group: str, sql: str) -> None:
        for key, n, wins, total in store.con.execute(sql, args).fetchall():
            out[(group, str(key))] = (int(n), int(wins), float(total))

    add("all", f"SELECT 'all', {agg} FROM reviews WHERE {where}")  # noqa: S608
    add("pattern", f"SELECT pattern, {agg} FROM pattern_hits WHERE {where} GROUP BY 1")  # noqa: S608
    for d in DIMENSIONS:
        add(d, f"SELECT {d}_bucket, {agg} FROM reviews WHERE {where} GROUP BY 1")  # noqa: S608
    for col, group in (("exit_reason", "exit_reason"), ("outcome", "outcome"), ("mint_id", "mint")):
        add(group, f"SELECT {col}, {agg} FROM reviews WHERE {where} GROUP BY 1")  # noqa: S608
    for s in ScanSource:
        bit = 1 << (s.value - 1)
        add("source", f"SELECT '{s.name.lower()}', {agg} FROM reviews "  # noqa: S608
                      f"WHERE {where} AND sources & {bit} != 0 HAVING count(*) > 0")  # fmt: skip
    add("source", f"SELECT 'sniper', {agg} FROM reviews WHERE {where} "  # noqa: S608
                  "AND sources = 0 HAVING count(*) > 0")  # fmt: skip
    return out


def incremental_counts(brain: Brain) -> Counts:
    """The same statistics as the learner holds them."""
    return {k: (s.n, s.wins, s.sum_return) for k, s in brain.stats.items()}


def reviews_of(store: EventStore, run_id: str, upto: int | None = None) -> list[Row]:
    """A run's `reviews` rows stamped <= upto, in the order they were made."""
    sql = f"SELECT * EXCLUDE (seq, date, source, run_id) FROM reviews WHERE {_where(upto)} "  # noqa: S608
    rel = store.con.execute(sql + "ORDER BY review_no", _params(run_id, upto))
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def patterns_of(store: EventStore, run_id: str, upto: int | None = None) -> dict[int, list[str]]:
    """review_no -> the patterns its trade matched."""
    sql = f"SELECT review_no, pattern FROM pattern_hits WHERE {_where(upto)} ORDER BY seq"  # noqa: S608
    out: dict[int, list[str]] = {}
    for no, pattern in store.con.execute(sql, _params(run_id, upto)).fetchall():
        out.setdefault(int(no), []).append(str(pattern))
    return out


def adaptations_of(store: EventStore, run_id: str) -> list[Row]:
    """A run's `adaptations` rows, in order."""
    rel = store.con.execute(
        "SELECT * EXCLUDE (seq, date, source, run_id) FROM adaptations WHERE source = ? "
        "ORDER BY adaptation_no", [run_id])  # fmt: skip
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def latest_learning_run(store: EventStore) -> str | None:
    """The run that most recently logged reviews or insights, or None."""
    rows = store.con.execute(
        "SELECT run_id FROM (SELECT source AS run_id, seq FROM reviews UNION ALL "
        "SELECT source, seq FROM insights) ORDER BY seq DESC LIMIT 1").fetchall()  # fmt: skip
    return str(rows[0][0]) if rows else None


def run_learning(store: EventStore, run_id: str) -> tuple[LearningSettings, np.ndarray]:
    """The learning settings a run used and its final parameter vector (from its report)."""
    rows = store.con.execute(
        "SELECT params_json, report_json FROM runs WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
        [run_id]).fetchall()  # fmt: skip
    if not rows:
        raise ValueError(f"no run {run_id!r} in this store")
    params = json.loads(rows[0][0])
    report = json.loads(rows[0][1])
    settings = LearningSettings.model_validate((report.get("learning") or {}).get("settings", {}))
    vec = np.array([float(params[p.name.lower()]) for p in P])
    for name, value in store.con.execute(
        "SELECT name, last(new_value ORDER BY run_seq) FROM param_evolution WHERE run_id = ? "
        "GROUP BY name", [run_id]).fetchall():  # fmt: skip
        if str(name).upper() in P.__members__:
            vec[P[str(name).upper()]] = float(value)
    return settings, vec


def status_from_log(store: EventStore, run_id: str) -> dict[str, Any]:
    """What a run's learner knew, changed and was watching at its end, from the log."""
    settings, params = run_learning(store, run_id)
    reviews = reviews_of(store, run_id)
    pats = patterns_of(store, run_id)
    brain = Brain()
    for r in reviews:
        brain.add(r, pats.get(r["review_no"], []))
    adapter = Adapter(settings)
    adaptations = adaptations_of(store, run_id)
    for a in adaptations:
        if a["action"] == "adapt":
            adapter.rule_since[a["rule"]] = a["ts_ns"]
        if a["action"] in ("adapt", "revert"):
            adapter.param_changed[a["param"]] = a["ts_ns"]
    last = max([r["ts_ns"] for r in reviews] + [a["ts_ns"] for a in adaptations], default=0)
    names = {int(m): str(s) for m, s in store.con.execute(
        "SELECT mint_id, coalesce(symbol, mint) FROM mints").fetchall()}  # fmt: skip
    ((n_insights,),) = store.con.execute(
        "SELECT count(*) FROM insights WHERE source = ?", [run_id]).fetchall()  # fmt: skip
    return {
        "run_id": run_id, "mode": settings.mode, "reviews": len(reviews),
        "pattern_hits": sum(len(v) for v in pats.values()), "insights": int(n_insights),
        "brain": brain.summary(lambda m: names.get(m, f"mint {m}")),
        "adaptations": adaptations,
        "watching": adapter.watching(last, reviews, pats, params),
    }  # fmt: skip
