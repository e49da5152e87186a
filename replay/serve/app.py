"""`clanka serve`: the web dashboard over a store, read-only, as a FastAPI app.

Pages: `/` (live: pushed every second over `/ws/live`), `/analytics` (refreshed every
minute), `/report/RUN` (the run report of `clanka report`, plotly.js served here). JSON:
`/api/runs`, `/api/live?run=`, `/api/analytics?run=`. There is no endpoint that writes:
the store is opened for reading only (no recovery, every write refused), so the
dashboard can neither place an order nor change anything, and it works on a read-only
copy. With a token (required off loopback), every request must carry it as `?token=` or
`Authorization: Bearer`; plotly.js itself is public.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import plotly
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from data.store import EventStore, open_store
from replay.report.jsonable import json_safe
from replay.report.run_data import load_run, resolve_run
from replay.report.run_page import render_run_page
from replay.serve.analytics_view import analytics
from replay.serve.live_view import live_snapshot, run_list
from replay.serve.pages import ANALYTICS_PAGE, LIVE_PAGE, REPORT_PICK_PAGE

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PUSH_S = 1.0


class _Reader:
    """The one store handle, refreshed before each read; DuckDB wants one user at a time."""

    def __init__(self, root: Path) -> None:
        self.store: EventStore = open_store(root, reader=True)
        self.lock = threading.Lock()

    def read(self, fn: Callable[[EventStore], Any]) -> Any:
        with self.lock:
            self.store.refresh()
            return fn(self.store)


def _allowed(token: str | None, given: str | None) -> bool:
    return token is None or (given is not None and secrets.compare_digest(given, token))


def _given(request_token: str | None, auth: str | None) -> str | None:
    if request_token:
        return request_token
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def make_app(root: Path, token: str | None = None) -> FastAPI:
    """The dashboard app over the store at `root` (see the module docstring)."""
    reader = _Reader(root)
    app = FastAPI(title="Clanka dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def need_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path != "/static/plotly.min.js" and not _allowed(
            token, _given(request.query_params.get("token"), request.headers.get("authorization"))
        ):
            return JSONResponse({"error": "this dashboard needs its token (?token=...)"}, 401)
        return await call_next(request)

    def run_of(st: EventStore, run: str | None) -> str:
        return resolve_run(st, run)

    @app.exception_handler(ValueError)
    async def user_error(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.get("/", response_class=HTMLResponse)
    def live_page() -> str:
        return LIVE_PAGE

    @app.get("/analytics", response_class=HTMLResponse)
    def analytics_page() -> str:
        return ANALYTICS_PAGE

    @app.get("/report", response_class=HTMLResponse)
    def report_pick() -> str:
        return REPORT_PICK_PAGE

    @app.get("/report/{run_id}", response_class=HTMLResponse)
    def report_page(run_id: str) -> str:
        data = reader.read(lambda st: load_run(st, run_of(st, run_id)))
        return render_run_page(data, plotly_src="/static/plotly.min.js")

    @app.get("/static/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    @app.get("/api/runs")
    def runs() -> Any:
        return json_safe(reader.read(run_list))

    @app.get("/api/live")
    def live(run: str | None = None) -> Any:
        return json_safe(reader.read(lambda st: live_snapshot(st, run_of(st, run))))

    @app.get("/api/analytics")
    def analytics_api(run: str | None = None) -> Any:
        return json_safe(reader.read(lambda st: analytics(st, run_of(st, run))))

    @app.websocket("/ws/live")
    async def live_push(ws: WebSocket) -> None:
        given = _given(ws.query_params.get("token"), ws.headers.get("authorization"))
        if not _allowed(token, given):
            await ws.close(code=1008)
            return
        await ws.accept()
        run = ws.query_params.get("run")
        try:
            while True:
                try:
                    snap = await asyncio.to_thread(
                        reader.read, lambda st: live_snapshot(st, run_of(st, run))
                    )
                except ValueError as exc:
                    snap = {"error": str(exc)}
                await ws.send_json(json_safe(snap))
                await asyncio.sleep(PUSH_S)
        except (WebSocketDisconnect, RuntimeError):
            return

    return app
