"""llama.cpp in-process (the prebuilt `xllamacpp` wheel), behind two blocking calls.

Measured here (2 cores): SmolLM2-135M loads in about 0.4 s and writes 40-50 tokens/s.
Three settings matter for a strategist:
- `OMP_WAIT_POLICY=passive` before the library loads: with the default busy-waiting,
  two threads on two shared cores crawl at about 1 token/s.
- `cache_prompt: false` on every request: with prompt-cache reuse two identical calls
  can give different answers, and answers must be a function of the prompt.
- JSON-schema answers are constrained by a grammar with no free whitespace (llguidance
  `whitespace_flexible: false`): a small model otherwise spends its token budget on
  newlines and indentation and gets cut off mid-answer.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

from strategies.strategist.serve.models import ServedModel

StreamItem = dict[str, Any]


def answer_grammar(fmt: Any) -> str | None:
    """The llguidance grammar for an Ollama `format` value (a JSON schema or "json")."""
    if fmt in (None, ""):
        return None
    if fmt == "json":
        schema: dict[str, Any] = {}
    elif isinstance(fmt, dict):
        schema = dict(fmt)
    else:
        raise ValueError('format must be "json" or a JSON schema object')
    schema["x-guidance"] = {
        "whitespace_flexible": False, "item_separator": ", ", "key_separator": ": ",
    }  # fmt: skip
    return "%llguidance {}\nstart: %json " + json.dumps(schema, sort_keys=True)


class LlamaEngine:
    """One loaded GGUF model; calls are queued by llama.cpp (one slot: one at a time)."""

    def __init__(self, model: ServedModel, *, n_ctx: int = 4096, threads: int = 2) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before the library loads
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(model.path)
        p.n_ctx = n_ctx
        p.n_parallel = 1
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.warmup = False
        p.verbosity = -1
        p.cache_prompt = False
        # llama.cpp also opens its own OpenAI-style port on loopback; a random key
        # nobody knows keeps that side door shut (the in-process calls bypass it).
        p.api_keys = [secrets.token_hex(16)]
        self.model = model
        self.n_ctx = n_ctx
        self._server = xllamacpp.Server(p)
        self._lock = threading.Lock()

    def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        """One OpenAI-style chat completion (not streamed), as llama.cpp returns it."""
        with self._lock:
            out = self._server.handle_chat_completions(_llama_request(request))
        return _checked(out)

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """One raw-prompt completion (no chat template), not streamed."""
        with self._lock:
            out = self._server.handle_completions(_llama_request(request))
        return _checked(out)

    def chat_stream(self, request: dict[str, Any]) -> Iterator[StreamItem]:
        """Stream a chat completion's chunks as llama.cpp produces them."""
        return self._stream(self._server.handle_chat_completions, request)

    def complete_stream(self, request: dict[str, Any]) -> Iterator[StreamItem]:
        """Stream a raw completion's chunks."""
        return self._stream(self._server.handle_completions, request)

    def _stream(self, call: Callable[..., Any], request: dict[str, Any]) -> Iterator[StreamItem]:
        q: queue.Queue[tuple[str, Any]] = queue.Queue()
        req = {**_llama_request(request), "stream": True}

        def run() -> None:
            try:
                with self._lock:
                    err = call(req, lambda chunk: q.put(("chunk", chunk)))
                q.put(("error", err) if isinstance(err, dict) and "error" in err else ("end", None))
            except Exception as exc:  # handed to the reader, which raises it
                q.put(("error", {"error": str(exc)}))

        threading.Thread(target=run, name="llama-stream", daemon=True).start()
        while True:
            kind, item = q.get()
            if kind == "chunk":
                chunk = json.loads(item) if isinstance(item, str) else item
                if isinstance(chunk, dict) and "error" in chunk:
                    raise LlamaError(_error_text(chunk))
                yield chunk
            elif kind == "error":
                raise LlamaError(_error_text(item))
            else:
                return


class LlamaError(RuntimeError):
    """llama.cpp refused or failed a request."""


def _error_text(err: Any) -> str:
    e = err.get("error", err) if isinstance(err, dict) else err
    if isinstance(e, dict):
        return str(e.get("message", e))
    return str(e)


def _checked(out: Any) -> dict[str, Any]:
    if isinstance(out, str):
        out = json.loads(out)
    if not isinstance(out, dict) or "error" in out:
        raise LlamaError(_error_text(out))
    return out


def _llama_request(request: dict[str, Any]) -> dict[str, Any]:
    """Every request: no prompt-cache reuse (answers must depend on the prompt only)."""
    return {**request, "cache_prompt": False}
