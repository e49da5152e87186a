"""The pump.fun feed: decoding by hand-built bytes, fuzzing, and the real websocket path.

Expected field values come from bytes packed here by hand (struct, hashlib), not from
the module's own encoders; the websocket tests run the feed's client against a real
server on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from solders.pubkey import Pubkey
from websockets.asyncio.server import ServerConnection, serve

from data.feed.client import FeedConfig, PumpFunFeed, WallClock, parse_frame
from data.feed.pumpfun import (
    PROGRAM_ID,
    DecodeError,
    decode_curve,
    decode_trade_event,
    trades_in_logs,
)
from data.feed.server import RecordedFeedServer, load_tape
from data.feed.wire import FeedGap, FeedProblem, FeedTick
from data.generator.market import MarketParams, generate_into
from data.store import open_store

MINT = bytes(range(1, 33))
USER = bytes(range(33, 65))
TRADE_DISC = hashlib.sha256(b"event:TradeEvent").digest()[:8]
CURVE_DISC = hashlib.sha256(b"account:BondingCurve").digest()[:8]


def trade_bytes(sol: int = 1_500_000_000, tok: int = 42_000_000_000, buy: bool = True,
                ts: int = 1_749_227_711, v_sol: int = 31_500_000_000,
                v_tok: int = 1_021_904_761_904_762, tail: bytes = b"") -> bytes:  # fmt: skip
    return (TRADE_DISC + MINT + struct.pack("<QQ?", sol, tok, buy) + USER
            + struct.pack("<qQQ", ts, v_sol, v_tok) + tail)  # fmt: skip


def logs_frame(logs: list[str], sub: int = 7, err: object = None) -> str:
    sig = "5h6xBEauJ3PK6SWCZ1PGjBvj8vDdWG3KpwATGy1ARAXFSDwt8GFXM7W5Ncn16wmqokgpiKRLuS83KUxyZyv2sUYv"
    return json.dumps({"jsonrpc": "2.0", "method": "logsNotification",
                       "params": {"result": {"context": {"slot": 5},
                                             "value": {"signature": sig, "err": err,
                                                       "logs": logs}},
                                  "subscription": sub}})  # fmt: skip


def pump_logs(*data_lines: str) -> list[str]:
    return [
        f"Program {PROGRAM_ID} invoke [1]",
        "Program log: Instruction: Buy",
        *[f"Program data: {d}" for d in data_lines],
        f"Program {PROGRAM_ID} success",
    ]


def test_trade_event_fields_and_price_by_hand() -> None:
    ev = decode_trade_event(trade_bytes(tail=b"\x00" * 96))  # newer versions append fields
    assert ev.mint == str(Pubkey(MINT)) and ev.user == str(Pubkey(USER))
    assert (ev.sol_amount, ev.token_amount, ev.is_buy, ev.timestamp) == (
        1_500_000_000,
        42_000_000_000,
        True,
        1_749_227_711,
    )
    # 31.5 SOL over 1,021,904,761.904762 tokens (6 decimals): 3.0825e-8 SOL per token.
    assert ev.price == pytest.approx(31.5 / 1_021_904_761.904762, rel=1e-12)
    assert ev.liquidity_sol == 31.5


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\x01" * 8 + trade_bytes()[8:], "wrong_discriminator"),
    (trade_bytes()[:100], "truncated"),
    (trade_bytes(tok=0), "zero_amount"),
    (trade_bytes(ts=-5), "bad_timestamp"),
    (trade_bytes(v_sol=0), "zero_reserves"),
])  # fmt: skip
def test_trade_event_refusals(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as e:
        decode_trade_event(raw)
    assert e.value.reason == reason


def test_curve_account_by_hand() -> None:
    data = CURVE_DISC + struct.pack("<QQQQQ?", 1_000_000_000_000_000, 32_000_000_000,
                                    790_000_000_000_000, 2_000_000_000, 10**15, False)  # fmt: skip
    c = decode_curve(data + b"\x00" * 32)
    assert (c.virtual_sol_reserves, c.real_sol_reserves, c.complete) == (32 * 10**9, 2 * 10**9,
                                                                         False)  # fmt: skip
    assert c.price == pytest.approx(32 / 1e9, rel=1e-12)  # 32 SOL / 1e9 tokens
    with pytest.raises(DecodeError, match="truncated"):
        decode_curve(data[:30])


def test_only_pump_fun_data_lines_count() -> None:
    b64 = base64.b64encode(trade_bytes()).decode()
    create = base64.b64encode(hashlib.sha256(b"event:CreateEvent").digest()[:8] + b"x" * 40)
    other = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"
    logs = [
        f"Program {PROGRAM_ID} invoke [1]",
        f"Program {other} invoke [2]",
        f"Program data: {b64}",  # another program's event: not a pump.fun trade
        f"Program {other} success",
        f"Program data: {create.decode()}",  # pump.fun, but no trade: skipped silently
        f"Program data: {b64}",
        f"Program data: {base64.b64encode(b'garbage!').decode()}",  # pump.fun, unknown
        f"Program {PROGRAM_ID} success",
        f"Program data: {b64}",  # after pump.fun returned
    ]
    trades, errors = trades_in_logs(logs)
    assert len(trades) == 1
    assert [e.reason for e in errors] == ["wrong_discriminator"]


def test_a_program_message_ending_in_success_does_not_end_pump_fun() -> None:
    """Only the runtime's exact `Program <id> success` line pops the invoke stack."""
    b64 = base64.b64encode(trade_bytes()).decode()
    logs = [
        f"Program {PROGRAM_ID} invoke [1]",
        "Program log: transfer success",  # pump.fun's own message, not its return
        "Program data: success",
        f"Program data: {b64}",
        f"Program {PROGRAM_ID} consumed 31337 of 200000 compute units",
        f"Program {PROGRAM_ID} success",
        f"Program data: {b64}",  # after pump.fun returned: not a pump.fun trade
    ]
    trades, errors = trades_in_logs(logs)
    assert len(trades) == 1
    assert [e.reason for e in errors] == ["bad_base64"]


def _feed(items: list[object]) -> PumpFunFeed:
    return PumpFunFeed(FeedConfig(), WallClock(), items.append)


def _through_feed(frame: str | bytes) -> list[object]:
    """One frame through the client's own parse and decode path."""
    items: list[object] = []
    feed = _feed(items)
    for n in parse_frame(frame):
        if hasattr(n, "subscription"):
            feed._deliver(n, 123)
    return items


_B64 = hs.binary(min_size=0, max_size=160).map(lambda b: base64.b64encode(b).decode())
_BAD_DATA = hs.one_of(
    _B64,  # random bytes: wrong discriminator, or truncated
    hs.binary(min_size=0, max_size=160).map(lambda b: base64.b64encode(TRADE_DISC + b).decode()),
    hs.text(max_size=40),  # not base64 at all
    _B64.map(lambda s: s[: max(0, len(s) - 3)]),  # truncated base64
    hs.tuples(hs.integers(0, 2**64 - 1), hs.integers(0, 2**64 - 1), hs.integers(-2**63, 2**63 - 1),
              hs.integers(0, 2**64 - 1), hs.integers(0, 2**64 - 1)).map(
        lambda t: base64.b64encode(trade_bytes(t[0], t[1], True, t[2], t[3], t[4])).decode()),
)  # fmt: skip
_BAD_FRAME = hs.one_of(
    hs.text(max_size=80),  # not JSON
    hs.binary(max_size=40),  # not even UTF-8
    hs.just('{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{"context":'
            '{"slot":NaN}}}}'),
    hs.just('{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{"context":'
            '{"slot":1e999},"value":{}},"subscription":1}}'),
    hs.just('{"jsonrpc":"2.0","error":{"code":-32700,"message":"x"},"id":null}'),
    hs.recursive(hs.none() | hs.booleans() | hs.floats(allow_nan=True) | hs.text(max_size=5),
                 lambda c: hs.lists(c, max_size=3) | hs.dictionaries(hs.text(max_size=5), c,
                                                                    max_size=3),
                 max_leaves=8).map(json.dumps),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_BAD_DATA)
@example(data="success")  # "Program data: success" once passed for the program's return
@example(data="x failed: y")
def test_fuzz_data_lines_never_crash_and_are_quarantined_or_valid(data: str) -> None:
    items = _through_feed(logs_frame(pump_logs(data)))
    assert len(items) == 1
    (it,) = items
    if isinstance(it, FeedTick):  # the draw happened to be a valid trade
        assert math.isfinite(it.price) and it.price > 0 and it.size > 0
    else:
        assert isinstance(it, FeedProblem) and it.reason and it.raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_BAD_FRAME)
def test_fuzz_frames_never_crash_and_bad_ones_are_quarantined(frame: str | bytes) -> None:
    items = _through_feed(frame)
    parsed = parse_frame(frame)
    if not any(hasattr(n, "subscription") for n in parsed):
        return  # a reply or an error with an id: not a notification, nothing to decode
    assert items, frame
    assert all(isinstance(i, FeedProblem | FeedTick) for i in items)


def test_failed_transactions_trade_nothing() -> None:
    b64 = base64.b64encode(trade_bytes()).decode()
    failed = {"InstructionError": [0, {"Custom": 6001}]}
    assert _through_feed(logs_frame(pump_logs(b64), err=failed)) == []
    (tick,) = _through_feed(logs_frame(pump_logs(b64)))
    assert isinstance(tick, FeedTick)
    assert (tick.size, tick.side, tick.chain_ts_ns, tick.recv_ns) == (
        42_000_000_000,
        1,
        1_749_227_711 * 10**9,
        123,
    )


# ------------------------------------------------------------- over a real socket
async def _bad_then_good_server(port_box: list[int], frames: list[str | bytes]) -> object:
    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            req = json.loads(raw)
            await ws.send(json.dumps({"jsonrpc": "2.0", "result": 7, "id": req["id"]}))
            for f in frames:
                await ws.send(f)

    srv = await serve(handler, "127.0.0.1", 0)
    port_box.append(srv.sockets[0].getsockname()[1])
    return srv


def _until_a_tick(
    frames: list[str | bytes], raw_sink: Callable[[int, str], None] | None = None
) -> tuple[list[object], PumpFunFeed]:
    """The feed's items from a server that confirms and sends `frames`, read until the
    first tick arrives (bounded, so a broken reader fails instead of hanging)."""

    async def main() -> tuple[list[object], PumpFunFeed]:
        box: list[int] = []
        srv = await _bad_then_good_server(box, frames)
        items: list[object] = []
        cfg = FeedConfig(url=f"ws://127.0.0.1:{box[0]}", watch_curves=False)
        feed = PumpFunFeed(cfg, WallClock(), items.append, raw_sink)
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        for _ in range(2_000):  # progress, not a clock: until a tick has come
            if any(isinstance(i, FeedTick) for i in items):
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task
        srv.close()  # type: ignore[attr-defined]
        return items, feed

    return asyncio.run(main())


def test_malformed_frames_are_quarantined_and_the_connection_goes_on() -> None:
    b64 = base64.b64encode(trade_bytes()).decode()
    frames: list[str | bytes] = ["{not json", b"\xff\xfe", logs_frame(pump_logs("@@@")),
                                 logs_frame(pump_logs(b64))]  # fmt: skip

    items, feed = _until_a_tick(frames)
    kinds = [type(i).__name__ if not isinstance(i, FeedProblem) else i.reason for i in items]
    assert kinds == ["unparseable_frame", "unparseable_frame", "bad_base64", "FeedTick"]
    assert feed.health.reconnects == 0  # one connection took all four frames


@pytest.fixture(scope="module")
def small_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("feedsrc") / "s"
    generate_into(open_store(d, create=True), MarketParams(mints=8, hours=1, seed=3))
    return d


def test_dropped_connection_reconnects_with_backoff_and_records_a_gap(small_market: Path) -> None:
    tape = load_tape(open_store(small_market))
    assert len(tape) > 3000

    async def main() -> tuple[list[object], PumpFunFeed, RecordedFeedServer]:
        srv = RecordedFeedServer(tape, speed=0, drop_after=1000)
        port = await srv.start()
        items: list[object] = []
        cfg = FeedConfig(url=f"ws://127.0.0.1:{port}", backoff_base_s=0.05, watch_curves=False)
        feed = PumpFunFeed(cfg, WallClock(), items.append)
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        await srv.finished.wait()
        while feed.health.frames < srv.sent:  # until the client has read what was sent
            await asyncio.sleep(0.01)
        stop.set()
        await task
        await srv.close()
        return items, feed, srv

    items, feed, _ = asyncio.run(main())
    gaps = [i for i in items if isinstance(i, FeedGap)]
    assert len(gaps) == 1 and feed.health.reconnects == 1
    (gap,) = gaps
    assert gap.end_ns > gap.start_ns and gap.attempts >= 0
    assert "ConnectionClosed" in gap.reason
    ticks = [i for i in items if isinstance(i, FeedTick)]
    before = [t for t in ticks if t.recv_ns <= gap.start_ns]
    after = [t for t in ticks if t.recv_ns >= gap.end_ns]
    assert len(before) == 1000  # everything up to the drop arrived
    assert after, "the feed went on after reconnecting"
    assert len(before) + len(after) == len(ticks)


def test_api_key_is_a_secret(tmp_path: Path) -> None:
    key = "sk-test-0123456789abcdef"
    cfg = FeedConfig(url="ws://127.0.0.1:9/?api-key={api_key}", api_key=key,
                     backoff_base_s=0.01)  # fmt: skip
    assert key not in repr(cfg) and key not in cfg.display_url
    assert key in cfg.connect_url()

    async def main() -> PumpFunFeed:
        feed = PumpFunFeed(cfg, WallClock(), lambda _: None)
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        while not feed.health.last_error:  # port 9 refuses: wait for the first failure
            await asyncio.sleep(0.01)
        stop.set()
        await task
        return feed

    feed = asyncio.run(main())
    assert feed.health.last_error and key not in feed.health.last_error


def test_a_refused_curve_subscription_is_a_problem_and_the_trades_go_on() -> None:
    """A provider that refuses account subscriptions (a limit) costs the curve, not the
    connection: the refusal is quarantined with the node's words, and trades flow."""
    b64 = base64.b64encode(trade_bytes()).decode()
    mint = str(Pubkey(MINT))

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            req = json.loads(raw)
            if req["method"] == "logsSubscribe":
                await ws.send(json.dumps({"jsonrpc": "2.0", "result": 7, "id": req["id"]}))
            else:
                await ws.send(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": req["id"],
                            "error": {
                                "code": -32005,
                                "message": "account subscription limit reached",
                            },
                        }
                    )
                )
                await ws.send(logs_frame(pump_logs(b64)))

    async def main() -> tuple[list[object], PumpFunFeed]:
        async with serve(handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            items: list[object] = []
            feed = PumpFunFeed(FeedConfig(url=f"ws://127.0.0.1:{port}"), WallClock(),
                               items.append)  # fmt: skip
            feed.watch(mint, held=True)
            stop = asyncio.Event()
            task = asyncio.create_task(feed.run(stop))
            while not any(isinstance(i, FeedTick) for i in items):  # progress, not a clock
                await asyncio.sleep(0.01)
            stop.set()
            await task
            return items, feed

    items, feed = asyncio.run(main())
    (refused,) = [i for i in items if isinstance(i, FeedProblem)]  # once: no double subscription
    assert refused.reason == "subscription_refused"
    assert mint in refused.detail and "-32005: account subscription limit reached" in refused.detail
    assert feed.health.reconnects == 0 and feed.health.connected is False  # stopped cleanly


def test_a_node_that_never_confirms_the_subscription_is_left_and_retried() -> None:
    """No answer to logsSubscribe within `request_timeout_s`: the connection is given up
    (the reason says so) and the feed connects again, never hanging on a silent node."""
    tries: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        tries.append(1)
        async for _ in ws:  # read requests, answer none
            pass

    async def main() -> PumpFunFeed:
        async with serve(handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            feed = PumpFunFeed(FeedConfig(url=f"ws://127.0.0.1:{port}", request_timeout_s=0.2,
                                          backoff_base_s=0.01), WallClock(),
                               lambda _: None)  # fmt: skip
            stop = asyncio.Event()
            task = asyncio.create_task(feed.run(stop))
            while len(tries) < 2:  # until it has come back for a second try
                await asyncio.sleep(0.01)
            stop.set()
            await task
            return feed

    feed = asyncio.run(main())
    assert "logsSubscribe: no answer within 0.2 s" in feed.health.last_error
    assert not feed.ever_connected or feed.health.reconnects == 0  # never up: no reconnects


@pytest.mark.parametrize(("frame", "kinds"), [
    # A JSON-RPC batch: each message sorted on its own.
    ('[{"jsonrpc":"2.0","result":3,"id":1},{"jsonrpc":"2.0","method":"slotNotification",'
     '"params":{"result":{"slot":9},"subscription":4}}]', ["Reply", "OtherNotification"]),
    ('{"jsonrpc":"2.0","error":{"code":-32601,"message":"no"},"id":2}', ["Reply"]),
    ('{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"},"id":null}',
     ["BadFrame"]),
    ('{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{"context":{"slot":-1},'
     '"value":{"signature":"x","err":null,"logs":[]}},"subscription":7}}', ["BadFrame"]),
    ('{"jsonrpc":"2.0","method":"accountNotification","params":{"result":{"context":'
     '{"slot":1},"value":{"data":["AAAA","base64"]}},"subscription":7}}',
     ["AccountNotification"]),
    ("[]", ["BadFrame"]),
    ("[" * 100_000, ["BadFrame"]),  # too deep for any decoder: the frame, not the feed
    ('{"a":' * 50_000, ["BadFrame"]),
    ("1e999999", ["BadFrame"]),
    ("[[1]]", ["BadFrame"]),
    ("7", ["BadFrame"]),
])  # fmt: skip
def test_frames_are_sorted_into_what_they_are(frame: str, kinds: list[str]) -> None:
    got = parse_frame(frame)
    assert [type(e).__name__ for e in got] == kinds
    for e in got:
        if type(e).__name__ == "BadFrame":
            assert e.reason and e.raw  # type: ignore[union-attr]


def test_a_binary_frame_is_read_like_a_text_one_and_recorded_once() -> None:
    """A node may send a notification as a binary frame; with the recorder on, each
    frame is kept once (however many messages it holds) and its trade still flows."""
    b64 = base64.b64encode(trade_bytes()).decode()
    frames: list[str | bytes] = [logs_frame(pump_logs(b64)).encode()]

    raw: list[tuple[int, str]] = []
    items, _ = _until_a_tick(frames, lambda t, text: raw.append((t, text)))
    assert [type(i).__name__ for i in items] == ["FeedTick"]
    assert len(raw) == 1 and raw[0][1] == frames[0].decode()  # type: ignore[union-attr]
