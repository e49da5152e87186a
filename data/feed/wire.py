"""Solana websocket JSON-RPC messages: what a node sends, and what the feed makes of them.

The server side builds `logsNotification` / `accountNotification` frames exactly as a
public RPC node does (the recorded-feed server uses them); the client side turns the
notifications `data.feed.rpc` parsed into feed items: ticks, or quarantine entries with a
reason when something in them cannot be used.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import NamedTuple

from solders.signature import Signature

from data.base58 import b58encode
from data.feed.pumpfun import (
    DATA_PREFIX,
    LAMPORTS_PER_SOL,
    PROGRAM_ID,
    CurveState,
    DecodeError,
    TradeEvent,
    b64decode_strict,
    curve_price,
    decode_curve,
    encode_curve,
    encode_trade_event,
    trades_in_logs,
)
from data.feed.rpc import RAW_KEEP, AccountNotification, LogsNotification


class FeedTick(NamedTuple):
    """A decoded trade or pool observation: one kernel tick, with both clocks.

    A named tuple: as immutable as a frozen dataclass, and built in a third of the time
    (one per trade, on the frame's path to the kernel).
    """

    mint: str
    price: float  # SOL per whole token
    size: int  # raw token units, 6 decimals (0: a pool observation, no trade)
    side: int  # +1 buy, -1 sell, 0 pool observation
    liquidity: float  # SOL in the pool (virtual reserve)
    chain_ts_ns: int  # the trade's on-chain time (1 s resolution); 0 for account updates
    recv_ns: int  # when the frame arrived here
    uid: int  # stable id of the source event (signature and position, or slot and account)


@dataclass(frozen=True)
class FeedProblem:
    """A message or part of one the feed could not use: becomes a quarantine event."""

    reason: str
    detail: str
    raw: str
    recv_ns: int


@dataclass(frozen=True)
class FeedGap:
    """An outage: no frames between `start_ns` and `end_ns` (reconnected after `attempts`)."""

    start_ns: int
    end_ns: int
    attempts: int
    reason: str


FeedItem = FeedTick | FeedProblem | FeedGap


def uid_of(*parts: object) -> int:
    """A stable int64 id from the parts of a source event's identity."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little", signed=True)


def signature_for(*parts: object) -> str:
    """A deterministic 64-byte transaction signature in base58, for recorded frames."""
    return b58encode(hashlib.sha512("\x1f".join(map(str, parts)).encode()).digest())


# ------------------------------------------------------------------ server side
def subscription_result(request_id: int | str, subscription: int) -> str:
    """The reply to a `*Subscribe` request."""
    return json.dumps({"jsonrpc": "2.0", "result": subscription, "id": request_id})


def error_reply(request_id: int | str | None, code: int, message: str) -> str:
    """A JSON-RPC error reply."""
    return json.dumps({"jsonrpc": "2.0", "error": {"code": code, "message": message},
                       "id": request_id})  # fmt: skip


def logs_notification(subscription: int, slot: int, signature: str, ev: TradeEvent) -> str:
    """A `logsNotification` for a pump.fun buy or sell transaction that logged `ev`."""
    data = base64.b64encode(encode_trade_event(ev)).decode()
    logs = [
        f"Program {PROGRAM_ID} invoke [1]",
        f"Program log: Instruction: {'Buy' if ev.is_buy else 'Sell'}",
        f"{DATA_PREFIX}{data}",
        f"Program {PROGRAM_ID} consumed 31337 of 200000 compute units",
        f"Program {PROGRAM_ID} success",
    ]
    return json.dumps({
        "jsonrpc": "2.0", "method": "logsNotification",
        "params": {"result": {"context": {"slot": slot},
                              "value": {"signature": signature, "err": None, "logs": logs}},
                   "subscription": subscription},
    })  # fmt: skip


def account_notification(subscription: int, slot: int, curve: CurveState) -> str:
    """An `accountNotification` (base64 encoding) for a bonding-curve account."""
    data = encode_curve(curve)
    return json.dumps({
        "jsonrpc": "2.0", "method": "accountNotification",
        "params": {"result": {"context": {"slot": slot},
                              "value": {"data": [base64.b64encode(data).decode(), "base64"],
                                        "executable": False, "lamports": 1_461_600,
                                        "owner": PROGRAM_ID, "rentEpoch": 18446744073709551615,
                                        "space": len(data)}},
                   "subscription": subscription},
    })  # fmt: skip


# ------------------------------------------------------------------ client side
def _signature(text: str) -> str | None:
    """The signature if it is a valid one (64 base58-encoded bytes), else None."""
    try:
        return str(Signature.from_string(text))
    except ValueError:
        return None


def items_from_logs(n: LogsNotification, recv_ns: int) -> list[FeedTick | FeedProblem]:
    """Ticks for each pump.fun trade in a transaction's logs; problems for the rest."""
    value = n.params.result.value
    sig = _signature(value.signature)
    if sig is None:
        shown = f"{value.signature!r} {value.logs!r}"[:RAW_KEEP]
        return [FeedProblem("bad_signature", "the transaction signature is not 64 base58 bytes",
                            shown, recv_ns)]  # fmt: skip
    if value.err is not None:  # a failed transaction traded nothing
        return []
    trades, errors = trades_in_logs(value.logs)
    out: list[FeedTick | FeedProblem] = []
    for k, (mint, _, tok, is_buy, _, ts, v_sol, v_tok) in enumerate(trades):
        out.append(FeedTick(mint, curve_price(v_sol, v_tok), tok, 1 if is_buy else -1,
                            v_sol / LAMPORTS_PER_SOL, ts * 1_000_000_000, recv_ns,
                            uid_of(sig, k)))  # fmt: skip
    if errors:
        raw = f"{sig} {value.logs!r}"[:RAW_KEEP]
        out.extend(FeedProblem(err.reason, err.detail, raw, recv_ns) for err in errors)
    return out


def items_from_account(
    n: AccountNotification, mint: str | None, recv_ns: int
) -> list[FeedTick | FeedProblem]:
    """A pool-observation tick from a bonding-curve update of a watched mint."""
    value = n.params.result.value
    if mint is None:
        return [FeedProblem("unknown_subscription", f"subscription {n.subscription}",
                            repr(value.data)[:RAW_KEEP], recv_ns)]  # fmt: skip
    slot = n.params.result.context.slot
    text, encoding = value.data
    if encoding != "base64":
        return [FeedProblem("bad_encoding", f"account data in {encoding[:40]!r}, not base64",
                            text[:RAW_KEEP], recv_ns)]  # fmt: skip
    try:
        data = b64decode_strict(text)
        c = decode_curve(data)
    except DecodeError as err:
        return [FeedProblem(err.reason, err.detail, text[:RAW_KEEP], recv_ns)]
    # An account update carries a slot, not a clock: its chain time is left 0.
    return [FeedTick(mint, c.price, 0, 0, c.liquidity_sol, 0, recv_ns,
                     uid_of("curve", mint, slot, c.virtual_sol_reserves))]  # fmt: skip
