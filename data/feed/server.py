"""A recorded-feed server: a store's ticks as a Solana RPC node's websocket notifications.

`clanka feed serve --from-store DIR --speed X --port P` plays the store's ticks in time
order at X times their real pace (0: as fast as the socket takes them) to every client
on ws://127.0.0.1:P that sent `logsSubscribe` (mentioning pump.fun), as pump.fun
`TradeEvent` logs, and to clients that sent `accountSubscribe` for a mint's bonding
curve, as account updates. The frames are byte for byte what a public node sends, so
the tests and the demo run the real feed client against it.

The tape starts with the first subscription and keeps its own clock, as a live chain
does: a client that disconnects misses what is played meanwhile. `drop_after` closes
every connection once after that many notifications (for reconnect tests).

Ticks become trades as follows: `token_amount` is the size at 6 decimals, `sol_amount`
the price times that, the virtual SOL reserve the tick's liquidity (30 SOL, pump.fun's
launch reserve, when unknown) and the virtual token reserve what makes the curve's price
the tick's price. Ticks with no size (pool observations) become account updates only.
Mints that are not base58 addresses (synthetic or exchange symbols) get a stable
address derived from their name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from solders.pubkey import Pubkey
from websockets.asyncio.server import Server, ServerConnection, serve

from data.feed.pumpfun import PROGRAM_ID, TOKEN_DECIMALS, CurveState, TradeEvent
from data.feed.wire import (
    account_notification,
    error_reply,
    logs_notification,
    signature_for,
    subscription_result,
)
from data.store import EventStore

DEFAULT_LIQUIDITY_SOL = 30.0
_SUB_MARK = 999_999_937
"""Subscription id written into prerendered frames, replaced per client when sent."""
SLOT_NS = 400_000_000


def address_for(mint: str) -> str:
    """The mint's base58 address, or a stable one derived from its name."""
    with contextlib.suppress(ValueError):
        return str(Pubkey.from_string(mint))
    return str(Pubkey(hashlib.sha256(mint.encode()).digest()))


@dataclass
class Tape:
    """The ticks to play, as parallel arrays in (ts, seq) order, with mint addresses."""

    ts: np.ndarray
    mint_id: np.ndarray
    price: np.ndarray
    size6: np.ndarray
    side: np.ndarray
    liq: np.ndarray
    uid: np.ndarray
    address: list[str]  # by mint id
    curve_of: dict[str, int] = field(default_factory=dict)  # curve address -> mint id

    def __len__(self) -> int:
        return len(self.ts)


def load_tape(
    store: EventStore,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: list[int] | None = None,
) -> Tape:
    """The store's ticks (optionally a range / some mints), ready to serve."""
    from data.feed.pumpfun import bonding_curve_address

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("ts_ns", "mint_id", "price", "size",
                                                          "side", "liquidity", "uid")}  # fmt: skip
    for chunk in store.scan("ticks", ["mint_id", "price", "size", "side", "liquidity", "uid"],
                            start_ts=start_ts, end_ts=end_ts, mint_ids=mint_ids):  # fmt: skip
        for k in parts:
            parts[k].append(np.asarray(chunk[k]))
    cols = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    reg = store.mints()
    scale = 10.0**TOKEN_DECIMALS / reg.scales(max(reg.next_id, 1))  # by id: ids can have holes
    mid = cols["mint_id"].astype(np.int64)
    size6 = np.rint(cols["size"] * scale[mid] if len(mid) else np.zeros(0)).astype(np.int64)
    address = [address_for(r.mint) if (r := reg.find_id(m)) else "" for m in range(reg.next_id)]
    used = sorted(set(mid.tolist()))
    return Tape(cols["ts_ns"].astype(np.int64), mid, cols["price"].astype(np.float64), size6,
                cols["side"].astype(np.int64), cols["liquidity"].astype(np.float64),
                cols["uid"].astype(np.int64), address,
                {bonding_curve_address(address[m]): m for m in used})  # fmt: skip


def trade_for(tape: Tape, i: int) -> tuple[TradeEvent | None, CurveState] | None:
    """Tick i as a pump.fun trade (None: no size) and the curve after it.

    None when the tick cannot be put on a curve (no positive finite price).
    """
    p = float(tape.price[i])
    liq = float(tape.liq[i])
    if not math.isfinite(liq) or liq <= 0:
        liq = DEFAULT_LIQUIDITY_SOL
    if not (math.isfinite(p) and p > 0):
        return None
    v_sol = round(liq * 1e9)
    v_tok = round(liq / p * 10**TOKEN_DECIMALS)
    if v_tok <= 0 or v_tok >= 2**63:
        return None
    curve = CurveState(v_tok, v_sol, v_tok, max(0, v_sol - 30 * 10**9), 10**15, False)
    size = int(tape.size6[i])
    if size <= 0:
        return None, curve
    mint = tape.address[int(tape.mint_id[i])]
    sol = max(1, round(p * size / 10**TOKEN_DECIMALS * 1e9))
    user = address_for(f"user-{int(tape.uid[i]) % 9973}")
    ev = TradeEvent(mint, sol, size, int(tape.side[i]) >= 0, user, int(tape.ts[i]) // 10**9,
                    v_sol, v_tok)  # fmt: skip
    return ev, curve


class RecordedFeedServer:
    """Serves a tape on loopback as Solana websocket notifications."""

    def __init__(
        self,
        tape: Tape,
        *,
        speed: float = 1.0,
        drop_after: int | None = None,
        prerender: bool = False,
    ) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise ValueError("speed must be a finite number >= 0 (0: as fast as possible)")
        self.tape = tape
        self.speed = speed
        self.drop_after = drop_after
        self.sent = 0
        self.played = 0
        self.finished = asyncio.Event()
        self._logs: dict[ServerConnection, int] = {}
        self._accounts: dict[ServerConnection, dict[int, int]] = {}  # conn -> mint -> sub
        self._next_sub = 1000
        self._player: asyncio.Task[None] | None = None
        self._server: Server | None = None
        self.port = 0
        self._logs_text: list[str | None] | None = None
        self.send_ns = np.full(len(tape), -1, np.int64) if prerender else None
        """Prerendered: each trade frame's wall time (ns) when it was handed to the socket
        (the last subscriber's), so a benchmark can time sent -> decided end to end."""
        if prerender:  # render every trade's frame now, so playing is only sending
            self._logs_text = []
            for i in range(len(tape)):
                made = trade_for(tape, i)
                ev = made[0] if made else None
                self._logs_text.append(None if ev is None else logs_notification(
                    _SUB_MARK, int(tape.ts[i]) // SLOT_NS,
                    signature_for(ev.mint, int(tape.uid[i]), i), ev))  # fmt: skip

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port (0 picks a free one)."""
        self._server = await serve(self._handle, host, port, max_size=2**20)
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else port
        return self.port

    async def close(self) -> None:
        """Stop playing and close every connection."""
        if self._player:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            async for raw in ws:
                reply = self._request(ws, raw)
                if reply:
                    await ws.send(reply)
        except Exception:  # noqa: S110  (a client's broken connection ends only its session)
            pass
        finally:
            self._logs.pop(ws, None)
            self._accounts.pop(ws, None)

    def _request(self, ws: ServerConnection, raw: str | bytes) -> str | None:
        try:
            req = json.loads(raw)
            method, rid, params = req["method"], req.get("id"), req.get("params", [])
        except (ValueError, KeyError, TypeError):
            return error_reply(None, -32700, "Parse error")
        self._next_sub += 1
        sub = self._next_sub
        if method == "logsSubscribe":
            flt = params[0] if params else None
            if flt != "all" and not (
                isinstance(flt, dict) and PROGRAM_ID in flt.get("mentions", [])
            ):
                return error_reply(rid, -32602, "this server plays pump.fun logs only")
            self._logs[ws] = sub
        elif method == "accountSubscribe":
            mint = self.tape.curve_of.get(params[0] if params else "")
            if mint is None:
                return error_reply(rid, -32602, "not a bonding curve on this tape")
            self._accounts.setdefault(ws, {})[mint] = sub
        elif method.endswith("Unsubscribe"):
            return json.dumps({"jsonrpc": "2.0", "result": True, "id": rid})
        else:
            return error_reply(rid, -32601, f"Method not found: {method}")
        if self._player is None:
            self._player = asyncio.create_task(self._play())
        return subscription_result(rid, sub)

    async def _play(self) -> None:
        """Play the tape at `speed`, sending each tick's frames to current subscribers."""
        tape = self.tape
        t_wall0 = time.monotonic()
        t_tape0 = int(tape.ts[0]) if len(tape) else 0
        for i in range(len(tape)):
            if self.speed > 0:
                due = t_wall0 + (int(tape.ts[i]) - t_tape0) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif i % 256 == 0:
                    await asyncio.sleep(0)
            elif i % 64 == 0:
                await asyncio.sleep(0)
            await self._send_tick(i)
            self.played = i + 1
        self.finished.set()

    async def _send_tick(self, i: int) -> None:
        if self._logs_text is not None and not self._accounts:
            text = self._logs_text[i]
            if text is not None:
                for ws, sub in list(self._logs.items()):
                    with contextlib.suppress(Exception):
                        await ws.send(text.replace(f'"subscription": {_SUB_MARK}}}',
                                                   f'"subscription": {sub}}}'))  # fmt: skip
                        self.sent += 1
                if self.send_ns is not None:
                    self.send_ns[i] = time.time_ns()
            return
        made = trade_for(self.tape, i)
        if made is None:
            return
        ev, curve = made
        m = int(self.tape.mint_id[i])
        slot = int(self.tape.ts[i]) // SLOT_NS
        frames: list[tuple[ServerConnection, str]] = []
        if ev is not None:
            sig = signature_for(ev.mint, int(self.tape.uid[i]), i)
            for ws, sub in list(self._logs.items()):
                frames.append((ws, logs_notification(sub, slot, sig, ev)))
        for ws, subs in list(self._accounts.items()):
            if m in subs:
                frames.append((ws, account_notification(subs[m], slot, curve)))
        for ws, text in frames:
            with contextlib.suppress(Exception):
                await ws.send(text)
                self.sent += 1
            if self.drop_after is not None and self.sent >= self.drop_after:
                self.drop_after = None
                await self._drop_all()

    async def _drop_all(self) -> None:
        """Close every client connection abruptly (a node restart, a network cut)."""
        for ws in list(self._logs) + list(self._accounts):
            ws.transport.abort()
        self._logs.clear()
        self._accounts.clear()


async def serve_store(
    store: EventStore,
    *,
    speed: float,
    port: int,
    host: str = "127.0.0.1",
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: list[int] | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Any = None,
    drop_after: int | None = None,
) -> RecordedFeedServer:
    """Serve until `stop` is set or the tape has played (the CLI's loop)."""
    tape = load_tape(store, start_ts, end_ts, mint_ids)
    srv = RecordedFeedServer(tape, speed=speed, drop_after=drop_after)
    bound = await srv.start(host, port)
    if on_ready:
        on_ready(bound, len(tape), len(tape.curve_of))
    waiters = [asyncio.create_task(srv.finished.wait())]
    if stop is not None:
        waiters.append(asyncio.create_task(stop.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for w in waiters:
        w.cancel()
    await srv.close()
    return srv
