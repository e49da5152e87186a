"""The live pump.fun feed: solana-py's websocket client, decoding, reconnects and gaps.

`PumpFunFeed.run` connects with solana-py's `SolanaWsClient` (solana 0.41, pinned: its
websocket API changed in that release), subscribes to the logs of transactions that
mention the pump.fun program and to the bonding-curve accounts of watched mints, and
hands every decoded message to a sink as a `FeedTick`, a `FeedProblem` (quarantine) or,
after an outage, a `FeedGap`.

Two things solana-py's client does not do for a trading feed are added by a subclass:
each frame is stamped with its receive time the moment it arrives (the latency clock
starts there), and a frame that fails to parse becomes a `FeedProblem` instead of
ending the connection, so one malformed message never costs the frames behind it.

The API key (if the provider wants one) is a secret: it is substituted into the URL
only to connect, and every item this module hands on (problems, gaps, raw frames, the
health counters) has the key, and its URL-encoded forms, replaced by `***` first, so
a server that quotes the request path back cannot put it into the store.

Nothing a peer sends may stop the feed: every frame, however malformed, becomes a tick
or a `FeedProblem`. That includes frames that make the Rust parser panic (solders'
`PanicException` derives from BaseException, not Exception): only the signals that
stop the program (KeyboardInterrupt, SystemExit, task cancellation) pass through.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel, Field, SecretStr, field_validator
from solana.rpc.websocket_api import (
    ConnectionState,
    OverflowPolicy,
    SolanaWsClient,
    Subscription,
    _parse_frame,
)
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import (
    AccountNotification,
    LogsNotification,
    SubscriptionResult,
    UnsubscribeResult,
    parse_websocket_message,
)

from data.feed.pumpfun import PROGRAM, bonding_curve_address
from data.feed.wire import (
    RAW_KEEP,
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
    queue_size: int = Field(default=200_000, gt=0)
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


def parse_frame(raw: str | bytes) -> list[Any]:
    """A frame's JSON-RPC messages as solana-py parses them, or one `BadFrame`.

    The client's reader runs every frame through this, so a frame that does not parse
    (bad JSON, bad UTF-8, a shape solders refuses, a null-id error) is quarantined in
    its place in the stream instead of ending the connection.
    """
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if text.startswith('{"jsonrpc"') and '"method"' in text and '"error"' not in text:
            # One notification (what a node sends): solders parses the text as it is;
            # solana-py's general path would load and re-dump the JSON first.
            return list(parse_websocket_message(text))
        return list(_parse_frame(text))
    except _PASS_THROUGH:
        raise
    except BaseException as exc:  # any parse failure, Rust panics too
        shown = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        first = (str(exc).splitlines() or [""])[0]
        return [BadFrame(f"{type(exc).__name__}: {first}"[:300], shown[:RAW_KEEP])]


@dataclass
class BadFrame:
    """A frame that did not parse as JSON-RPC; queued in order with the notifications."""

    reason: str
    raw: str
    subscription: int = -1


def _shown(n: object) -> str:
    """A notification as text for a quarantine entry (never raising)."""
    try:
        return str(n)[:RAW_KEEP]
    except _PASS_THROUGH:
        raise
    except BaseException:  # a repr that panics: show the type
        return f"<{type(n).__name__}>"


class _StampedClient(SolanaWsClient):
    """solana-py's client, with receive stamps and bad frames queued instead of fatal."""

    def __init__(self, uri: str, clock: WallClock, keep_raw: bool, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self.clock = clock
        self.keep_raw = keep_raw
        self.stamps: deque[tuple[int, str | None]] = deque()

    async def _read_loop(self) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            while self._closed_exc is None:
                raw = await ws.recv()
                recv_ns = self.clock.now_ns()
                text = raw if isinstance(raw, str) else None
                for envelope in parse_frame(raw):
                    if self.connection_state is ConnectionState.CLOSED:
                        return
                    if isinstance(envelope, (SubscriptionResult, UnsubscribeResult)):
                        self._dispatch_response(envelope)
                    elif isinstance(envelope, BadFrame) or hasattr(envelope, "subscription"):
                        self.stamps.append((recv_ns, text if self.keep_raw else None))
                        self._dispatch_notification(cast(Any, envelope))
                    else:
                        self._dispatch_error(envelope)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:  # the reader records every failure (panics too)
            self._abandon(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))

    async def recv_stamped(self) -> tuple[int, str | None, Any]:
        """The next notification (or BadFrame), its receive time, and its frame if kept."""
        item = await self.recv()
        recv_ns, raw = self.stamps.popleft()
        return recv_ns, raw, item


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
        self._inflight = 0
        self._early: dict[int, list[tuple[Any, int]]] = {}
        """Account updates that beat their subscription's confirmation to the consumer."""
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

    async def _subscribe_curve(self, client: _StampedClient, mint: str) -> None:
        self._inflight += 1
        try:
            sub: Subscription = await client.account_subscribe(
                pubkey=Pubkey.from_string(bonding_curve_address(mint)),
                commitment=self.config.commitment,  # type: ignore[arg-type]
                encoding="base64",
            )
        finally:
            self._inflight -= 1
        self._curve_subs[sub.subscription_id] = mint
        # A node may send the first update before this task sees the confirmation.
        for n, recv_ns in self._early.pop(sub.subscription_id, []):
            self._deliver(n, recv_ns)
        if not self._inflight:
            for early in self._early.values():
                for n, recv_ns in early:
                    self._deliver(n, recv_ns)
            self._early.clear()

    async def _session(self, client: _StampedClient) -> None:
        """Subscribe, then pass items to the sink until the connection ends."""
        await client.logs_subscribe(
            filter_=RpcTransactionLogsFilterMentions(PROGRAM),
            commitment=self.config.commitment,  # type: ignore[arg-type]
        )
        self._curve_subs.clear()
        for mint in sorted(self.health.watched):
            await self._subscribe_curve(client, mint)
        self.health.connected = True
        if self._down_since is not None:  # the outage ends before this connection's frames
            self.health.gaps += 1
            # The outage ends when the socket opened: no frame of it arrived earlier.
            self.sink(FeedGap(self._down_since, self._opened_ns, self._attempt, self._reason))
            self._down_since = None
            self._attempt = 0
        watcher = asyncio.create_task(self._watch_loop(client))
        try:
            while True:
                recv_ns, raw, n = await client.recv_stamped()
                self.health.frames += 1
                if self._raw_sink is not None:
                    text = n.raw if isinstance(n, BadFrame) else raw or ""
                    self._raw_sink(recv_ns, self.config.redact(text))
                self._deliver(n, recv_ns)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    async def _watch_loop(self, client: _StampedClient) -> None:
        while True:
            mint = await self._watch_queue.get()
            await self._subscribe_curve(client, mint)

    def _deliver(self, n: Any, recv_ns: int) -> None:
        try:
            items = self._items(n, recv_ns)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:  # decoding must never end the feed
            first = (str(exc).splitlines() or [""])[0]
            items = [FeedProblem("undecodable_notification", f"{type(exc).__name__}: {first}"[:300],
                                 _shown(n), recv_ns)]  # fmt: skip
        if items is None:
            return
        for it in items:
            if isinstance(it, FeedProblem):
                self.health.problems += 1
            else:
                self.health.ticks += 1
            self.sink(it)

    def _items(self, n: Any, recv_ns: int) -> list[Any] | None:
        """The items one notification gives (None: held until its subscription is known)."""
        if isinstance(n, BadFrame):
            return [FeedProblem("unparseable_frame", n.reason, n.raw, recv_ns)]
        if isinstance(n, LogsNotification):
            return items_from_logs(n, recv_ns)
        if isinstance(n, AccountNotification):
            mint = self._curve_subs.get(n.subscription)
            if mint is None and self._inflight:
                self._early.setdefault(n.subscription, []).append((n, recv_ns))
                return None
            return items_from_account(n, mint, recv_ns)
        return [FeedProblem("unexpected_notification", type(n).__name__, _shown(n), recv_ns)]

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until `stop` is set, reconnecting with backoff; gaps become FeedGap items.

        The feed counts as down from the start until its first connection opens: a feed
        that never connects has an outage from the start (see `open_outage`).
        """
        self._started_ns = self.clock.now_ns()
        while not stop.is_set():
            client = _StampedClient(
                self.config.connect_url(),
                self.clock,
                self.raw_sink is not None,
                notification_queue_size=self.config.queue_size,
                overflow=OverflowPolicy.RAISE,
                compression="deflate" if self.config.compression else None,
            )
            try:
                await client.connect()
                self._opened_ns = self.clock.now_ns()
                self.ever_connected = True
                session = asyncio.create_task(self._session(client))
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if session.done():
                    session.result()  # raises why the connection ended
                else:
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
                with contextlib.suppress(Exception):
                    await client.close()
            if stop.is_set():
                break
            if self._down_since is None:
                # Down since this failure, or since the start if it never connected.
                self._down_since = self.clock.now_ns() if self.ever_connected else self._started_ns
                if was_up:
                    self.health.reconnects += 1
            await asyncio.sleep(self._backoff(self._attempt))
            self._attempt += 1
