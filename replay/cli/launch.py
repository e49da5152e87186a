"""The `clanka` console script: stop signals first, then the command line.

Loading pyarrow, numba and DuckDB takes a moment; a Ctrl-C in that moment used to
end in a traceback. So the handlers that turn SIGINT and SIGTERM into a cooperative
stop (`data.interrupts`) are installed before anything heavy is imported, and a stop
requested while the program was still starting ends it with one line before any work.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the `clanka` command."""
    from data import interrupts
    from replay.core.progress_fd import ProgressFd

    interrupts.install_handlers()
    ProgressFd().emit("launching")
    try:
        from replay.cli.main import run_app
    except KeyboardInterrupt:
        code = 128 + (interrupts.requested() or 2)
        sys.stderr.write("interrupted while starting; nothing was done\n")
        sys.exit(code)
    if interrupts.requested():
        sys.stderr.write("interrupted while starting; nothing was done\n")
        sys.exit(128 + interrupts.requested())
    run_app()
