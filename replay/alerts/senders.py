"""Telegram's Bot API and Discord's webhooks, spoken over HTTP with retries.

- Telegram: `POST {api_base}/bot{token}/sendMessage` with JSON `{chat_id, text}`; the
  answer is `{"ok": true, "result": {...}}` or `{"ok": false, "error_code": N,
  "description": "...", "parameters": {"retry_after": S}}` (429 when flooding).
- Discord: `POST {webhook_url}` with JSON `{content, username}`; 204 (or 200) when
  accepted, 429 with `{"message", "retry_after": S, "global"}` and a `Retry-After`
  header when rate limited.

A 429 waits what the provider asked (`retry_after`, at most `MAX_RETRY_AFTER_S`); a
timeout, a dropped connection or a 5xx backs off with full-jitter exponential waits
(tenacity); anything else (a bad token, a deleted webhook) fails at once. Error texts
are built here from status codes and the provider's description, never from the
request, so neither the bot token (in Telegram's path) nor the webhook URL can leak.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from replay.alerts.settings import DiscordSettings, TelegramSettings

MAX_RETRY_AFTER_S = 300.0
TELEGRAM_MAX_CHARS = 4096
DISCORD_MAX_CHARS = 2000


class _HideSecrets(logging.Filter):
    """Blanks secrets out of the HTTP client's log lines.

    httpx logs every request's URL at INFO: Telegram's has the bot token in its path, and
    a Discord webhook URL is itself the secret.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if any(s in msg for s in self.secrets):
            for s in self.secrets:
                msg = msg.replace(s, "***")
            record.msg, record.args = msg, None
        return True


_HTTP_LOG_FILTER = _HideSecrets()


def hide_from_http_logs(*secrets: str) -> None:
    """Keep `secrets` out of the HTTP client's own log lines (whoever shows them)."""
    _HTTP_LOG_FILTER.secrets.update(s for s in secrets if len(s) >= 4)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _HTTP_LOG_FILTER not in logger.filters:
            logger.addFilter(_HTTP_LOG_FILTER)


class SendError(Exception):
    """A message the provider did not take, in words safe to log (no secrets)."""


class TransientError(SendError):
    """Worth another try: a timeout, a dropped connection, a 5xx."""


class RateLimitedError(TransientError):
    """A 429: try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sender(Protocol):
    """One channel: a name and one attempt at posting a text."""

    name: str

    async def post(self, text: str) -> None:
        """Post once; raise `SendError` (or a subclass) when it was not taken."""


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _request(call: Callable[[], Awaitable[httpx.Response]], who: str) -> httpx.Response:
    try:
        return await call()
    except httpx.TimeoutException:
        raise TransientError(f"{who}: timed out") from None
    except httpx.TransportError as exc:
        raise TransientError(f"{who}: connection failed ({type(exc).__name__})") from None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n... (cut)"


class TelegramSender:
    """`sendMessage` to one chat through the Bot API."""

    name = "telegram"

    def __init__(self, settings: TelegramSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        hide_from_http_logs(settings.bot_token.get_secret_value())

    async def post(self, text: str) -> None:
        """One `sendMessage` call."""
        s = self.settings
        url = f"{s.api_base.rstrip('/')}/bot{s.bot_token.get_secret_value()}/sendMessage"
        payload = {"chat_id": s.chat_id, "text": _clip(text, TELEGRAM_MAX_CHARS),
                   "disable_web_page_preview": True}  # fmt: skip
        r = await _request(lambda: self.client.post(url, json=payload), "telegram")
        body = _json(r)
        if r.status_code == 429 or body.get("error_code") == 429:
            after = float((body.get("parameters") or {}).get("retry_after", 1.0))
            why = f"telegram: 429 too many requests (retry after {after:g} s)"
            raise RateLimitedError(why, after)
        if r.status_code >= 500:
            raise TransientError(f"telegram: HTTP {r.status_code}")
        if r.status_code != 200 or body.get("ok") is not True:
            why = str(body.get("description") or "no description")[:200]
            raise SendError(f"telegram: HTTP {r.status_code}: {why}")


class DiscordSender:
    """A message through one channel's incoming webhook."""

    name = "discord"

    def __init__(self, settings: DiscordSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        url = settings.webhook_url.get_secret_value()
        hide_from_http_logs(url, url.rstrip("/").rsplit("/", 1)[-1])

    async def post(self, text: str) -> None:
        """One webhook execution."""
        url = self.settings.webhook_url.get_secret_value()
        payload = {"content": _clip(text, DISCORD_MAX_CHARS), "username": self.settings.username}
        r = await _request(lambda: self.client.post(url, json=payload), "discord")
        if r.status_code == 429:
            body = _json(r)
            after = body.get("retry_after", r.headers.get("retry-after", 1.0))
            raise RateLimitedError(f"discord: 429 rate limited (retry after {float(after):g} s)",
                              float(after))  # fmt: skip
        if r.status_code >= 500:
            raise TransientError(f"discord: HTTP {r.status_code}")
        if r.status_code not in (200, 204):
            why = str(_json(r).get("message") or "no message")[:200]
            raise SendError(f"discord: HTTP {r.status_code}: {why}")


def _wait(state: RetryCallState) -> float:
    """What a 429 asked for; otherwise full-jitter exponential backoff (0.5 s base)."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, RateLimitedError):
        return min(max(exc.retry_after, 0.0), MAX_RETRY_AFTER_S)
    return float(wait_random_exponential(multiplier=0.5, max=30.0)(state))


@dataclass(frozen=True)
class Delivery:
    """How one message went on one channel."""

    channel: str
    ok: bool
    attempts: int
    error: str


async def deliver(sender: Sender, text: str, max_attempts: int,
                  sleep: Callable[[float], Awaitable[None]] | None = None) -> Delivery:  # fmt: skip
    """Post `text` with retries for transient failures; never raises."""
    attempts = 0
    kwargs: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(max_attempts),
            wait=_wait, reraise=True, **kwargs,
        ):  # fmt: skip
            with attempt:
                attempts += 1
                await sender.post(text)
    except SendError as exc:
        return Delivery(sender.name, False, attempts, str(exc))
    return Delivery(sender.name, True, attempts, "")
