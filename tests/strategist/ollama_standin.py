"""A stand-in for an Ollama server: its /api/chat wire protocol on loopback, scripted.

Real HTTP on a real socket, so the real `ollama` client (and httpx under it) meets
real timeouts, refused connections, status codes and bodies. Each request is answered
by the script's next behaviour (the last one repeats).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """A 200 with this content (done_reason 'length' for a truncated answer)."""

    content: str
    done_reason: str = "stop"
    prompt_eval_count: int = 100
    eval_count: int = 20


@dataclass(frozen=True)
class Status:
    """An HTTP error with Ollama's {"error": ...} body."""

    code: int
    error: str


@dataclass(frozen=True)
class Hang:
    """Say nothing until the stand-in stops (the client's timeout fires first)."""


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering."""


Behaviour = Answer | Status | Hang | Drop


class OllamaStandIn:
    """Serves a script of behaviours; records every request body."""

    def __init__(self, script: Sequence[Behaviour]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.released = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                stand_in.requests.append(body)
                k = min(len(stand_in.requests), len(stand_in.script)) - 1
                b = stand_in.script[k]
                if isinstance(b, Hang):
                    stand_in.released.wait()
                    return
                if isinstance(b, Drop):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(b, Status):
                    self._send(b.code, {"error": b.error})
                    return
                self._send(200, {
                    "model": body.get("model"), "created_at": "2025-06-06T16:45:00Z",
                    "message": {"role": "assistant", "content": b.content}, "done": True,
                    "done_reason": b.done_reason, "total_duration": 1_000_000,
                    "prompt_eval_count": b.prompt_eval_count, "eval_count": b.eval_count,
                })  # fmt: skip

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> OllamaStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def standin(*script: Behaviour) -> Iterator[OllamaStandIn]:
    """A running stand-in for the `with` block."""
    with OllamaStandIn(script) as s:
        yield s


def proposal(conditions: list[tuple[str, str, float]], params: dict[str, float] | None = None,
             note: str = "test") -> str:  # fmt: skip
    """An answer's JSON text."""
    doc: dict[str, Any] = {
        "conditions": [{"feature": f, "op": o, "threshold": t} for f, o, t in conditions],
        "note": note,
    }
    if params is not None:
        doc["params"] = [{"name": k, "value": v} for k, v in params.items()]
    return json.dumps(doc)
