"""Local stand-ins for Telegram's Bot API and Discord's webhooks, on 127.0.0.1.

Real HTTP servers (stdlib, one thread each) that answer the way the providers do:

- Telegram: `POST /bot<token>/sendMessage` with JSON `{chat_id, text}` -> 200
  `{"ok": true, "result": {"message_id": N, ...}}`; a wrong token -> 401
  `{"ok": false, "error_code": 401, "description": "Unauthorized"}`; flooding -> 429
  `{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after S",
  "parameters": {"retry_after": S}}`.
- Discord: `POST /api/webhooks/<id>/<token>` with JSON `{content, username}` -> 204;
  an unknown webhook -> 404 `{"message": "Unknown Webhook", "code": 10015}`; rate
  limited -> 429 `{"message": "You are being rate limited.", "retry_after": S,
  "global": false}` with a `Retry-After` header.

`script` queues faults for the next requests: ("429", seconds), ("500", None) or
("slow", seconds). Every request is recorded with its path and JSON body.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = tuple[str, float | None] | None
Answer = tuple[int, dict[str, Any] | None, dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: StandIn  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `requests`, not stderr."""

    def _reply(self, code: int, body: dict[str, Any] | None, headers: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """One provider call, answered per the provider's protocol (or a scripted fault)."""
        n = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            body = None
        srv = self.server
        with srv.lock:
            srv.requests.append({"path": self.path, "json": body, "t": time.monotonic()})
            fault = srv.faults.popleft() if srv.faults else None
        if fault is not None and fault[0] == "slow":
            time.sleep(float(fault[1]))
        code, reply, headers = srv.answer(self.path, body, fault)
        self._reply(code, reply, headers)


class StandIn(ThreadingHTTPServer):
    """Base: a server on a free loopback port, with recorded requests and faults."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[tuple[str, float | None]] = deque()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, *faults: tuple[str, float | None]) -> None:
        """Queue faults for the next requests, in order."""
        with self.lock:
            self.faults.extend(faults)

    def answer(self, path: str, body: Any, fault: Fault) -> Answer:
        """(status, JSON body or None, headers) for one request."""
        raise NotImplementedError

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class TelegramStandIn(StandIn):
    """The Bot API's sendMessage for one bot token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.sent: list[dict[str, Any]] = []

    def answer(self, path: str, body: Any, fault: Fault) -> Answer:
        """sendMessage, per the Bot API."""
        if fault is not None and fault[0] == "429":
            s = int(fault[1] or 1)
            return 429, {"ok": False, "error_code": 429,
                         "description": f"Too Many Requests: retry after {s}",
                         "parameters": {"retry_after": s}}, {}  # fmt: skip
        if fault is not None and fault[0] == "500":
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, {}
        if path != f"/bot{self.token}/sendMessage":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
        if not isinstance(body, dict) or not body.get("chat_id") or not body.get("text"):
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message text is empty"}, {}  # fmt: skip
        with self.lock:
            self.sent.append(body)
            n = len(self.sent)
        return 200, {"ok": True, "result": {"message_id": n, "date": int(time.time()),
                                            "chat": {"id": body["chat_id"]},
                                            "text": body["text"]}}, {}  # fmt: skip


class DiscordStandIn(StandIn):
    """One incoming webhook, `/api/webhooks/<id>/<token>`."""

    def __init__(self, webhook_id: str, token: str) -> None:
        super().__init__()
        self.path_ok = f"/api/webhooks/{webhook_id}/{token}"
        self.sent: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        """The webhook URL (a secret, like a real one)."""
        return self.base + self.path_ok

    def answer(self, path: str, body: Any, fault: Fault) -> Answer:
        """Execute Webhook, per Discord's API."""
        if fault is not None and fault[0] == "429":
            s = float(fault[1] or 1.0)
            return 429, {"message": "You are being rate limited.", "retry_after": s,
                         "global": False}, {"Retry-After": str(int(s + 0.999))}  # fmt: skip
        if fault is not None and fault[0] == "500":
            return 502, {"message": "Bad Gateway"}, {}
        if path.split("?")[0] != self.path_ok:
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        if not isinstance(body, dict) or not body.get("content"):
            return 400, {"message": "Cannot send an empty message", "code": 50006}, {}
        with self.lock:
            self.sent.append(body)
        return 204, None, {}
