"""Where answers come from: a model over Ollama's API (live), or the log (recorded).

Either is a callable from a Prompt to a Reply. The live one uses the official `ollama`
client and tenacity's retry policy: connection refused, timeouts and 5xx / 429 answers
are retried with exponential backoff; a missing model (404) or another 4xx is final.
The recorded one finds the answer a live call gave to the same prompt (by its sha256)
and gives it back with the same outcome, never inventing one that is not there.

The `ollama` client, httpx and tenacity are imported when a live model is made: every
replay imports this module, and they cost it 0.2-0.3 s of start-up it rarely needs.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from data.store import EventStore
from strategies.strategist.prompt import Prompt
from strategies.strategist.settings import StrategistSettings

ANSWERED = "answered"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
MODEL_MISSING = "model_missing"
HTTP_ERROR = "http_error"
MISSING = "missing"
FAILURES = (TIMEOUT, UNREACHABLE, MODEL_MISSING, HTTP_ERROR)
"""Statuses of a call that got no answer: the active conditions stay as they were."""


@dataclass(frozen=True)
class Reply:
    """What a model (or the log) gave for one prompt."""

    status: str
    reason: str = ""
    raw: str = ""
    done_reason: str = ""
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    answer_tokens: int = 0
    attempts: int = 0


Answers = Callable[[Prompt], Reply]


def redact_host(host: str) -> str:
    """The host URL without credentials or query values (safe for events and logs)."""
    try:
        u = urllib.parse.urlsplit(host if "://" in host else "http://" + host)
        netloc = u.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if u.port:
            netloc += f":{u.port}"
        if u.username or u.password:
            netloc = "***@" + netloc
        query = "&".join(f"{k}=***" for k, _ in urllib.parse.parse_qsl(u.query))
        return urllib.parse.urlunsplit((u.scheme, netloc, u.path, query, ""))
    except ValueError:
        return "<unparseable host>"


def _transient(exc: BaseException) -> bool:
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        return exc.status_code in (429, 500, 502, 503, 504)
    return isinstance(exc, ConnectionError | httpx.TransportError)


class LiveModel:
    """Ask the model at `settings.host` through the `ollama` client."""

    def __init__(self, settings: StrategistSettings) -> None:
        import ollama

        self.settings = settings
        self.client = ollama.Client(host=settings.host, timeout=settings.timeout_s)
        self.host = redact_host(settings.host)

    def __call__(self, prompt: Prompt) -> Reply:
        """One call, retried on transient failures; never raises for a failed call."""
        import httpx
        import ollama
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

        s = self.settings
        attempts = 0
        t0 = time.perf_counter()
        retrying = Retrying(
            stop=stop_after_attempt(s.attempts),
            wait=wait_exponential(multiplier=s.backoff_s, max=30),
            retry=retry_if_exception(_transient),
            reraise=True,
        )

        def ms() -> float:
            return round((time.perf_counter() - t0) * 1e3, 3)

        req = prompt.request
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    resp = self.client.chat(model=req["model"], messages=req["messages"],
                                            format=req["format"], options=req["options"],
                                            stream=False)  # fmt: skip
        except ollama.ResponseError as exc:
            status = MODEL_MISSING if exc.status_code == 404 else HTTP_ERROR
            why = f"HTTP {exc.status_code}: {str(exc.error)[:200]}"
            return Reply(status, why, latency_ms=ms(), attempts=attempts)
        except httpx.TimeoutException:
            return Reply(TIMEOUT, f"no answer within {s.timeout_s:g} s", latency_ms=ms(),
                         attempts=attempts)  # fmt: skip
        except (ConnectionError, httpx.TransportError) as exc:
            why = f"cannot reach {self.host}: {type(exc).__name__}"
            return Reply(UNREACHABLE, why, latency_ms=ms(), attempts=attempts)
        return Reply(
            ANSWERED, "", resp.message.content or "", resp.done_reason or "", ms(),
            int(resp.prompt_eval_count or 0), int(resp.eval_count or 0), attempts,
        )  # fmt: skip


class RecordedModel:
    """Answers a live call gave, by prompt sha256 (a run's own, or the latest of any)."""

    def __init__(self, store: EventStore, run_id: str | None = None) -> None:
        rows = store.con.execute(
            "SELECT prompt_sha256, status, reason, answer, done_reason, latency_ms, "
            "prompt_tokens, answer_tokens, attempts FROM strategist "
            "WHERE mode = 'live' AND ($run IS NULL OR source = $run) ORDER BY seq",
            {"run": run_id},
        ).fetchall()
        self.replies: dict[str, Reply] = {}
        for sha, status, reason, answer, done, lat, pt, at, att in rows:
            failed = status in FAILURES
            self.replies[sha] = Reply(
                status if failed else ANSWERED, reason if failed else "", answer, done,
                float(lat), int(pt), int(at), int(att),
            )  # fmt: skip

    def __call__(self, prompt: Prompt) -> Reply:
        """The recorded reply, or status `missing` (nothing is invented)."""
        found = self.replies.get(prompt.sha256)
        if found is None:
            return Reply(MISSING, f"no recorded answer for prompt {prompt.sha256[:12]}")
        return found
