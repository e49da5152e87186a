"""Run the Ollama-API server: load the model, bind, say where, serve until stopped."""

from __future__ import annotations

import socket
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
    import uvicorn

    from strategies.strategist.serve.llama import LlamaEngine
    from strategies.strategist.serve.ollama_api import make_app

    model = served_model(model_path, name)
    engine = LlamaEngine(model, n_ctx=n_ctx, threads=threads)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(make_app(engine), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(model, host, bound)
    server.run(sockets=[sock])
