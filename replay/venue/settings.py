"""`[venue]` in the run settings TOML: where live orders go and the real-money guard.

The RPC URL may carry a provider's key, so it is a secret like the Jupiter API key. The
guard: live mode caps every position at the size the schedule allows for the wallet's
age in live trading (days since its first live order in this store: the seed's 0.001
SOL to start, raised step by step as configured) and caps the daily loss.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from replay.venue.executor import ExecutorSettings
from replay.venue.jupiter import JupiterSettings


class VenueSettings(BaseModel):
    """The `[venue]` table (see the module docstring)."""

    model_config = {"extra": "forbid"}

    rpc_url: SecretStr = SecretStr("https://api.mainnet-beta.solana.com")
    """Solana JSON-RPC; $CLANKA_RPC_URL overrides it (a provider's URL holds its key)."""
    jupiter: JupiterSettings = Field(default_factory=JupiterSettings)
    limits: ExecutorSettings = Field(default_factory=ExecutorSettings)
    size_caps: list[tuple[float, float]] = Field(default_factory=lambda: [(0.0, 0.001)])
    """(days of live trading, largest position in SOL) steps: the last one reached holds."""
    daily_loss_limit_sol: float = Field(default=0.01, gt=0)
    confirm_poll_s: float = Field(default=0.4, gt=0)
    """How often a sent transaction's status is asked for (Solana makes a block per
    ~0.4 s)."""

    @field_validator("size_caps")
    @classmethod
    def _caps(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not v or v[0][0] != 0:
            raise ValueError("size_caps must start at day 0, e.g. [[0, 0.001], [7, 0.01]]")
        days = [d for d, _ in v]
        if days != sorted(days) or any(c <= 0 for _, c in v):
            raise ValueError("size_caps: days ascending, caps above 0")
        return v

    def cap_after(self, days: float) -> float:
        """The largest position allowed after `days` of live trading."""
        return [c for d, c in self.size_caps if d <= days][-1]
