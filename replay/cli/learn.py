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


def _say(text: str) -> None:
    """A line of text as it is (names and reasons may hold brackets rich would eat)."""
    out.print(text, highlight=False, markup=False)


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
    _say(
        f"learning of {doc['run_id']} (mode {doc['mode']}): {doc['reviews']} trades "
        f"reviewed, {rate} made money, median efficiency {eff}; {doc['pattern_hits']} "
        f"pattern hits, {doc['insights']} insights"
    )
    if b["patterns"]:
        _say(
            "patterns: "
            + ", ".join(
                f"{k} {v['trades']} ({v['success_rate']:.0%} won)" for k, v in b["patterns"].items()
            )
        )
    for label, key in (("best entry buckets", "best_buckets"), ("worst", "worst_buckets")):
        if b[key]:
            _say(
                f"{label}: "
                + ", ".join(
                    f"{x['bucket']} {x['trades']} ({x['success_rate']:.0%})" for x in b[key]
                )
            )
    if not doc["adaptations"]:
        _say("changed: nothing yet")
    for a in doc["adaptations"]:
        _say(f"{iso_utc(a['ts_ns'])[:19]} {a['action']} ({a['status']}): {a['reason']}")
    for w in doc["watching"]:
        waits = "; ".join(w["waiting_for"]) or "due at the next reflection"
        _say(
            f"watching {w['rule']}: {w['param']} = {w['value']:g}, {w['pattern']} "
            f"{w['hits']} in {w['reviews']} reviews: {waits}"
        )


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
        try:
            ids = mint_ids_of(st, [mint]) or []
        except ValueError:
            raise ValueError(f"--mint: {mint!r} is not in this store's mints") from None
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
        _say(f"no lessons in {run_id} match (a lesson needs a pattern, bucket or mint "
                  "with enough trades and a clear success rate)")  # fmt: skip
    for d in docs:
        c = d["conditions"] or {}
        when = ", ".join(f"{k.removeprefix('median_')} {v:.3g}" for k, v in c.items()
                         if k.startswith("median_") and v is not None)  # fmt: skip
        _say(f"{d['time'][:16]} {d['verdict'].upper()}: {d['text']}"
                  + (f" (entry medians: {when})" if when else ""))  # fmt: skip
