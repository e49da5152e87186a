"""Rendering of command results for people (rich tables); JSON output bypasses this."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # only for annotations: the CLI's start-up stays light
    import pyarrow as pa
    from rich.console import JustifyMethod

    from data.generator.market import GenerateReport
    from data.importers import ImportReport


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def render_import(out: Console, r: ImportReport) -> None:
    """One import's outcome, with quarantine reasons when there are any."""
    if r.already_imported:
        out.print(f"[yellow]{r.file}[/yellow]: already imported (same content); nothing added")
        return
    out.print(
        f"[bold]{r.file}[/bold] ({r.format}, source [cyan]{r.source}[/cyan]): "
        f"{r.imported:,} rows imported -> {r.ticks:,} ticks, {r.signals:,} signals; "
        f"{r.quarantined:,} quarantined; {r.skipped_duplicates:,} already in the store; "
        f"{r.mints_added} new mints"
    )
    for reason, n in r.quarantine_reasons.items():
        out.print(f"    quarantined {n:,} x {reason}")


def render_generate(out: Console, r: GenerateReport) -> None:
    """The generator's outcome, clearly labelled synthetic."""
    if r.already_generated:
        out.print(
            f"synthetic market (mints={r.mints}, hours={r.hours:g}, seed={r.seed}) is already "
            f"in {r.store}; nothing added"
        )
        return
    regimes = ", ".join(f"{k} {v}" for k, v in r.regimes.items())
    out.print(f"[bold magenta]{r.label}[/bold magenta]")
    out.print(
        f"{r.mints} mints over {r.hours:g} h (seed {r.seed}): {r.ticks:,} ticks, "
        f"{r.signals:,} signals in {r.seconds:.1f}s; regime episodes: {regimes}"
    )


def render_summary(out: Console, s: dict[str, Any]) -> None:
    """`clanka store info` as tables."""
    out.print(
        f"[bold]store[/bold] {s['store']}  (generation {s['generation']}, {_mb(s['total_bytes'])})"
    )
    t = Table(title="event families")
    for col in ("family", "rows", "segments", "size", "first event", "last event", "sources"):
        t.add_column(col, justify="right" if col in ("rows", "segments", "size") else "left")
    for f in s["families"]:
        t.add_row(
            f["family"],
            f"{f['rows']:,}",
            str(f["segments"]),
            _mb(f["bytes"]),
            f["first_ts"] or "-",
            f["last_ts"] or "-",
            ", ".join(f["sources"]) or "-",
        )
    out.print(t)
    if s["ticks_by_source"]:
        ts = Table(title="ticks by source")
        for col in ("source", "ticks", "mints", "from", "to"):
            ts.add_column(col)
        for row in s["ticks_by_source"]:
            label = row["source"] + (" [magenta](SYNTHETIC)[/magenta]" if row["synthetic"] else "")
            ts.add_row(
                label, f"{row['ticks']:,}", f"{row['mints']:,}", row["first_ts"], row["last_ts"]
            )
        out.print(ts)
    if s["quarantine_reasons"]:
        out.print(
            "quarantined rows: "
            + ", ".join(f"{k} {v:,}" for k, v in s["quarantine_reasons"].items())
        )
    out.print(
        'query it: [cyan]clanka sql "SELECT ..."[/cyan] or plain DuckDB: '
        f"read_parquet('{s['store']}/ticks/**/*.parquet', hive_partitioning = true)"
    )


def render_sql(out: Console, tbl: pa.Table, truncated: bool) -> None:
    """A query result as a table."""
    t = Table()
    for name in tbl.column_names:
        t.add_column(name)
    for row in tbl.to_pylist():
        t.add_row(*("NULL" if v is None else str(v) for v in row.values()))
    out.print(t)
    more = " (more rows not shown; raise --limit)" if truncated else ""
    out.print(f"{tbl.num_rows} row(s){more}")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render_report(out: Console, strategy: str, r: dict[str, Any]) -> None:
    """A run report (replay or paper) as a table, with the run id and events hash underneath."""
    t = Table(title=f"{r.get('mode', 'replay')} report: {strategy}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("ticks processed", r["ticks_processed"]),
        ("trades (closed)", r["trades"]),
        ("win rate", r["win_rate"]),
        ("average return", r["avg_return"]),
        ("realized PnL (SOL)", r["realized_pnl_sol"]),
        ("unrealized PnL (SOL)", r["unrealized_pnl_sol"]),
        ("open positions", r["open_positions"]),
        ("fees (SOL)", r["fees_sol"]),
        ("slippage (SOL)", r["slippage_sol"]),
        ("max drawdown", r["max_drawdown"]),
        ("Sharpe", r["sharpe"]),
        ("average hold (s)", r["avg_hold_s"]),
        ("decisions / orders / fills / rejects",
         f"{r['decisions']} / {r['orders']} / {r['fills']} / {r['rejects']}"),
        ("final equity (SOL)", r["final_equity_sol"]),
    ]  # fmt: skip
    for name, value in rows:
        t.add_row(name, _fmt(value))
    out.print(t)
    reasons = ", ".join(f"{k} {v}" for k, v in r["exit_reasons"].items()) or "none"
    out.print(f"exit reasons: {reasons}")
    actions = ", ".join(f"{k} {v}" for k, v in r["decisions_by_action"].items())
    out.print(f"decisions by action: {actions}")
    trips = ", ".join(f"{k} {v}" for k, v in r["breaker_trips"].items()) or "none"
    out.print(f"breaker trips: {trips}")
    out.print(f"Sharpe: {r['sharpe_note']}")
    for c in r.get("controls") or []:
        who = f" by {c['requested_by']}" if c["requested_by"] else ""
        why = f" ({c['reason']})" if c["reason"] else ""
        status = "applied" if c["status"] == "applied" else f"REFUSED: {c['refusal']}"
        out.print(f"control {c['time']} UTC: {c['change']} {status}{who}{why}")
    s = r.get("strategist")
    if s:
        counts = ", ".join(f"{k} {v}" for k, v in s["by_status"].items()) or "none due"
        out.print(f"strategist ({s['mode']}, {s['model']} at {s['host']}, every "
                  f"{s['interval_s']} s, delay {s['delay_s']} s): {s['calls']} calls: {counts}",
                  highlight=False)  # fmt: skip
    learn = r.get("learning")
    if learn:
        render_learning(out, learn)
    out.print(f"run_id {r['run_id']}  events_sha256 {r['events_sha256']}")


def render_learning(out: Console, learn: dict[str, Any]) -> None:
    """The learning loop's part of a run report: reviews, patterns, insights, changes."""
    outcomes = ", ".join(f"{k} {v}" for k, v in learn["outcomes"].items()) or "none"
    cut = learn["incomplete_reviews"]
    note = f" ({cut} cut short by the end of the data)" if cut else ""
    out.print(f"learning ({learn['mode']}): {learn['reviews']} trades reviewed{note}: {outcomes}",
              highlight=False, markup=False)  # fmt: skip
    hits = ", ".join(f"{k} {v}" for k, v in learn["pattern_hits"].items()) or "none"
    out.print(f"pattern hits: {hits}", highlight=False, markup=False)
    told = ", ".join(f"{k} {v}" for k, v in learn["insights"].items()) or "none"
    out.print(f"insights: {told}", highlight=False, markup=False)
    changes = learn["adaptations"]
    kinds = Counter(f"{a['action']} {a['status']}" for a in changes)
    counted = ", ".join(f"{k} {v}" for k, v in kinds.items()) or "none"
    out.print(f"adaptations: {counted}", highlight=False, markup=False)
    for a in changes[-3:]:
        out.print(f"adaptation {a['no']} ({a['action']}, {a['status']}): {a['reason']}",
                  highlight=False, markup=False)  # fmt: skip
    if len(changes) > 3:
        out.print("(every change and why: clanka learn status)", highlight=False, markup=False)


def _kv_table(title: str, items: dict[str, Any], justify: JustifyMethod = "right") -> Table:
    # At least as wide as its title, so a narrow table does not fold the title in two.
    t = Table(title=title, show_header=False, min_width=len(title) + 2)
    t.add_column("field")
    t.add_column("value", justify=justify)
    for k, v in items.items():
        t.add_row(k, _fmt(v))
    return t


def _rows_table(title: str, rows: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    for c in rows[0]:
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(*(_fmt(v) for v in r.values()))
    return t


def render_explain(out: Console, doc: dict[str, Any]) -> None:
    """Why a trade or decision happened: decision context, orders, fills, outcome."""
    d = dict(doc["decision"])
    head = (
        f"decision {d.pop('decision_id')} in run {doc['run_id']}: "
        f"{d.pop('action')} ({d.pop('reason')}) via {d.pop('trigger')}"
    )
    out.print(head)
    scores = {k: d.pop(k) for k in ("confidence", "technical", "social", "fundamental",
                                      "risk_adjustment")}  # fmt: skip
    out.print(_kv_table("scores", scores))
    out.print(_kv_table("inputs and plan (at the decision price)", d))
    if "live_levels" in doc:
        levels = dict(doc["live_levels"])
        note = levels.pop("note", "")
        out.print(_kv_table("live levels (re-based on the entry fill)", levels))
        if note:
            out.print(f"  {note}", highlight=False)
    for section in ("orders", "rejects", "fills", "exit_decisions"):
        rows = doc.get(section) or []
        if rows:
            out.print(_rows_table(section.replace("_", " "), rows))
    if "outcome" in doc:
        out.print(_kv_table(f"outcome of trade {doc['pos_id']}", doc["outcome"]))


def render_sweep(out: Console, doc: dict[str, Any]) -> None:
    """A sweep's leaderboard: the swept values and the main metrics of the best sets."""
    rows = doc["top"]
    keys = sorted({k for r in rows for k in r["set"]})
    metrics = ["trades", "win_rate", "realized_pnl_sol", "max_drawdown", "sharpe", "fees_sol"]
    t = Table(title=f"sweep {doc['sweep_id']}: best {len(rows)} of {doc['sets']} by {doc['sort']}")
    for c in ["set", *keys, *metrics]:
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(_fmt(r["set_index"]), *(_fmt(r["set"].get(k)) for k in keys),
                  *(_fmt(r[m]) for m in metrics))  # fmt: skip
    out.print(t)
    out.print(
        f"{doc['chunks_run']} of {doc['chunks']} chunk(s) run now "
        f"({doc['chunks'] - doc['chunks_run']} already in the store); "
        f"every row: the `sweeps` view, sweep_id {doc['sweep_id']}"
    )


def render_walk_forward(out: Console, doc: dict[str, Any]) -> None:
    """Walk-forward windows: the chosen set, its in-sample and out-of-sample metrics."""
    sort = doc["sort"]
    t = Table(title=f"walk-forward {doc['train_days']}:{doc['test_days']} days, "
              f"{doc['sets']} sets, best by {sort}")  # fmt: skip
    for c in ["window", "test from", "best set", f"{sort} in", f"{sort} out", "trades out",
              "max dd out"]:  # fmt: skip
        t.add_column(c, justify="right")
    for w in doc["windows"]:
        day = dt.datetime.fromtimestamp(w["test_start_ns"] / 1e9, tz=dt.UTC).date().isoformat()
        chosen = ", ".join(f"{k}={v:g}" for k, v in sorted(w["best_set"].items()))
        t.add_row(_fmt(w["window"]), day, chosen, _fmt(w["in_sample"][sort]),
                  _fmt(w["out_of_sample"][sort]), _fmt(w["out_of_sample"]["trades"]),
                  _fmt(w["out_of_sample"]["max_drawdown"]))  # fmt: skip
    out.print(t)
    ins = [w["in_sample"][sort] for w in doc["windows"] if w["in_sample"][sort] is not None]
    oos = [w["out_of_sample"][sort] for w in doc["windows"]
           if w["out_of_sample"][sort] is not None]  # fmt: skip
    if ins and oos:
        out.print(f"mean {sort}: in sample {sum(ins) / len(ins):,.6g}, "
                  f"out of sample {sum(oos) / len(oos):,.6g}")  # fmt: skip


def render_run_summary(out: Console, doc: dict[str, Any]) -> None:
    """`clanka report`'s summary: what the run's events add up to."""
    win = doc["win_rate"]
    ret = doc["return_pct"]
    items = {
        "strategy / mode": f"{doc['strategy'] or '?'} / {doc['mode'] or '?'}",
        "trades closed / open": f"{doc['trades_closed']} / {doc['trades_open']}",
        "win rate": "-" if win is None else f"{win * 100:.1f}%",
        "realized PnL (SOL)": f"{doc['realized_pnl_sol']:+.6g}",
        "fees (SOL)": doc["fees_sol"],
        "equity (SOL)": f"{_fmt(doc['initial_cash_sol'])} -> {_fmt(doc['final_equity_sol'])}",
        "return": "-" if ret is None else f"{ret:+.2f}%",
        "max drawdown": f"{doc['max_drawdown'] * 100:.2f}%",
        "breaker trips": doc["breaker_trips"],
        "parameter changes": doc["param_changes"],
    }
    out.print(_kv_table(f"run {doc['run_id']}", items))


def render_execution(out: Console, doc: dict[str, Any]) -> None:
    """`clanka execution`: the run's execution figures, then its latest orders."""

    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:+.3f}%"

    items = {
        "venue": doc["venue"] or "-",
        "orders filled": doc["filled"],
        "slippage vs decision, p50 / p90": f"{pct(doc['slip_decision_p50'])} / "
                                           f"{pct(doc['slip_decision_p90'])}",
        "slippage vs quote, p50 / p90": f"{pct(doc['slip_quote_p50'])} / "
                                        f"{pct(doc['slip_quote_p90'])}",
        "fees (SOL), total / per order": f"{_fmt(doc['fees_sol'])} / "
                                         f"{_fmt(doc['fees_per_order_sol'])}",
        "latency ms, p50 / p90": f"{_fmt(doc['latency_ms_p50'])} / {_fmt(doc['latency_ms_p90'])}",
        "attempts per order": _fmt(doc["attempts_mean"]),
        "rejected": ", ".join(f"{k} {v}" for k, v in doc["rejected"].items()) or "none",
    }  # fmt: skip
    out.print(_kv_table(f"execution of {doc['run_id']}", items))
    if doc["orders"]:
        t = Table(title=f"last {len(doc['orders'])} fills")
        for c in ("order", "token", "side", "decision", "quoted", "filled", "vs decision",
                  "vs quote", "fees SOL", "latency ms"):  # fmt: skip
            t.add_column(c, justify="right")
        for o in doc["orders"]:
            t.add_row(str(o["order_id"]), str(o["mint"])[:10], "buy" if o["side"] == 1 else "sell",
                      _fmt(o["decision_price"]), _fmt(o["quoted_price"]), _fmt(o["filled_price"]),
                      pct(o["slippage_vs_decision_pct"]), pct(o["slippage_vs_quote_pct"]),
                      _fmt(o["fees_sol"]), _fmt(o["latency_ms"]))  # fmt: skip
        out.print(t)


def utc_ns(ts_ns: int) -> str:
    """An event time as UTC to the millisecond."""
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%H:%M:%S.%f")[:-3]


def render_paper_twin(out: Console, doc: dict[str, Any]) -> None:
    """`clanka verify paper`: a live run against its paper twin, decision by decision."""

    def decision(d: dict[str, Any] | None) -> str:
        if d is None:
            return "none"
        return f"{utc_ns(d['ts_ns'])} {str(d['mint'])[:10]} {d['action_name']} ({d['reason_name']})"

    def answer(a: dict[str, Any] | None) -> str:
        if a is None:
            return "none"
        if a["outcome"] != "filled":
            return f"{utc_ns(a['ts_ns'])} {a['outcome']}"
        return (f"{utc_ns(a['ts_ns'])} {a['tokens']:,} tokens for {a['lamports'] / 1e9:.6f} SOL, "
                f"fees {a['fees'] / 1e9:.6f}")  # fmt: skip

    first = doc["first_difference"]
    gap = doc["first_answer_difference"]
    items = {
        "paper twin": doc["paper_run"],
        "decisions, live / paper": f"{doc['live_decisions']} / {doc['paper_decisions']}",
        "the same before they part": doc["same_decisions_before_parting"],
    }
    if first is None:
        items["first different decision"] = "none: every decision is the same"
    else:
        items[f"first different decision (#{first['index']}), live"] = decision(first["live"])
        items["first different decision, paper"] = decision(first["paper"])
    items["orders answered before it"] = doc["orders_compared"]
    items["of those answered differently"] = doc["answers_differing"]
    if gap is not None:
        items[f"first different answer (order {gap['order_id']}), live"] = answer(gap["live"])
        items["first different answer, paper"] = answer(gap["paper"])
    items["explained by the venue"] = (
        "yes" if doc["explained_by_venue"]
        else "NO: the decisions parted before any venue answer differed"
    )  # fmt: skip
    out.print(_kv_table(f"{doc['live_run']} against its paper twin", items, justify="left"))
    if doc["answers"]:
        t = Table(title="each order's answer, live and paper (while the decisions agree)")
        for c in ("order", "side", "live tokens", "paper tokens", "live SOL", "paper SOL",
                  "live fees", "paper fees", "live later by ms"):  # fmt: skip
            t.add_column(c, justify="right")
        for x in doc["answers"]:
            a, b = x["live"] or {}, x["paper"] or {}
            late = (a["ts_ns"] - b["ts_ns"]) / 1e6 if a and b else None
            t.add_row(str(x["order_id"]), str((a or b).get("side", "-")),
                      f"{a.get('tokens', 0):,}", f"{b.get('tokens', 0):,}",
                      _fmt(a.get("lamports", 0) / 1e9), _fmt(b.get("lamports", 0) / 1e9),
                      _fmt(a.get("fees", 0) / 1e9), _fmt(b.get("fees", 0) / 1e9),
                      "-" if late is None else f"{late:+.0f}")  # fmt: skip
        out.print(t)
