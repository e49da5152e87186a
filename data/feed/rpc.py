"""Solana's websocket JSON-RPC, read straight from the frame: the feed's parser.

A frame is one JSON text. The two notifications a pump.fun feed lives on
(`logsNotification`, `accountNotification`) are decoded by msgspec in one pass, typed
and checked (integers in range, strings where strings belong), into the small structs
below; anything else is decoded as plain JSON and sorted: a reply to one of our
requests, an error, another notification, or a frame that is not JSON-RPC at all (a
`BadFrame`, quarantined in its place in the stream). Nothing a peer sends raises out of
`parse_frame`.

Why not solana-py's client: it parsed every frame into solders objects through a
private method Clanka had to subclass (pinning solana-py to one release), and handed
notifications over through its own queue and task. Reading the frame here costs one
decode and no extra task hop (`benchmarks/bench_paper.py` has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

RAW_KEEP = 2048
"""Characters of a refused frame kept in its quarantine entry."""

U63 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""Slots and subscription ids: non-negative, within int64 (what the store keeps)."""


class Context(msgspec.Struct, frozen=True):
    """The slot the node evaluated the notification at."""

    slot: U63


class LogsValue(msgspec.Struct, frozen=True):
    """A transaction's signature, error (None if it succeeded) and log lines."""

    signature: str
    err: str | dict[str, Any] | None
    logs: list[str]


class LogsResult(msgspec.Struct, frozen=True):
    """`params.result` of a logsNotification."""

    context: Context
    value: LogsValue


class LogsParams(msgspec.Struct, frozen=True):
    """`params` of a logsNotification."""

    result: LogsResult
    subscription: U63


class LogsNotification(msgspec.Struct, frozen=True, tag_field="method", tag="logsNotification"):
    """A transaction that mentions the subscribed program."""

    params: LogsParams

    @property
    def subscription(self) -> int:
        """The subscription it answers."""
        return self.params.subscription


class AccountValue(msgspec.Struct, frozen=True):
    """An account's data as `[base64 text, "base64"]` (other fields are not used)."""

    data: tuple[str, str]


class AccountResult(msgspec.Struct, frozen=True):
    """`params.result` of an accountNotification."""

    context: Context
    value: AccountValue


class AccountParams(msgspec.Struct, frozen=True):
    """`params` of an accountNotification."""

    result: AccountResult
    subscription: U63


class AccountNotification(
    msgspec.Struct, frozen=True, tag_field="method", tag="accountNotification"
):
    """A watched account changed."""

    params: AccountParams

    @property
    def subscription(self) -> int:
        """The subscription it answers."""
        return self.params.subscription


@dataclass(frozen=True)
class Reply:
    """The answer to one of our requests: a result, or an error (`error` set)."""

    id: object
    result: object = None
    error: str = ""


@dataclass(frozen=True)
class OtherNotification:
    """A notification of a kind the feed did not subscribe to (or a malformed one)."""

    method: str
    subscription: int
    raw: str


@dataclass(frozen=True)
class BadFrame:
    """A frame that is not usable JSON-RPC; queued in order with the notifications."""

    reason: str
    raw: str
    subscription: int = -1


Envelope = LogsNotification | AccountNotification | Reply | OtherNotification | BadFrame

_TYPED = msgspec.json.Decoder(LogsNotification | AccountNotification)
_ANY = msgspec.json.Decoder()


def _text(raw: str | bytes) -> str:
    return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")


def _error_text(err: object) -> str:
    if isinstance(err, dict):
        return f"{err.get('code', '?')}: {err.get('message', '')}"[:300]
    return repr(err)[:300]


def _sorted(msg: object, raw: str | bytes, why: str) -> list[Envelope]:
    """A frame that is JSON but not one of the two typed notifications."""
    if not isinstance(msg, dict):
        return [BadFrame(f"not a JSON-RPC message: {type(msg).__name__}", _text(raw)[:RAW_KEEP])]
    if "method" in msg:
        params = msg.get("params")
        sub = params.get("subscription") if isinstance(params, dict) else None
        shown = _text(raw)[:RAW_KEEP]
        if msg["method"] in ("logsNotification", "accountNotification"):
            # One of ours, in a shape that does not hold: say what is wrong with it.
            return [BadFrame(f"malformed {msg['method']}: {why}"[:300], shown)]
        if not isinstance(sub, int) or isinstance(sub, bool):
            return [BadFrame(f"notification without a subscription: {msg['method']!r}"[:300],
                             shown)]  # fmt: skip
        return [OtherNotification(str(msg["method"])[:80], sub, shown)]
    if "id" in msg and ("result" in msg or "error" in msg):
        if msg.get("error") is not None:
            if msg["id"] is None:  # an error about no request: the node refused a frame
                return [BadFrame(f"error reply: {_error_text(msg['error'])}",
                                 _text(raw)[:RAW_KEEP])]  # fmt: skip
            return [Reply(msg["id"], None, _error_text(msg["error"]))]
        return [Reply(msg["id"], msg.get("result"))]
    return [BadFrame("not a JSON-RPC message: no method, result or error",
                     _text(raw)[:RAW_KEEP])]  # fmt: skip


def parse_frame(raw: str | bytes, *, batch_ok: bool = True) -> list[Envelope]:
    """A frame's messages: typed notifications, replies, or one `BadFrame`; never raises."""
    try:
        return _parse(raw, batch_ok)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except Exception as exc:  # a nesting too deep to decode, say: the frame, not the feed
        first = (str(exc).splitlines() or [""])[0]
        return [BadFrame(f"{type(exc).__name__}: {first}"[:300], _text(raw)[:RAW_KEEP])]


def _parse(raw: str | bytes, batch_ok: bool) -> list[Envelope]:
    try:
        return [_TYPED.decode(raw)]
    except msgspec.ValidationError as exc:  # JSON, but not a typed notification
        why = str(exc)
    except msgspec.DecodeError as exc:  # not JSON (or not UTF-8)
        return [BadFrame(f"not JSON: {exc}"[:300], _text(raw)[:RAW_KEEP])]
    msg = _ANY.decode(raw)  # may still refuse (too deep, a number out of range): see above
    if isinstance(msg, list) and batch_ok:  # a JSON-RPC batch: each message on its own
        out: list[Envelope] = []
        for m in msg:
            out.extend(parse_frame(msgspec.json.encode(m), batch_ok=False))
        return out or [BadFrame("an empty JSON-RPC batch", _text(raw)[:RAW_KEEP])]
    return _sorted(msg, raw, why)
