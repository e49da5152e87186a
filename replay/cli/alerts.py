"""`clanka alerts test` and `clanka alerts list`: try the channels, read what was said.

Alerts themselves run inside `clanka run --mode paper` when the settings file has an
`[alerts]` table with a channel; every alert and message is an `alerts` event of the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from replay.cli.common import JsonOpt, StoreOpt, app, out, print_json, store_path, user_errors
from replay.cli.live import run_settings

alerts_app = typer.Typer(
    help="Alerts to Telegram and Discord: test the channels (clanka alerts test), list what "
    "a run said (clanka alerts list).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(alerts_app, name="alerts")

SettingsArg = Annotated[
    Path,
    typer.Option("--settings", help="The run settings TOML with an [alerts] table.",
                 exists=True, dir_okay=False),
]  # fmt: skip


@alerts_app.command("test")
@user_errors
def alerts_test(settings: SettingsArg, as_json: JsonOpt = False) -> None:
    """Send one test message to every configured channel; say how each went."""
    import httpx

    from replay.alerts.senders import DiscordSender, Sender, TelegramSender, deliver

    cfg = run_settings(settings, None).alerts
    if not cfg.enabled:
        raise ValueError(f"--settings {settings}: no [alerts.telegram] or [alerts.discord] table")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = f"Clanka alert test at {now} UTC: this channel receives Clanka's alerts."

    async def go() -> list[dict[str, object]]:
        async with httpx.AsyncClient(timeout=cfg.timeout_s) as client:
            senders: list[Sender] = []
            if cfg.telegram is not None:
                senders.append(TelegramSender(cfg.telegram, client))
            if cfg.discord is not None:
                senders.append(DiscordSender(cfg.discord, client))
            results = []
            for s in senders:
                d = await deliver(s, text, cfg.max_attempts)
                results.append({"channel": d.channel, "ok": d.ok, "attempts": d.attempts,
                                "error": d.error})  # fmt: skip
            return results

    results = asyncio.run(go())
    if as_json:
        print_json(results)
    else:
        for r in results:
            how = "delivered" if r["ok"] else f"FAILED: {r['error']}"
            out.print(f"{r['channel']}: {how} ({r['attempts']} tries)", highlight=False,
                      markup=False)  # fmt: skip
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@alerts_app.command("list")
@user_errors
def alerts_list(
    run: Annotated[str | None, typer.Option("--run", help="Run id [default: the latest].")] = None,
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many, the latest last.", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """What a run's alerts said: each alert (sent or held, and why) and each message."""
    from data.store import open_store

    st = open_store(store_path(store))
    if run is None:
        rows = st.con.execute(
            "SELECT run_id FROM alerts ORDER BY ts_ns DESC, seq DESC LIMIT 1"
        ).fetchall()
        if not rows:
            raise ValueError("no alerts in this store (a paper run with an [alerts] table "
                             "writes them)")  # fmt: skip
        run = str(rows[0][0])
    rel = st.con.execute(
        "SELECT * FROM (SELECT ts_ns, kind, rule, severity, status, reason, channel, "
        "alerts_in, attempts, text FROM alerts WHERE run_id = ? ORDER BY ts_ns DESC, seq DESC "
        "LIMIT ?) ORDER BY ts_ns",
        [run, limit],
    )
    cols = [d[0] for d in rel.description]
    docs = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    if as_json:
        print_json({"run_id": run, "alerts": docs})
        return
    out.print(f"alerts of run {run} ({len(docs)} shown)", highlight=False, markup=False)
    for d in docs:
        when = dt.datetime.fromtimestamp(int(d["ts_ns"]) / 1e9, dt.UTC).strftime("%H:%M:%S")
        first = str(d["text"]).splitlines()[0] if d["text"] else ""
        if d["kind"] == "alert":
            why = f" ({d['reason']})" if d["reason"] else ""
            line = f"{when} alert {d['rule']} [{d['severity']}] {d['status']}{why}: {first}"
        else:
            why = f": {d['reason']}" if d["reason"] else ""
            line = (f"{when} message on {d['channel']} carrying {d['alerts_in']}: "
                    f"{d['status']} after {d['attempts']} tries{why}")  # fmt: skip
        out.print(line, highlight=False, markup=False)
