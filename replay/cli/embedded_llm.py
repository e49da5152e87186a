"""`--llm-host embedded`: the embedded model server for the length of one command.

It starts `clanka llm serve --port 0` as a child process, waits for the line that says
where it listens (the child reports when it is ready; no sleeping), hands that address
to the strategist, and stops the child when the command ends. The strategist still
talks HTTP to it through the `ollama` client, exactly as it would to a real Ollama.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

EMBEDDED = "embedded"


@contextmanager
def llm_host(host: str | None) -> Iterator[str | None]:
    """`host` as given, or the address of a freshly started embedded server."""
    if host != EMBEDDED:
        yield host
        return
    from strategies.strategist.serve.spawn import ServerStartError, spawn_server, stop_server

    try:
        child, url = spawn_server()
    except ServerStartError as exc:
        raise ValueError(f"--llm-host embedded: {exc}") from None
    try:
        yield url
    finally:
        stop_server(child)
