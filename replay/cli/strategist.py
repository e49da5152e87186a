"""`clanka strategist ask | history`: question the LLM strategist, and see what it did.

`ask` shows the whole exchange at a time of your choosing without changing anything;
`history` lists a run's calls and how each condition set it installed then traded.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from replay.cli.common import (
    ConfigOpt,
    EntryOpt,
    JsonOpt,
    SetOpt,
    StoreOpt,
    StrategistHostOpt,
    StrategistModelOpt,
    StrategyOpt,
    announce_compile,
    app,
    iso_ns,
    out,
    print_json,
    store_path,
    strategy_from,
    user_errors,
)

strategist_app = typer.Typer(
    help="The LLM strategist: ask it now (clanka strategist ask), or list what it did "
    "(clanka strategist history).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(strategist_app, name="strategist")


@strategist_app.command("ask")
@user_errors
def ask_cmd(
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="Time to ask at (ISO 8601, UTC) [default: the store's last tick]."
        ),
    ] = None,
    store: StoreOpt = None,
    strategy: StrategyOpt = "momentum_breakout",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    entry: EntryOpt = None,
    earlier: Annotated[
        str,
        typer.Option(
            "--earlier",
            help="Earlier due times: recorded (their logged answers "
            "steer the replay up to --at) or off.",
        ),
    ] = "recorded",
    llm_host: StrategistHostOpt = None,
    llm_model: StrategistModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the strategist's prompt at --at, the model's answer and what it would change.

    Nothing is applied and nothing is logged.
    """
    from data.errors import StoreError
    from data.store import open_store
    from replay.cli.strategist_opts import strategist_for
    from replay.core.ask import ask_at
    from strategies.strategist.prompt import iso_utc

    if earlier not in ("recorded", "off"):
        raise ValueError(f"--earlier {earlier!r}: use recorded or off")
    st = open_store(store_path(store))
    t = iso_ns(at, "--at")
    if t is None:
        ((t,),) = st.con.execute("SELECT max(ts_ns) FROM ticks").fetchall()
        if t is None:
            raise StoreError("the store has no ticks; import or generate some first")
    strat = strategy_from(strategy, config, entry, set_)
    from replay.cli.embedded_llm import llm_host as resolved

    with resolved(llm_host) as host:
        _, history = strategist_for(strat, earlier, host, llm_model, st)
        strat, now = strategist_for(strat, "live", host, llm_model, st)
        assert now is not None
        announce_compile("step")
        asked = ask_at(st, strat, int(t), history, now)
    c = asked.call
    doc = {
        "time": iso_utc(c.prompt.ts_ns), "model": c.model, "host": c.host,
        "prompt_sha256": c.prompt.sha256, "messages": c.prompt.request["messages"],
        "answer": c.reply.raw, "done_reason": c.reply.done_reason, "status": c.status,
        "reason": c.reason, "would_change": c.changes, "latency_ms": c.reply.latency_ms,
        "prompt_tokens": c.reply.prompt_tokens, "answer_tokens": c.reply.answer_tokens,
        "replayed_ticks": asked.ticks, "earlier_calls": asked.earlier_calls,
    }  # fmt: skip
    if as_json:
        print_json(doc)
        return
    for m in c.prompt.request["messages"]:
        out.rule(f"{m['role']} message")
        out.print(m["content"], markup=False, highlight=False)
    out.rule(f"answer from {c.model} at {c.host} ({c.reply.latency_ms:.0f} ms, "
             f"{c.reply.prompt_tokens} + {c.reply.answer_tokens} tokens)")  # fmt: skip
    out.print(c.reply.raw or "(none)", markup=False, highlight=False)
    out.rule()
    verdict = f"{c.status}" + (f": {c.reason}" if c.reason else "")
    out.print(
        f"at {doc['time']} (after replaying {asked.ticks:,} ticks and "
        f"{asked.earlier_calls} earlier call(s)): {verdict}",
        markup=False,
        highlight=False,
    )
    out.print(f"would change: {c.changes or 'nothing'} (not applied)", markup=False,
              highlight=False)  # fmt: skip


HISTORY_SQL = """
WITH calls AS (
    SELECT call_no, ts_ns, apply_ts_ns, status, reason, changes, model,
           min(CASE WHEN changes LIKE 'conditions ->%' THEN apply_ts_ns END)
               OVER (ORDER BY call_no ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
               AS next_ts
    FROM strategist WHERE run_id = $run
),
entries AS (
    SELECT p.pos_id, p.ts_ns AS opened_ts, c.sol AS pnl_lamports, c.ts_ns AS closed_ts,
           d.trigger = 1 AS by_sniper
    FROM positions p
    JOIN decisions d ON d.run_id = p.run_id AND d.decision_id = p.decision_id
    LEFT JOIN positions c ON c.run_id = p.run_id AND c.pos_id = p.pos_id AND c.event = 2
    WHERE p.run_id = $run AND p.event = 1
)
SELECT k.call_no, k.ts_ns, k.apply_ts_ns, k.status, k.reason, k.changes, k.model,
       count(e.pos_id) FILTER (WHERE e.by_sniper) AS sniper_entries,
       count(e.pos_id) AS entries,
       count(e.closed_ts) AS closed,
       count(*) FILTER (WHERE e.pnl_lamports > 0) AS wins,
       sum(e.pnl_lamports) / 1e9 AS pnl_sol
FROM calls k
LEFT JOIN entries e ON e.opened_ts >= k.apply_ts_ns
                   AND (k.next_ts IS NULL OR e.opened_ts < k.next_ts)
GROUP BY ALL
ORDER BY k.call_no
"""
"""A run's calls; for each that installed a condition set, the positions opened while
that set was in force (from its apply time to the next set's): by the sniper (the
set's own entries) and in all (the scanner's too), with their outcome."""


@strategist_app.command("history")
@user_errors
def history_cmd(
    run: Annotated[
        str | None,
        typer.Option("--run", help="Run id [default: the latest run with strategist calls]."),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List what the strategist proposed in a run, and how each set it installed did."""
    from data.errors import StoreError
    from data.store import open_store
    from strategies.strategist.prompt import iso_utc

    st = open_store(store_path(store))
    if run is None:
        found = st.con.execute(
            "SELECT run_id FROM strategist ORDER BY seq DESC LIMIT 1").fetchall()  # fmt: skip
        if not found:
            raise StoreError("no run in this store used the strategist "
                             "(replay with --strategist live first)")  # fmt: skip
        run = str(found[0][0])
    rows = st.con.execute(HISTORY_SQL, {"run": run}).fetchall()
    if not rows:
        raise StoreError(f"run {run!r} has no strategist calls")
    keys = ("call", "asked_at", "applies_at", "status", "reason", "changes", "model",
            "sniper_entries", "entries", "closed", "wins", "pnl_sol")  # fmt: skip
    docs: list[dict[str, Any]] = []
    for r in rows:
        d = dict(zip(keys, r, strict=True))
        d["asked_at"], d["applies_at"] = iso_utc(d["asked_at"]), iso_utc(d["applies_at"])
        if not d["changes"].startswith("conditions ->"):
            for k in ("sniper_entries", "entries", "closed", "wins", "pnl_sol"):
                d[k] = None
        docs.append(d)
    if as_json:
        print_json({"run_id": run, "calls": docs})
        return
    from rich.table import Table

    t = Table(title=f"strategist calls of {run}")
    for col in ("call", "asked at (UTC)", "status", "change or reason",
                "trades while the set was in force"):  # fmt: skip
        t.add_column(col)
    for d in docs:
        what = d["changes"] or d["reason"]
        did = ""
        if d["sniper_entries"] is not None:
            did = (
                f"{d['entries']} opened ({d['sniper_entries']} by the sniper), "
                f"{d['closed']} closed, {d['wins']} won, {d['pnl_sol'] or 0.0:+.4f} SOL"
            )
        t.add_row(str(d["call"]), d["asked_at"][:19], d["status"], what, did)
    out.print(t)
