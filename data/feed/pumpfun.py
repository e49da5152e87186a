"""pump.fun's on-chain formats: the `TradeEvent` it logs and its bonding-curve account.

Both are Anchor/Borsh layouts: an 8-byte discriminator (the first 8 bytes of
sha256("event:TradeEvent") or sha256("account:BondingCurve")) followed by fixed-width
little-endian fields. Newer program versions append fields (real reserves, fee and
creator fields); the decoders read the prefix every version shares and ignore the rest.

Decoding is strict about what a trading engine cannot use: a wrong discriminator, a
short buffer, zero amounts or reserves, a timestamp outside 2020-2100, or a price that
is not a finite positive number raise `DecodeError` with a reason code, which the feed
turns into a quarantine event. The encoders exist for the recorded-feed server, which
speaks the same wire format as a public RPC node.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey

PROGRAM_ID = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
"""The pump.fun bonding-curve program."""
PROGRAM = Pubkey.from_string(PROGRAM_ID)
TOKEN_DECIMALS = 6
"""Every pump.fun token has 6 decimals."""
LAMPORTS_PER_SOL = 1_000_000_000


def _disc(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()[:8]


TRADE_EVENT = _disc("event:TradeEvent")
CREATE_EVENT = _disc("event:CreateEvent")
COMPLETE_EVENT = _disc("event:CompleteEvent")
BONDING_CURVE = _disc("account:BondingCurve")
OTHER_EVENTS = frozenset({CREATE_EVENT, COMPLETE_EVENT})
"""pump.fun events that carry no trade: skipped without a quarantine entry."""

_TRADE = struct.Struct("<8s32sQQ?32sqQQ")
"""discriminator, mint, sol_amount, token_amount, is_buy, user, timestamp,
virtual_sol_reserves, virtual_token_reserves (113 bytes)."""
_CURVE = struct.Struct("<8sQQQQQ?")
"""discriminator, virtual_token_reserves, virtual_sol_reserves, real_token_reserves,
real_sol_reserves, token_total_supply, complete (49 bytes)."""
_TS_MIN = 1_577_836_800  # 2020-01-01
_TS_MAX = 4_102_444_800  # 2100-01-01
DATA_PREFIX = "Program data: "
MAX_DATA_CHARS = 4096
"""A `Program data:` line longer than this is refused before base64 decoding."""


class DecodeError(ValueError):
    """A message the feed cannot turn into a tick; `reason` is a quarantine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _VirtualReserves:
    """Price and depth of a curve from its virtual reserves (trade events and accounts)."""

    virtual_sol_reserves: int  # lamports
    virtual_token_reserves: int  # raw units

    @property
    def price(self) -> float:
        """SOL per whole token at these reserves."""
        return curve_price(self.virtual_sol_reserves, self.virtual_token_reserves)

    @property
    def liquidity_sol(self) -> float:
        """The virtual SOL reserve in SOL: the pool depth the venue's impact uses."""
        return self.virtual_sol_reserves / LAMPORTS_PER_SOL


@dataclass(frozen=True)
class TradeEvent(_VirtualReserves):
    """One pump.fun trade as the program logged it (reserves after the trade)."""

    mint: str
    sol_amount: int  # lamports
    token_amount: int  # raw units (6 decimals)
    is_buy: bool
    user: str
    timestamp: int  # unix seconds (chain time)
    virtual_sol_reserves: int  # lamports
    virtual_token_reserves: int  # raw units


@dataclass(frozen=True)
class CurveState(_VirtualReserves):
    """A bonding-curve account's reserves."""

    virtual_token_reserves: int
    virtual_sol_reserves: int
    real_token_reserves: int
    real_sol_reserves: int
    token_total_supply: int
    complete: bool


def curve_price(v_sol: int, v_tok: int) -> float:
    """SOL per whole token from reserves in lamports and raw token units."""
    return float((v_sol / LAMPORTS_PER_SOL) / (v_tok / 10**TOKEN_DECIMALS))


def bonding_curve_address(mint: str) -> str:
    """The bonding-curve account of a mint (the program's PDA of "bonding-curve", mint)."""
    pda, _ = Pubkey.find_program_address([b"bonding-curve", bytes(Pubkey.from_string(mint))],
                                         PROGRAM)  # fmt: skip
    return str(pda)


def _check_price(v_sol: int, v_tok: int) -> None:
    if v_sol <= 0 or v_tok <= 0:
        raise DecodeError("zero_reserves", f"virtual reserves {v_sol} SOL, {v_tok} tokens")
    p = curve_price(v_sol, v_tok)
    if not (math.isfinite(p) and p > 0.0):
        raise DecodeError("price_invalid", f"price {p}")


_ADDRESSES: dict[bytes, str] = {}
"""Base58 text of the mints seen lately: a busy mint trades many times a second."""
_ADDRESSES_KEEP = 65_536


def address_of(key: bytes) -> str:
    """The base58 text of a 32-byte public key (cached: the feed's hot path)."""
    text = _ADDRESSES.get(key)
    if text is None:
        if len(_ADDRESSES) >= _ADDRESSES_KEEP:
            _ADDRESSES.clear()
        text = _ADDRESSES[key] = str(Pubkey(key))
    return text


TradeFields = tuple[str, int, int, bool, bytes, int, int, int]
"""mint (base58), sol_amount, token_amount, is_buy, user (raw key), timestamp,
virtual_sol_reserves, virtual_token_reserves."""


def decode_trade_fields(data: bytes) -> TradeFields:
    """A `TradeEvent`'s fields from its Borsh bytes, checked as `decode_trade_event` does.

    The feed's per-trade path: no event object, and the trader's key left as bytes
    (a tick does not carry it).
    """
    if len(data) < 8 or data[:8] != TRADE_EVENT:
        raise DecodeError("wrong_discriminator", data[:8].hex())
    if len(data) < _TRADE.size:
        raise DecodeError("truncated", f"{len(data)} bytes, a TradeEvent needs {_TRADE.size}")
    _, mint, sol, tok, is_buy, user, ts, v_sol, v_tok = _TRADE.unpack_from(data)
    if sol <= 0 or tok <= 0:
        raise DecodeError("zero_amount", f"sol_amount {sol}, token_amount {tok}")
    if not _TS_MIN <= ts < _TS_MAX:
        raise DecodeError("bad_timestamp", f"timestamp {ts}")
    _check_price(v_sol, v_tok)
    return address_of(mint), sol, tok, bool(is_buy), user, ts, v_sol, v_tok


def decode_trade_event(data: bytes) -> TradeEvent:
    """A `TradeEvent` from its Borsh bytes (discriminator included)."""
    mint, sol, tok, is_buy, user, ts, v_sol, v_tok = decode_trade_fields(data)
    return TradeEvent(mint, sol, tok, is_buy, str(Pubkey(user)), ts, v_sol, v_tok)


def encode_trade_event(ev: TradeEvent) -> bytes:
    """The Borsh bytes pump.fun logs for `ev` (the shared 113-byte prefix)."""
    return _TRADE.pack(TRADE_EVENT, bytes(Pubkey.from_string(ev.mint)), ev.sol_amount,
                       ev.token_amount, ev.is_buy, bytes(Pubkey.from_string(ev.user)),
                       ev.timestamp, ev.virtual_sol_reserves,
                       ev.virtual_token_reserves)  # fmt: skip


def decode_curve(data: bytes) -> CurveState:
    """A bonding-curve account's state from its data (discriminator included)."""
    if len(data) < 8 or data[:8] != BONDING_CURVE:
        raise DecodeError("wrong_discriminator", data[:8].hex())
    if len(data) < _CURVE.size:
        raise DecodeError("truncated", f"{len(data)} bytes, a BondingCurve needs {_CURVE.size}")
    _, v_tok, v_sol, r_tok, r_sol, supply, complete = _CURVE.unpack_from(data)
    _check_price(v_sol, v_tok)
    return CurveState(v_tok, v_sol, r_tok, r_sol, supply, bool(complete))


def encode_curve(c: CurveState) -> bytes:
    """A bonding-curve account's data for `c`."""
    return _CURVE.pack(BONDING_CURVE, c.virtual_token_reserves, c.virtual_sol_reserves,
                       c.real_token_reserves, c.real_sol_reserves, c.token_total_supply,
                       c.complete)  # fmt: skip


def b64decode_strict(text: str) -> bytes:
    """Base64 with padding and alphabet checked (truncated text is an error, not zeros)."""
    if len(text) > MAX_DATA_CHARS:
        raise DecodeError("oversized", f"{len(text)} base64 characters")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError("bad_base64", str(exc)) from exc


def trades_in_logs(logs: Sequence[object]) -> tuple[list[TradeFields], list[DecodeError]]:
    """The trades pump.fun logged in one transaction, and what failed to decode.

    Each trade as `decode_trade_fields` gives it (the feed's per-trade path builds no
    event object); the failures in log order.

    Only `Program data:` lines written while pump.fun is the executing program count
    (the invoke stack is followed through `invoke` / `success` / `failed` lines), so
    another program's events in the same transaction are not misread as trades. The
    runtime's lines have an exact shape (`Program <id> invoke [n]`, `Program <id>
    success`, `Program <id> failed: ...`); a program's own message that merely ends in
    "success" (`Program log: transfer success`) moves nothing.
    """
    stack: list[str] = []
    trades: list[TradeFields] = []
    errors: list[DecodeError] = []
    for line in logs:
        if not isinstance(line, str):
            errors.append(DecodeError("bad_log_line", repr(line)[:200]))
            continue
        if line.startswith(DATA_PREFIX):
            if stack and stack[-1] == PROGRAM_ID:
                try:
                    raw = b64decode_strict(line[len(DATA_PREFIX) :].strip())
                    if raw[:8] in OTHER_EVENTS:
                        continue
                    trades.append(decode_trade_fields(raw))
                except DecodeError as exc:
                    errors.append(exc)
            continue
        parts = line.split(" ")
        if len(parts) < 3 or parts[0] != "Program" or parts[1].endswith(":"):
            continue  # Program log: / return: / consumed lines, and anything else
        if len(parts) == 4 and parts[2] == "invoke" and parts[3].startswith("["):
            stack.append(parts[1])
        elif stack and ((len(parts) == 3 and parts[2] == "success") or parts[2] == "failed:"):
            stack.pop()
    return trades, errors
