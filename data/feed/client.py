"""The live pump.fun feed: a websocket JSON-RPC session, decoding, reconnects and gaps.

`PumpFunFeed.run` connects with `websockets`, subscribes to the logs of transactions
that mention the pump.fun program and to the bonding-curve accounts of watched mints,
and hands every decoded message to a sink as a `FeedTick`, a `FeedProblem` (quarantine)
or, after an outage, a `FeedGap`.

One task reads the socket: each frame is stamped with its receive time the moment it
arrives (the latency clock starts there), parsed (`data.feed.rpc`), and either matched
to the request it answers or decoded and handed to the sink, in the order it came. A
frame that fails to parse becomes a `FeedProblem` in its place instead of ending the
connection, so one malformed message never costs the frames behind it.

The API key (if the provider wants one) is a secret: it is substituted into the URL
only to connect, and every item this module hands on (problems, gaps, raw frames, the
health counters) has the key, and its URL-encoded forms, replaced by `***` first, so
a server that quotes the request path back cannot put it into the store.

Nothing a peer sends may stop the feed: every frame, however malformed, becomes a tick
or a `FeedProblem`; only the signals that stop the program (KeyboardInterrupt,
SystemExit, task cancellation) pass through.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pydantic import BaseModel, Field, SecretStr, field_validator
from websockets.asyncio.client import ClientConnection, connect

from data.feed.pumpfun import PROGRAM_ID, bonding_curve_address
from data.feed.rpc import (
    RAW_KEEP,
    AccountNotification,
    BadFrame,
    LogsNotification,
    OtherNotification,
    Reply,
    parse_frame,
)
from data.feed.wire import (
    FeedGap,
    FeedItem,
    FeedProblem,
    items_from_account,
    items_from_logs,
)


class WallClock:
    """Epoch nanoseconds that never run backwards (epoch at start + monotonic time)."""

    def __init__(self) -> None:
        self._epoch0 = time.time_ns()
        self._mono0 = time.monotonic_ns()

    def now_ns(self) -> int:
        """The current time, ns since the epoch, monotone within this process."""
        return self._epoch0 + (time.monotonic_ns() - self._mono0)


class FeedConfig(BaseModel):
    """Where the feed connects and how it behaves when the connection drops."""

    model_config = {"extra": "forbid"}

    url: str = "ws://127.0.0.1:8900"
    """Websocket URL; `{api_key}` in it is replaced by the API key when connecting."""
    api_key: SecretStr | None = None
    commitment: str = "processed"
    backoff_base_s: float = Field(default=0.25, gt=0)
    backoff_cap_s: float = Field(default=30.0, gt=0)
    queue_size: int = Field(default=4096, gt=0)
    """Frames the socket may buffer before reading from the network pauses."""
    request_timeout_s: float = Field(default=15.0, gt=0)
    """A subscription the node does not confirm within this ends the connection."""
    watch_curves: bool = True
    """Subscribe to the bonding curves of mints seen trading (prices between trades)."""
    compression: bool = False
    """Offer permessage-deflate: less bandwidth, but inflating every frame costs latency."""
    max_watched: int = Field(default=200, ge=0)
    """At most this many curve subscriptions (RPC providers limit them); held mints are
    always watched."""

    @field_validator("url")
    @classmethod
    def _ws_url(cls, v: str) -> str:
        if not v.startswith(("ws://", "wss://")):
            raise ValueError(f"feed url must start with ws:// or wss://, got {v[:40]!r}")
        return v

    @field_validator("commitment")
    @classmethod
    def _commitment(cls, v: str) -> str:
        if v not in ("processed", "confirmed", "finalized"):
            raise ValueError("commitment must be processed, confirmed or finalized")
        return v

    def connect_url(self) -> str:
        """The URL with the key in it: for the connection only, never for display."""
        key = self.api_key.get_secret_value() if self.api_key else ""
        return self.url.replace("{api_key}", key)

    def redact(self, text: str) -> str:
        """`text` with the API key (raw and URL-encoded, if any) replaced by ***."""
        key = self.api_key.get_secret_value() if self.api_key else ""
        if not key:
            return text
        for form in {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)}:
            text = text.replace(form, "***")
        return text

    @property
    def display_url(self) -> str:
        """The URL as logs show it."""
        return self.url.replace("{api_key}", "***")


_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)
"""What a frame handler must never swallow: the program (or the task) is stopping."""


def _shown(n: object) -> str:
    """A notification as text for a quarantine entry (never raising)."""
    try:
        return str(n)[:RAW_KEEP]
    except _PASS_THROUGH:
        raise
    except BaseException:  # a repr that panics: show the type
        return f"<{type(n).__name__}>"


class RpcError(RuntimeError):
    """The node refused a request (its JSON-RPC error), or did not answer in time."""


class _Session:
    """One connection: numbered requests, and the replies matched to them."""

    def __init__(self, ws: ClientConnection, timeout_s: float) -> None:
        self.ws = ws
        self.timeout_s = timeout_s
        self._next = 0
        self.waiting: dict[int, tuple[asyncio.Future[object], str | None]] = {}
        """Request id -> (its reply, the mint whose curve it subscribes, if any)."""

    async def request(self, method: str, params: list[Any], mint: str | None = None) -> object:
        """Send one request; its result once the reader has matched the reply."""
        self._next += 1
        rid = self._next
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = (fut, mint)
        try:
            await self.ws.send(msgspec.json.encode(
                {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
            ).decode())  # fmt: skip
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            raise RpcError(f"{method}: no answer within {self.timeout_s:g} s") from None
        finally:
            self.waiting.pop(rid, None)


@dataclass
class FeedHealth:
    """What the status view shows about the feed."""

    connected: bool = False
    frames: int = 0
    ticks: int = 0
    problems: int = 0
    gaps: int = 0
    reconnects: int = 0
    last_error: str = ""
    watched: set[str] = field(default_factory=set)


class PumpFunFeed:
    """pump.fun trades (logs) and watched bonding curves (accounts) as feed items."""

    def __init__(
        self,
        config: FeedConfig,
        clock: WallClock,
        sink: Callable[[FeedItem], None],
        raw_sink: Callable[[int, str], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._sink = sink
        self._raw_sink = raw_sink
        """Called with (receive time, frame text) for every frame, before decoding."""
        self.health = FeedHealth()
        self._curve_subs: dict[int, str] = {}
        """Subscription id -> mint, set by the reader as each confirmation arrives (so an
        account update right behind its confirmation already has its mint)."""
        self._logs_sub: int | None = None
        self._watch_queue: asyncio.Queue[str] = asyncio.Queue()
        self._down_since: int | None = None
        self._opened_ns = 0
        self._attempt = 0
        self._reason = ""
        self._started_ns = 0
        self.ever_connected = False
        """Whether any connection of this feed was ever established."""

    @property
    def raw_sink(self) -> Callable[[int, str], None] | None:
        """Whether raw frames are kept (the recorder): then every frame is passed on."""
        return self._raw_sink

    def sink(self, item: FeedItem) -> None:
        """Hand an item on, with the API key redacted from every text it carries."""
        if isinstance(item, FeedProblem):
            red = self.config.redact
            item = dataclasses.replace(item, reason=red(item.reason), detail=red(item.detail),
                                       raw=red(item.raw))  # fmt: skip
        elif isinstance(item, FeedGap):
            item = dataclasses.replace(item, reason=self.config.redact(item.reason))
        self._sink(item)

    def open_outage(self, now_ns: int) -> FeedGap | None:
        """The outage still under way at `now_ns` (the feed is down), as a gap, or None.

        A run that stops while its feed is down records this, so an unreachable feed
        leaves a gap in the log instead of an empty, silent run.
        """
        if self._down_since is None:
            return None
        return FeedGap(self._down_since, now_ns, self._attempt, self._reason or "never connected")

    def watch(self, mint: str, *, held: bool = False) -> None:
        """Follow `mint`'s bonding curve from now on (kept across reconnects).

        Mints seen trading are watched up to `max_watched`; a `held` mint (an open
        position) always is.
        """
        if mint in self.health.watched:
            return
        if held or (
            self.config.watch_curves and len(self.health.watched) < self.config.max_watched
        ):
            self.health.watched.add(mint)
            self._watch_queue.put_nowait(mint)

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(cap, base x 2^attempt)]."""
        ceiling = min(self.config.backoff_cap_s, self.config.backoff_base_s * 2**attempt)
        return random.uniform(0.0, ceiling)  # noqa: S311  (jitter, not crypto)

    async def _subscribe_curve(self, session: _Session, mint: str) -> None:
        """Follow one curve; a refusal (a provider's limit, say) is a problem, not an end."""
        try:
            await session.request(
                "accountSubscribe",
                [bonding_curve_address(mint),
                 {"encoding": "base64", "commitment": self.config.commitment}],
                mint=mint,
            )  # fmt: skip
        except RpcError as exc:
            self.health.problems += 1
            self.sink(FeedProblem("subscription_refused", f"curve of {mint}: {exc}"[:300], "",
                                  self.clock.now_ns()))  # fmt: skip

    async def _session(self, ws: ClientConnection) -> None:
        """Subscribe, then pass items to the sink until the connection ends.

        The reader runs from the start, so the replies to the subscriptions (and any
        frame before them) are read in order; the outage's gap is handed on when the
        node confirms the logs subscription, before any frame that follows it.
        """
        session = _Session(ws, self.config.request_timeout_s)
        self._curve_subs.clear()
        self._logs_sub = None
        reader = asyncio.create_task(self._read(session))
        watcher: asyncio.Task[None] | None = None
        subscribed = asyncio.ensure_future(session.request(
            "logsSubscribe",
            [{"mentions": [PROGRAM_ID]}, {"commitment": self.config.commitment}],
        ))  # fmt: skip
        try:
            await asyncio.wait({subscribed, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not subscribed.done():
                subscribed.cancel()
                await reader  # raises why the connection ended
            subscribed.result()
            while not self._watch_queue.empty():  # the watched set below covers them
                self._watch_queue.get_nowait()
            for mint in sorted(self.health.watched):
                await self._subscribe_curve(session, mint)
            self.health.connected = True
            watcher = asyncio.create_task(self._watch_loop(session))
            await reader  # until the connection ends; raises why
        finally:
            for task in (reader, watcher, subscribed):
                if task is None:
                    continue
                if not task.done():
                    task.cancel()
                # Retrieve every ending, so none is reported later as "never retrieved"
                # (a close frame's reason can quote the URL, and with it the key).
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch_loop(self, session: _Session) -> None:
        while True:
            mint = await self._watch_queue.get()
            await self._subscribe_curve(session, mint)

    async def _read(self, session: _Session) -> None:
        """Every frame, in order: stamped, parsed, matched to its request or delivered."""
        clock, raw_sink, redact = self.clock, self._raw_sink, self.config.redact
        recv = session.ws.recv
        while True:
            frame = await recv()  # ConnectionClosed (OK or not) ends the session
            recv_ns = clock.now_ns()
            recorded = raw_sink is None
            for env in parse_frame(frame):
                if isinstance(env, Reply):
                    self._answer(session, env)
                    continue
                self.health.frames += 1
                if not recorded:  # the recorder keeps the frame once, before its items
                    recorded = True
                    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                    raw_sink(recv_ns, redact(text))  # type: ignore[misc]
                self._deliver(env, recv_ns)

    def _answer(self, session: _Session, reply: Reply) -> None:
        """Resolve the request `reply` answers (a stray reply is dropped)."""
        rid = reply.id if isinstance(reply.id, int) and not isinstance(reply.id, bool) else -1
        waiting = session.waiting.get(rid)
        if waiting is None or waiting[0].done():
            return
        fut, mint = waiting
        if reply.error:
            fut.set_exception(RpcError(self.config.redact(reply.error)))
            return
        sub = reply.result
        if not isinstance(sub, int) or isinstance(sub, bool) or sub < 0:
            fut.set_exception(RpcError(f"a subscription id must be an integer, got {sub!r:.60}"))
            return
        if mint is not None:
            self._curve_subs[sub] = mint
        elif self._logs_sub is None:
            self._logs_sub = sub
            self._outage_ends()
        fut.set_result(sub)

    def _outage_ends(self) -> None:
        """The outage (if one) is over: its gap, ending when this socket opened."""
        if self._down_since is not None:
            self.health.gaps += 1
            # The outage ends when the socket opened: no frame of it arrived earlier.
            self.sink(FeedGap(self._down_since, self._opened_ns, self._attempt, self._reason))
            self._down_since = None
            self._attempt = 0

    def _deliver(self, n: Any, recv_ns: int) -> None:
        try:
            items = self._items(n, recv_ns)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:  # decoding must never end the feed
            first = (str(exc).splitlines() or [""])[0]
            items = [FeedProblem("undecodable_notification", f"{type(exc).__name__}: {first}"[:300],
                                 _shown(n), recv_ns)]  # fmt: skip
        for it in items:
            if isinstance(it, FeedProblem):
                self.health.problems += 1
            else:
                self.health.ticks += 1
            self.sink(it)

    def _items(self, n: Any, recv_ns: int) -> list[Any]:
        """The items one notification gives."""
        if isinstance(n, LogsNotification):
            return items_from_logs(n, recv_ns)
        if isinstance(n, AccountNotification):
            return items_from_account(n, self._curve_subs.get(n.subscription), recv_ns)
        if isinstance(n, BadFrame):
            return [FeedProblem("unparseable_frame", n.reason, n.raw, recv_ns)]
        if isinstance(n, OtherNotification):
            return [FeedProblem("unexpected_notification", n.method, n.raw, recv_ns)]
        return [FeedProblem("unexpected_notification", type(n).__name__, _shown(n), recv_ns)]

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until `stop` is set, reconnecting with backoff; gaps become FeedGap items.

        The feed counts as down from the start until its first connection opens: a feed
        that never connects has an outage from the start (see `open_outage`).
        """
        self._started_ns = self.clock.now_ns()
        while not stop.is_set():
            ws: ClientConnection | None = None
            try:
                ws = await connect(
                    self.config.connect_url(),
                    compression="deflate" if self.config.compression else None,
                    max_size=2**22,
                    max_queue=self.config.queue_size,
                    open_timeout=self.config.request_timeout_s,
                )
                self._opened_ns = self.clock.now_ns()
                self.ever_connected = True
                session = asyncio.create_task(self._session(ws))
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if session.done():
                    session.result()  # raises why the connection ended
                session.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session
            except _PASS_THROUGH:
                raise
            except BaseException as exc:  # every failure means: reconnect
                self._reason = self.config.redact(f"{type(exc).__name__}: {exc}")[:300]
                self.health.last_error = self._reason
            finally:
                was_up = self.health.connected
                self.health.connected = False
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()
            if stop.is_set():
                break
            if self._down_since is None:
                # Down since this failure, or since the start if it never connected.
                self._down_since = self.clock.now_ns() if self.ever_connected else self._started_ns
                if was_up:
                    self.health.reconnects += 1
            await asyncio.sleep(self._backoff(self._attempt))
            self._attempt += 1
