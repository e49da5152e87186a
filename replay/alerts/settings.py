"""`[alerts]` in the run settings TOML: where alerts go, which rules fire, how often.

Tokens and webhook URLs are secrets (`SecretStr`): they never show in a repr, a log
line, an event or an error message. They can also come from the environment
(`CLANKA_TELEGRAM_BOT_TOKEN`, `CLANKA_DISCORD_WEBHOOK_URL`), which keeps them out of
files that get copied around.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, SecretStr, field_validator

_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class TelegramSettings(BaseModel):
    """A Telegram bot (from @BotFather) and the chat it writes to."""

    model_config = {"extra": "forbid"}

    bot_token: SecretStr
    chat_id: str
    api_base: str = "https://api.telegram.org"
    """The Bot API's address (a local Bot API server, or a test stand-in)."""


class DiscordSettings(BaseModel):
    """A Discord channel's incoming webhook (Server settings -> Integrations -> Webhooks)."""

    model_config = {"extra": "forbid"}

    webhook_url: SecretStr
    username: str = "Clanka"


class AlertRules(BaseModel):
    """Which events raise an alert (the seed's five cases, plus feed down and learning)."""

    model_config = {"extra": "forbid"}

    big_win_pct: float | None = 50.0
    """A closed trade's PnL above this percentage of its cost (None: off)."""
    big_loss_pct: float | None = 20.0
    """A closed trade's loss beyond this percentage of its cost (None: off)."""
    breaker: bool = True
    """Every breaker trip (the emergency stop is critical)."""
    error_rate: int | None = Field(default=20, gt=0)
    """More than this many errors (quarantined frames, rejected orders) in one window."""
    error_window_s: float = Field(default=60.0, gt=0)
    feed_down_s: float | None = Field(default=30.0, gt=0)
    """The feed disconnected for longer than this (and each gap once it is back)."""
    learning: bool = True
    """Every change the learning loop makes to the strategy."""
    unusual_pattern: bool = True
    """The first time the pattern library sees a pattern in this run."""


class AlertLimits(BaseModel):
    """Against alert fatigue: grouping, a rate limit per rule, a digest, quiet hours."""

    model_config = {"extra": "forbid"}

    group_s: float = Field(default=10.0, ge=0)
    """Alerts of one rule within this many seconds after a sent one go out as one message."""
    per_rule_per_hour: int = Field(default=6, gt=0)
    """Messages per rule per rolling hour; the rest are suppressed and sent as a digest."""
    quiet_hours: str | None = None
    """`HH:MM-HH:MM` (UTC): only critical alerts then; the rest come as a digest after."""

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None and not _QUIET.match(v):
            raise ValueError(f"quiet_hours must look like 22:00-07:00 (UTC), got {v!r}")
        return v

    def quiet_span(self) -> tuple[int, int] | None:
        """Quiet hours as (start, end) minutes of the UTC day, or None."""
        if self.quiet_hours is None:
            return None
        m = _QUIET.match(self.quiet_hours)
        assert m is not None
        a, b, c, d = (int(x) for x in m.groups())
        return a * 60 + b, c * 60 + d


class AlertSettings(BaseModel):
    """The `[alerts]` table: no channel configured means no alerts at all."""

    model_config = {"extra": "forbid"}

    telegram: TelegramSettings | None = None
    discord: DiscordSettings | None = None
    rules: AlertRules = Field(default_factory=AlertRules)
    limits: AlertLimits = Field(default_factory=AlertLimits)
    max_attempts: int = Field(default=5, gt=0)
    """Tries per message (429 waits what the provider says; other errors back off)."""
    timeout_s: float = Field(default=10.0, gt=0)

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured."""
        return self.telegram is not None or self.discord is not None

    def secrets(self) -> list[str]:
        """Every secret in these settings (for the log redactor)."""
        out = []
        if self.telegram is not None:
            out.append(self.telegram.bot_token.get_secret_value())
        if self.discord is not None:
            out.append(self.discord.webhook_url.get_secret_value())
        return out
