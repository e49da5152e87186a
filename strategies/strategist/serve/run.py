"""Run the Ollama-API server: load the model, bind, say where, serve until stopped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strategies.strategist.serve.models import ServedModel, served_model


def serve(
    model_path: Path | None,
    name: str | None,
    host: str,
    port: int,
    *,
    n_ctx: int = 4096,
    threads: int = 2,
    on_ready: Callable[[ServedModel, str, int], None] | None = None,
) -> None:
    """Load the GGUF file and serve it on host:port (0: any free port) until SIGINT/TERM.

    `on_ready(model, host, port)` runs once the socket is bound and the model loaded,
    with the real port: tests and scripts wait for it instead of sleeping.
    """
    from data.http_serve import serve_asgi
    from strategies.strategist.serve.llama import LlamaEngine
    from strategies.strategist.serve.ollama_api import make_app

    model = served_model(model_path, name)
    engine = LlamaEngine(model, n_ctx=n_ctx, threads=threads)

    def bound(port: int) -> None:
        if on_ready is not None:
            on_ready(model, host, port)

    serve_asgi(make_app(engine), host, port, bound)
