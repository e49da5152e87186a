"""Feed fixtures for the hostile tests: hand-packed pump.fun frames and a scripted
websocket server on loopback (in its own thread, so a `clanka` subprocess can connect)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

from data.feed.pumpfun import PROGRAM_ID
from data.feed.wire import signature_for
from tests.hostile.harness import ENTRY

KEY = "sk-live-7f3a9c1d2e4b6a8c0e1f3a5b"
SIG = signature_for("hostile", 1)
TRADE_DISC = hashlib.sha256(b"event:TradeEvent").digest()[:8]
LIVE = "[live]\nheartbeat_ms = 100\nflush_ms = 2\nroll_s = 0.3\n[feed]\nwatch_curves = false\n"
EAGER = """name = "eager"
entry = "price > 0"
[params]
min_buy_confidence = 0.0
hold_confidence = 0.0
require_trend_up = 0.0
min_liquidity = -1.0
max_candidates = 0
"""


def trade_frame(n: int, sig: str = SIG, extra_log: str | None = None) -> str:
    """A pump.fun buy, as a node sends it (bytes packed here by hand)."""
    mint = bytes(range(1, 33))
    ev = (TRADE_DISC + mint + struct.pack("<QQ?", 10**9, 30_000_000_000 + n, True)
          + bytes(range(33, 65)) + struct.pack("<qQQ", 1_750_000_000 + n, 31 * 10**9 + n,
                                               10**15))  # fmt: skip
    logs = [f"Program {PROGRAM_ID} invoke [1]", f"Program data: {base64.b64encode(ev).decode()}"]
    if extra_log is not None:
        logs.append(extra_log)
    logs.append(f"Program {PROGRAM_ID} success")
    return json.dumps({"jsonrpc": "2.0", "method": "logsNotification",
                       "params": {"result": {"context": {"slot": 1 + n},
                                             "value": {"signature": sig, "err": None,
                                                       "logs": logs}},
                                  "subscription": 7}})  # fmt: skip


Handler = Callable[[ServerConnection, list[str]], Awaitable[None]]


class Server:
    """A websocket server on loopback, in its own thread: answers every request with a
    subscription id, then runs `script(ws, sent)` for the connection."""

    def __init__(self, script: Handler) -> None:
        self.script = script
        self.port = 0
        self.paths: list[str] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            assert ws.request is not None
            self.paths.append(ws.request.path)
            sent: list[str] = []
            req = json.loads(await ws.recv())
            await ws.send(json.dumps({"jsonrpc": "2.0", "result": 7, "id": req["id"]}))
            await self.script(ws, sent)
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as srv:
            self.port = srv.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Server:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def paper_cmd(url: str, store: Path | str, files: tuple[Path, Path], run_id: str,
              *extra: str) -> list[str]:  # fmt: skip
    """`clanka run --mode paper` with the test strategy and settings."""
    return [*ENTRY, "run", "--mode", "paper", "--feed", url, "--store", str(store), "--config",
            str(files[0]), "--settings", str(files[1]), "--run-id", run_id, "--json",
            *extra]  # fmt: skip
