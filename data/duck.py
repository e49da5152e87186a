"""DuckDB as the store's query face: one view per event family.

Views read exactly the files the manifest lists, so a query never sees a segment
that is uncommitted, orphaned or retired. Plain DuckDB works too, with the glob
`read_parquet('STORE/<family>/**/*.parquet', hive_partitioning = true)`, which is
consistent whenever no writer is mid-commit (our temp files never match `*.parquet`).

A family with a segment missing from disk gets a view that fails with one line naming
the family and the segment, so every other family (and every projection that does not
need the broken one) keeps answering. DuckDB does not verify Parquet page checksums:
the store's own scans do, and `clanka store check` verifies every byte.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

import duckdb
import pyarrow as pa

from data.manifest import Manifest
from data.schemas import FAMILIES, FamilySpec, Partitioning, signal_kind_case_sql
from data.segment_files import locate, missing_error
from engine.controls import ADAPTATION_CONTROL_SEQ0, STRATEGIST_CONTROL_SEQ0
from engine.events import Action, Breaker, BreakerCause, Reason, Trigger

_DUCK_TYPES = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}
_HIVE = "hive_partitioning = true, hive_types = {'date': 'DATE', 'source': 'VARCHAR'}"


def connect() -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection for querying a store."""
    return duckdb.connect(":memory:")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _null_columns(spec: FamilySpec) -> str:
    cols = [f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in spec.schema]
    if spec.partitioning is Partitioning.DATE_SOURCE:
        cols += ["CAST(NULL AS DATE) AS date", "CAST(NULL AS VARCHAR) AS source"]
    return ", ".join(cols)


def _empty_relation(spec: FamilySpec) -> str:
    return f"(SELECT {_null_columns(spec)} WHERE false)"


def _broken_relation(spec: FamilySpec, message: str) -> str:
    """A relation with the family's columns that fails, with `message`, when read."""
    fail = f"CAST(error({_sql_str(message)}) AS BOOLEAN) IS NULL"
    # Column names come from the schema and the message is quoted by _sql_str.
    return f"(SELECT {_null_columns(spec)} FROM (SELECT 1) AS one(x) WHERE {fail})"  # noqa: S608


def family_relation(root: Path, manifest: Manifest, spec: FamilySpec) -> str:
    """SQL for a relation over exactly the committed segments of one family.

    A segment a compaction retired meanwhile is read from its retired copy; one that
    is gone entirely makes the relation fail, naming it, when queried.
    """
    segs = manifest.family(spec.name).segments
    if not segs:
        return _empty_relation(spec)
    paths = []
    for seg in segs:
        path = locate(root, seg)
        if path is None:
            return _broken_relation(spec, str(missing_error(seg)))
        paths.append(path)
    files = ", ".join(_sql_str(str(p)) for p in paths)
    hive = _HIVE if spec.partitioning is Partitioning.DATE_SOURCE else "hive_partitioning = false"
    return f"read_parquet([{files}], {hive}, union_by_name = true)"


RUN_FAMILIES = ("decisions", "orders", "fills", "rejects", "positions", "risk")

CLOSED_TRADES = """
CREATE OR REPLACE VIEW closed_trades AS
WITH sells AS (
    SELECT run_id, pos_id, sum(qty * price) / sum(qty) AS avg_exit_price,
           string_agg(reason_name, ',' ORDER BY run_seq) AS exit_reasons
    FROM fills WHERE side = -1 GROUP BY run_id, pos_id
)
SELECT o.run_id, mi.mint, o.mint_id, o.pos_id, o.decision_id AS entry_decision_id,
       o.ts_ns AS entry_ts_ns, c.ts_ns AS exit_ts_ns,
       o.price AS entry_price, s.avg_exit_price, o.sol / 1e9 AS size_sol,
       c.sol / 1e9 AS pnl_sol, c.sol / o.sol AS pnl_pct, s.exit_reasons,
       CASE WHEN c.sol / o.sol > 0.5 THEN 'big_win'
            WHEN c.sol / o.sol > 0.1 THEN 'win'
            WHEN c.sol / o.sol > -0.05 THEN 'breakeven'
            WHEN c.sol / o.sol > -0.2 THEN 'loss'
            ELSE 'big_loss' END AS outcome
FROM positions o
JOIN positions c ON c.run_id = o.run_id AND c.pos_id = o.pos_id AND c.event = 2
LEFT JOIN sells s ON s.run_id = o.run_id AND s.pos_id = o.pos_id
LEFT JOIN mints mi ON mi.mint_id = o.mint_id
WHERE o.event = 1
"""

OPEN_POSITIONS = """
CREATE OR REPLACE VIEW open_positions AS
WITH sold AS (
    SELECT run_id, pos_id, sum(qty) AS qty, sum(sol - network_fee) AS proceeds
    FROM fills WHERE side = -1 GROUP BY run_id, pos_id
)
SELECT o.run_id, mi.mint, o.mint_id, o.pos_id, o.ts_ns AS entry_ts_ns, o.price AS entry_price,
       o.sol / 1e9 AS cost_sol, o.qty - coalesce(sd.qty, 0) AS qty_remaining,
       coalesce(sd.proceeds, 0) / 1e9 AS proceeds_sol, o.level AS initial_stop
FROM positions o
LEFT JOIN positions c ON c.run_id = o.run_id AND c.pos_id = o.pos_id AND c.event = 2
LEFT JOIN sold sd ON sd.run_id = o.run_id AND sd.pos_id = o.pos_id
LEFT JOIN mints mi ON mi.mint_id = o.mint_id
WHERE o.event = 1 AND c.pos_id IS NULL
"""


DECISION_AUDIT = """
CREATE OR REPLACE VIEW decision_audit AS
WITH ord AS (
    SELECT run_id, decision_id, min(order_id) AS order_id, count(*) AS orders
    FROM orders GROUP BY run_id, decision_id
), fil AS (
    SELECT run_id, decision_id, count(*) AS fills, sum(qty) AS filled_qty,
           sum(sol) / 1e9 AS filled_sol, sum(fee + network_fee) / 1e9 AS fees_sol,
           sum(qty * price) / sum(qty) AS avg_fill_price, max(impact) AS max_impact
    FROM fills GROUP BY run_id, decision_id
), rej AS (
    SELECT run_id, decision_id, count(*) AS rejects FROM rejects GROUP BY run_id, decision_id
), opened AS (
    SELECT run_id, decision_id, pos_id FROM positions WHERE event = 1
)
SELECT d.run_id, d.decision_id, d.ts_ns, d.mint, d.mint_id, d.action_name AS action,
       d.reason_name AS reason, d.trigger_name AS trigger, d.confidence, d.technical,
       d.social, d.fundamental, d.risk_adjustment, d.price, d.size_sol, d.stop_price,
       o.order_id, coalesce(o.orders, 0) AS orders, coalesce(r.rejects, 0) AS rejects,
       coalesce(f.fills, 0) AS fills, f.filled_qty, f.filled_sol, f.avg_fill_price,
       f.fees_sol, f.max_impact,
       coalesce(op.pos_id, nullif(d.pos_id, 0)) AS pos_id,
       ct.pnl_sol, ct.pnl_pct, ct.outcome, ct.exit_reasons
FROM decisions d
LEFT JOIN ord o ON o.run_id = d.run_id AND o.decision_id = d.decision_id
LEFT JOIN fil f ON f.run_id = d.run_id AND f.decision_id = d.decision_id
LEFT JOIN rej r ON r.run_id = d.run_id AND r.decision_id = d.decision_id
LEFT JOIN opened op ON op.run_id = d.run_id AND op.decision_id = d.decision_id
LEFT JOIN closed_trades ct
       ON ct.run_id = d.run_id AND ct.pos_id = coalesce(op.pos_id, nullif(d.pos_id, 0))
"""
"""Each decision with its order, fills, rejects and the outcome of its trade."""

BREAKER_HISTORY = """
CREATE OR REPLACE VIEW breaker_history AS
SELECT run_id, ts_ns, breaker_name AS breaker, cause_name AS cause, value, threshold, mint
FROM risk
"""

PARAM_HISTORY = """
CREATE OR REPLACE VIEW param_history AS
SELECT p.run_id, p.ts_ns, make_timestamp(p.ts_ns // 1000) AS time, p.control, p.name,
       p.old_value, p.new_value,
       CASE WHEN p.control = 'conditions'
            THEN coalesce(c.conditions, regexp_extract(s.changes, 'conditions -> ([^;]*)', 1))
       END AS conditions,
       p.status, p.refusal, coalesce(c.source, s.requested_by, a.requested_by) AS requested_by,
       coalesce(c.reason, s.note, a.reason) AS reason,
       coalesce(c.evidence, s.evidence, a.evidence) AS evidence,
       p.control_seq, p.run_seq
FROM params p
LEFT JOIN controls c ON c.seq = p.control_seq
LEFT JOIN (
    SELECT run_id, call_no, changes, 'strategist' AS requested_by,
           coalesce(json_extract_string(nullif(parsed, ''), '$.note'), '') AS note,
           json_object('prompt_sha256', prompt_sha256, 'model', model, 'asked_at', ts_ns)::VARCHAR
               AS evidence
    FROM strategist
) s ON p.control_seq >= $STRATEGIST_SEQ0 AND p.control_seq < $ADAPTATION_SEQ0
   AND s.run_id = p.run_id AND s.call_no = p.control_seq - $STRATEGIST_SEQ0
LEFT JOIN (
    SELECT source AS run_id, adaptation_no, 'adaptation' AS requested_by, reason,
           json_object('rule', rule, 'action', action, 'counts', counts::JSON,
                       'evidence', evidence::JSON, 'decided_at', ts_ns)::VARCHAR AS evidence
    FROM adaptations
) a ON p.control_seq >= $ADAPTATION_SEQ0 AND a.run_id = p.run_id
   AND a.adaptation_no = p.control_seq - $ADAPTATION_SEQ0
""".replace("$STRATEGIST_SEQ0", str(STRATEGIST_CONTROL_SEQ0)).replace(
    "$ADAPTATION_SEQ0", str(ADAPTATION_CONTROL_SEQ0)
)
"""Every parameter and condition-set change each run applied or refused, with who asked
and why: `SELECT * FROM param_history WHERE run_id = ? ORDER BY run_seq`. A change the
run's LLM strategist made joins its `strategist` call (control_seq = 2^48 - 1 + call_no),
one its learning loop made joins its `adaptations` row (2^49 - 1 + adaptation_no)."""

PARAM_EVOLUTION = """
CREATE OR REPLACE VIEW param_evolution AS
SELECT run_id, name, ts_ns, time, old_value, new_value, requested_by, reason, evidence, run_seq
FROM param_history
WHERE control = 'param' AND status = 'applied'
"""
"""Each parameter's value over a run: every applied change, who made it and why."""

PATTERN_STATS = """
CREATE OR REPLACE VIEW pattern_stats AS
SELECT source AS run_id, pattern,
       CASE WHEN GROUPING(date_trunc('hour', make_timestamp(ts_ns // 1000))) = 1 THEN 'all'
            ELSE strftime(date_trunc('hour', make_timestamp(ts_ns // 1000)), '%Y-%m-%d %H:00')
       END AS time_window,
       count(*) AS occurrences, avg(success::INT) AS success_rate,
       avg(actual_return) AS mean_return, min(ts_ns) AS first_ts_ns, max(ts_ns) AS last_ts_ns
FROM pattern_hits
GROUP BY GROUPING SETS ((source, pattern), (source, pattern,
                        date_trunc('hour', make_timestamp(ts_ns // 1000))))
"""
"""Each pattern's hits per run: occurrences, success rate (share that made money) and
mean return, over the whole run (time_window 'all') and per UTC hour of review."""

EXECUTION_QUALITY = """
CREATE OR REPLACE VIEW execution_quality AS
WITH dec AS (SELECT mint_id, any_value(decimals) AS decimals FROM mints GROUP BY 1),
live AS (
    SELECT v.source AS run_id, v.order_id, v.decision_id, v.mint_id, v.side, 'live' AS venue,
           v.decision_price,
           CASE WHEN v.quoted_out <= 0 OR v.quoted_in <= 0 THEN NULL
                WHEN v.side = 1 THEN (v.quoted_in / 1e9) / (v.quoted_out / 10.0 ** d.decimals)
                ELSE (v.quoted_out / 1e9) / (v.quoted_in / 10.0 ** d.decimals) END
               AS quoted_price,
           CASE WHEN v.side = 1
                THEN ((-v.sol_delta - v.fee - v.rent) / 1e9) / (v.token_delta / 10.0 ** d.decimals)
                ELSE ((v.sol_delta + v.fee + v.rent) / 1e9) / (-v.token_delta / 10.0 ** d.decimals)
           END AS filled_price,
           (v.fee + v.rent) / 1e9 AS fees_sol, v.priority_fee / 1e9 AS priority_fee_sol,
           v.impact_pct AS quoted_impact_pct, (v.landed_ns - v.decided_ns) / 1e6 AS latency_ms,
           v.attempts, v.landed_ns AS ts_ns
    FROM venue_orders v LEFT JOIN dec d ON d.mint_id = v.mint_id
    WHERE v.status = 'filled' AND v.token_delta <> 0
), simulated AS (
    SELECT f.source AS run_id, f.order_id, f.decision_id, f.mint_id, f.side,
           'simulated' AS venue, o.price AS decision_price, NULL::DOUBLE AS quoted_price,
           f.price AS filled_price, (f.fee + f.network_fee) / 1e9 AS fees_sol,
           NULL::DOUBLE AS priority_fee_sol, f.impact * 100 AS quoted_impact_pct,
           (f.ts_ns - o.ts_ns) / 1e6 AS latency_ms, 1 AS attempts, f.ts_ns
    FROM fills f JOIN orders o ON o.source = f.source AND o.order_id = f.order_id
    WHERE f.source NOT IN (SELECT run_id FROM runs
                           WHERE json_extract_string(report_json, '$.venue') = 'external')
)
SELECT e.*, mi.mint,
       (e.filled_price / e.decision_price - 1) * e.side * 100 AS slippage_vs_decision_pct,
       (e.filled_price / e.quoted_price - 1) * e.side * 100 AS slippage_vs_quote_pct
FROM (SELECT * FROM live UNION ALL SELECT * FROM simulated) e
LEFT JOIN mints mi ON mi.mint_id = e.mint_id
"""
"""Each filled order's execution: the decision's price, the quote's (live), the fill's,
the slippage against each (positive: worse for us), fees and latency from decision to
landed (live: wall time; simulated: event time from order to fill)."""

PROJECTIONS = {
    "closed_trades": CLOSED_TRADES,
    "open_positions": OPEN_POSITIONS,
    "decision_audit": DECISION_AUDIT,
    "breaker_history": BREAKER_HISTORY,
    "param_history": PARAM_HISTORY,
    "param_evolution": PARAM_EVOLUTION,
    "pattern_stats": PATTERN_STATS,
    "execution_quality": EXECUTION_QUALITY,
}
"""The SQL views built on the family views, in the order they depend on each other."""

PROJECTION_FAMILIES = {
    "closed_trades": ("positions", "fills", "mints"),
    "open_positions": ("positions", "fills", "mints"),
    "decision_audit": ("decisions", "orders", "fills", "rejects", "positions", "mints"),
    "breaker_history": ("risk", "mints"),
    "param_history": ("params", "controls", "strategist", "adaptations"),
    "param_evolution": ("params", "controls", "strategist", "adaptations"),
    "pattern_stats": ("pattern_hits",),
    "execution_quality": ("venue_orders", "fills", "orders", "mints", "runs"),
}
"""The families each projection reads (what a query on it depends on)."""

_MINT_NAME = "(SELECT mi.mint FROM mints mi WHERE mi.mint_id = f.mint_id) AS mint"


def _reason_case() -> str:
    arms = " ".join(f"WHEN {r.value} THEN '{r.label}'" for r in Reason)
    return f"CASE reason {arms} ELSE 'unknown' END"


def _case(column: str, enum: type[IntEnum]) -> str:
    arms = " ".join(f"WHEN {v.value} THEN '{v.name.lower()}'" for v in enum)
    return f"CASE {column} {arms} ELSE 'unknown' END"


def build_views(
    con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest, built: dict[str, str]
) -> None:
    """Create the family views, then the projections built on them, where they changed.

    `built` holds each view's SQL as last created on `con` (empty for a new connection)
    and is brought up to date. A commit changes the segments of a family or two, so
    only their views are recreated: creating all of them took 76-93 ms (DuckDB binds
    each view, reading its files' footers), a store polled after each commit paid it
    every time. The projections name the family views, which DuckDB resolves at query
    time, so they are created once per connection.
    """
    for spec in FAMILIES.values():
        extra = ""
        if spec.name == "signals":
            extra = f", {signal_kind_case_sql()} AS kind_name"
        elif spec.name in RUN_FAMILIES:
            extra = f", source AS run_id, {_reason_case()} AS reason_name, {_MINT_NAME}"
            if spec.name == "fills":
                extra += ", sol / 1e9 AS sol_amount, (fee + network_fee) / 1e9 AS fee_sol"
            elif spec.name == "decisions":
                extra += (
                    f", {_case('action', Action)} AS action_name"
                    f", {_case('trigger', Trigger)} AS trigger_name"
                )
            elif spec.name == "risk":
                extra = (
                    f", source AS run_id, {_case('breaker', Breaker)} AS breaker_name"
                    f", {_case('cause', BreakerCause)} AS cause_name, {_MINT_NAME}"
                )
        elif spec.name in (
            "equity",
            "params",
            "strategist",
            "reviews",
            "pattern_hits",
            "insights",
            "adaptations",
            "alerts",
            "venue_orders",
            "dead_letters",
            "reconciliations",
        ):
            extra = ", source AS run_id"
        rel = family_relation(root, manifest, spec)
        # Names come from FAMILIES and paths are quoted by _sql_str: no user text here.
        sql = f"CREATE OR REPLACE VIEW {spec.name} AS SELECT *{extra} FROM {rel} f"  # noqa: S608
        if built.get(spec.name) != sql:
            built.pop(spec.name, None)  # unknown until this one succeeds
            con.execute(sql)
            built[spec.name] = sql
    for name, sql in PROJECTIONS.items():
        if built.get(name) != sql:
            con.execute(sql)
            built[name] = sql
