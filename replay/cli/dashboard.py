"""`clanka serve`: the web dashboard over a store (live page, analytics, run reports)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from replay.cli.common import StoreOpt, app, out, store_path, user_errors

TOKEN_ENV = "CLANKA_DASHBOARD_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def is_loopback(host: str) -> bool:
    """Whether `host` only answers this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
@user_errors
def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (off loopback: --token).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (0: any free port, printed).")] = 8050,
    token: Annotated[
        str | None,
        typer.Option(help=f"Token every request must carry (?token=) [default: ${TOKEN_ENV}]."),
    ] = None,
) -> None:
    """The web dashboard over a store, read-only: live, analytics and run reports.

    The live page shows the runs in progress and the latest (open positions with live
    PnL, the last 10 decisions, portfolio value, win rate, daily PnL, breakers, feed
    health), pushed every second while a paper or live run writes; the analytics page
    (pattern success, hourly PnL, top trades, parameter evolution, strategist proposals,
    learning insights) refreshes every minute. It never writes to the store.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port {port} is not a port number (0-65535)")
    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        raise ValueError(f"--host {host} is reachable from other machines: give --token "
                         f"(or ${TOKEN_ENV}) so that only you can read the dashboard")  # fmt: skip
    if token is not None and len(token) < 12:
        raise ValueError("--token: use at least 12 characters (e.g. `openssl rand -hex 16`)")
    from data.http_serve import serve_asgi
    from data.store import open_store
    from replay.cli import logs
    from replay.serve.app import make_app

    logs.redact(token)
    root = store_path(store)
    open_store(root, reader=True)  # a missing store is one clear line, before binding
    dashboard = make_app(root, token)

    def bound(p: int) -> None:
        where = f"[{host}]" if ":" in host else host
        q = "?token=..." if token else ""
        out.print(f"dashboard of {root} (read-only) on http://{where}:{p}/{q}; Ctrl-C stops",
                  highlight=False, markup=False)  # fmt: skip
        out.file.flush()

    serve_asgi(dashboard, host, port, bound)
