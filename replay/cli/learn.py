"""`clanka learn status` and `clanka lessons`: what a run's learning loop knows and did.

Both read only the run's events (reviews, pattern hits, insights, adaptations and the
parameter changes they caused), so they work on any store, for replay and paper runs
alike, long after the run ended.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from replay.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    iso_ns,
    out,
    print_json,
    store_path,
    user_errors,
)

learn_app = typer.Typer(
    help="The learning loop: what a run learned, changed and is watching (clanka learn status).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(learn_app, name="learn")

RunOpt = Annotated[
    str | None,
    typer.Option("--run", help="Run id [default: the latest run with learning events]."),
]


def _run_id(st: Any, run: str | None) -> str:
    from data.errors import StoreError
    from strategies.learning.projection import latest_learning_run

    if run is not None:
        return run
    found = latest_learning_run(st)
    if found is None:
        raise StoreError("no run in this store has learning events "
                         "(replay with --learning observe or --learning on first)")  # fmt: skip
    return found


@learn_app.command("status")
@user_errors
def status_cmd(run: RunOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """What a run's learner knows (the brain), what it changed and why, what it is watching."""
    from data.store import open_store
    from strategies.learning.projection import status_from_log
    from strategies.strategist.prompt import iso_utc

    st = open_store(store_path(store))
    doc = status_from_log(st, _run_id(st, run))
    if as_json:
        print_json(doc)
        return
    b = doc["brain"]
    rate = "n/a" if b["success_rate"] is None else f"{b['success_rate']:.0%}"
    eff = "n/a" if b["median_efficiency"] is None else f"{b['median_efficiency']:.2f}"
    out.print(f"learning of {doc['run_id']} (mode {doc['mode']}): {doc['reviews']} trades "
              f"reviewed, {rate} made money, median efficiency {eff}; {doc['pattern_hits']} "
              f"pattern hits, {doc['insights']} insights", highlight=False)  # fmt: skip
    if b["patterns"]:
        out.print("patterns: " + ", ".join(
            f"{k} {v['trades']} ({v['success_rate']:.0%} won)" for k, v in b["patterns"].items()),
            highlight=False)  # fmt: skip
    for label, key in (("best entry buckets", "best_buckets"), ("worst", "worst_buckets")):
        if b[key]:
            out.print(f"{label}: " + ", ".join(
                f"{x['bucket']} {x['trades']} ({x['success_rate']:.0%})" for x in b[key]),
                highlight=False)  # fmt: skip
    if not doc["adaptations"]:
        out.print("changed: nothing yet")
    for a in doc["adaptations"]:
        out.print(f"{iso_utc(a['ts_ns'])[:19]} {a['action']} ({a['status']}): {a['reason']}",
                  highlight=False)  # fmt: skip
    for w in doc["watching"]:
        waits = "; ".join(w["waiting_for"]) or "due at the next reflection"
        out.print(f"watching {w['rule']}: {w['param']} = {w['value']:g}, {w['pattern']} "
                  f"{w['hits']} in {w['reviews']} reviews: {waits}", highlight=False)  # fmt: skip


@app.command("lessons")
@user_errors
def lessons_cmd(
    pattern: Annotated[str | None, typer.Option("--pattern", help="Only this pattern.")] = None,
    mint: Annotated[
        str | None, typer.Option("--mint", help="Only lessons about this mint (address or symbol).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only lessons from this time on (ISO 8601, UTC).")
    ] = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What worked and what failed, and under which market conditions (the run's lessons)."""
    import json

    from data.store import open_store
    from replay.cli.common import mint_ids_of
    from strategies.learning.patterns import PATTERNS
    from strategies.strategist.prompt import iso_utc

    if pattern is not None and pattern not in PATTERNS:
        raise ValueError(f"--pattern {pattern!r}: choose one of {', '.join(PATTERNS)}")
    st = open_store(store_path(store))
    run_id = _run_id(st, run)
    where = ["source = $run", "kind = 'lesson'"]
    args: dict[str, Any] = {"run": run_id}
    if pattern is not None:
        where.append("subject = $subject")
        args["subject"] = f"pattern:{pattern}"
    if mint is not None:
        ids = mint_ids_of(st, [mint]) or []
        where.append("list_contains($mints, mint_id)")
        args["mints"] = list(ids)
    start = iso_ns(since, "--since")
    if start is not None:
        where.append("ts_ns >= $since")
        args["since"] = start
    sql = ("SELECT ts_ns, subject, verdict, trades, value, text, detail FROM insights "  # noqa: S608
           f"WHERE {' AND '.join(where)} ORDER BY ts_ns, insight_no")  # fmt: skip
    rows = st.con.execute(sql, args).fetchall()
    docs = [{"time": iso_utc(r[0]), "subject": r[1], "verdict": r[2], "trades": r[3],
             "success_rate": r[4], "text": r[5],
             "conditions": json.loads(r[6]).get("conditions")} for r in rows]  # fmt: skip
    if as_json:
        print_json({"run_id": run_id, "lessons": docs})
        return
    if not docs:
        out.print(f"no lessons in {run_id} match (a lesson needs a pattern, bucket or mint "
                  "with enough trades and a clear success rate)", highlight=False)  # fmt: skip
    for d in docs:
        c = d["conditions"] or {}
        when = ", ".join(f"{k.removeprefix('median_')} {v:.3g}" for k, v in c.items()
                         if k.startswith("median_") and v is not None)  # fmt: skip
        out.print(f"{d['time'][:16]} {d['verdict'].upper()}: {d['text']}"
                  + (f" [entry medians: {when}]" if when else ""), highlight=False)  # fmt: skip
