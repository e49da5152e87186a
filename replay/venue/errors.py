"""What can go wrong with a live order, in words safe to log, with a category.

Categories (the seed's): `critical` (money may be at risk or the venue is unusable: a
landed swap that failed, an insufficient balance, a key problem), `warning` (the order
did not happen and nothing was spent: no route, too much price impact, slippage, a
preflight refusal), `info` (expected outcomes: a dry run). `transient` errors (timeouts,
429s, a blockhash that expired before the transaction was sent, a transaction that was
sent but provably never landed) may be retried; no other error ever is.
"""

from __future__ import annotations

CRITICAL, WARNING, INFO = "critical", "warning", "info"


class VenueError(Exception):
    """An order the venue did not fill: `reason` (a stable name) and a safe message."""

    def __init__(self, reason: str, message: str, category: str = WARNING,
                 *, transient: bool = False) -> None:  # fmt: skip
        super().__init__(message)
        self.reason = reason
        self.category = category
        self.transient = transient


class RateLimitedError(VenueError):
    """A 429: retry after `retry_after` seconds."""

    def __init__(self, who: str, retry_after: float) -> None:
        super().__init__("rate_limited", f"{who}: 429 too many requests (retry after "
                         f"{retry_after:g} s)", WARNING, transient=True)  # fmt: skip
        self.retry_after = retry_after
