"""`clanka execution [RUN_ID]`: how a run's orders were executed, live or simulated.

Read from the `execution_quality` view: the price at the decision, the quote's (live),
the fill's, the slippage against each, fees and latency; plus, for live runs, the
orders the venue refused and why. Paper and replay runs get the same figures from their
simulated fills, so a paper run and a live run can be compared line for line.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from replay.cli.common import JsonOpt, StoreOpt, app, out, print_json, store_path, user_errors


def _stats(st: Any, run: str) -> dict[str, Any]:
    rel = st.con.execute(
        "SELECT any_value(venue) AS venue, count(*) AS filled, "
        "median(slippage_vs_decision_pct) AS slip_decision_p50, "
        "quantile_cont(slippage_vs_decision_pct, 0.9) AS slip_decision_p90, "
        "median(slippage_vs_quote_pct) AS slip_quote_p50, "
        "quantile_cont(slippage_vs_quote_pct, 0.9) AS slip_quote_p90, "
        "sum(fees_sol) AS fees_sol, avg(fees_sol) AS fees_per_order_sol, "
        "median(latency_ms) AS latency_ms_p50, quantile_cont(latency_ms, 0.9) AS latency_ms_p90, "
        "avg(attempts) AS attempts_mean FROM execution_quality WHERE run_id = ?",
        [run],
    )
    cols = [d[0] for d in rel.description]
    doc = dict(zip(cols, rel.fetchone() or (), strict=True))
    doc["rejected"] = dict(st.con.execute(
        "SELECT reason, count(*) FROM venue_orders WHERE source = ? AND status = 'rejected' "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        [run],
    ).fetchall())  # fmt: skip
    return doc


@app.command("execution")
@user_errors
def execution(
    run_id: Annotated[
        str | None, typer.Argument(help="The run [default: the latest].", metavar="[RUN_ID]")
    ] = None,
    last: Annotated[int, typer.Option(help="Orders to list, the latest last.", min=0)] = 10,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Execution quality: decision, quoted and filled prices, slippage, fees, latency."""
    from data.store import open_store
    from replay.cli.render import render_execution
    from replay.report.run_data import resolve_run, rows

    st = open_store(store_path(store))
    run = resolve_run(st, run_id)
    doc = {"run_id": run, **_stats(st, run)}
    doc["orders"] = rows(
        st,
        "SELECT * FROM (SELECT ts_ns, order_id, mint, side, decision_price, quoted_price, "
        "filled_price, slippage_vs_decision_pct, slippage_vs_quote_pct, fees_sol, latency_ms "
        "FROM execution_quality WHERE run_id = ? ORDER BY ts_ns DESC, order_id DESC LIMIT ?) "
        "ORDER BY ts_ns, order_id",
        [run, last],
    )
    if as_json:
        print_json(doc)
    else:
        render_execution(out, doc)
