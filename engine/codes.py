"""Integer codes shared by stored events and the kernel.

The kernel cannot hold Python objects, so every categorical field of an event is a
small integer. These enums are the single definition of those integers; the store's
DuckDB views translate them back to names for people.
"""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    """Aggressor side of a trade tick, relative to the token (not the quote)."""

    SELL = -1
    UNKNOWN = 0
    BUY = 1


class SignalKind(IntEnum):
    """Kinds of external signal a `signals` event can carry.

    Values are stable on disk: never renumber, only append.
    """

    UNIQUE_BUYERS = 1
    """Distinct wallets that have bought the token so far (count)."""
    TOP3_PCT = 2
    """Share of supply held by the three largest holders (percent, 0-100)."""
    WHALE_FLAG = 3
    """1.0 when a single large buy was seen in the tracker's window, else 0.0."""
    BOT_LIKE = 4
    """1.0 when the tracker judged the flow bot-like, else 0.0."""
    BUY_PRESSURE = 5
    """SOL bought in the tracker's window."""
    SELL_PRESSURE = 6
    """SOL sold in the tracker's window."""
    SENTIMENT = 7
    """Social sentiment, -1 (bearish) to 1 (bullish)."""
    ENGAGEMENT = 8
    """Social engagement, 0 to 1."""
    NARRATIVE_HEAT = 9
    """How hot the token's narrative is, 0 to 1."""
    COMMUNITY_SIZE = 10
    """Holders or community members (count)."""
    RISK_SCORE = 11
    """External risk score, 0 (safe) to 10 (avoid)."""
    TOKEN_TYPE = 12
    """1.0 for a meme token, 0.0 otherwise."""
    MARKET_CAP = 13
    """Market capitalisation in SOL."""
    SOL_USD = 32
    """Reference price (mint id -1): US dollars per SOL, from imported reference prices;
    thresholds set in USD (min_liquidity_usd, mcap_*_usd) apply once it is known."""
    EMERGENCY_STOP = 64
    """Control (any mint id, -1 by convention): trip the emergency-stop breaker."""
    BREAKER_RESET = 65
    """Control: manually reset every tripped breaker and its counters."""
    EMERGENCY_EXIT = 66
    """Control: the emergency stop, and every open position sold (reason emergency_exit)
    as soon as it has no order pending; a reset ends it."""

    @property
    def label(self) -> str:
        """Lower-case name used in SQL views and reports."""
        return self.name.lower()
