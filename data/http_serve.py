"""Serve an ASGI app with uvicorn on a socket bound first, so the real port is known.

`clanka llm serve` and `clanka serve` both bind before they serve: with `--port 0` the
kernel picks a free port, and the caller's `on_bound(port)` prints it (tests and
scripts wait for that line instead of sleeping). A port that cannot be had is one
clear `OSError`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


def serve_asgi(app: Any, host: str, port: int, on_bound: Callable[[int], None]) -> None:
    """Bind host:port, tell `on_bound` the port, serve until SIGINT / SIGTERM."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    on_bound(int(sock.getsockname()[1]))
    server.run(sockets=[sock])
