"""The compile notice and `clanka warmup` (issue 12, part 3: start-up).

A cold numba cache makes a command's first kernel call take tens of seconds; the user
is told in one line before it happens, and `clanka warmup` pays it ahead of time.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

KERNEL_SOURCE = """
import numba


@numba.njit(cache=True)
def double_nb(x):
    return 2 * x
"""


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location("warm_probe_kernel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_compile_notice_shows_before_a_first_compile_and_not_once_cached(
    tmp_path: Path,
) -> None:
    from replay.core.warm import cached, compile_notice

    src = tmp_path / "warm_probe_kernel.py"
    src.write_text(KERNEL_SOURCE)
    kernel = _load(src).double_nb  # type: ignore[attr-defined]
    assert not cached(kernel)
    notice = compile_notice(kernel)
    assert notice is not None and "compiling" in notice and "clanka warmup" in notice
    assert kernel(21) == 42  # compiles and writes the cache beside the source
    assert list((tmp_path / "__pycache__").glob("warm_probe_kernel.double_nb-*.nbi"))
    fresh = _load(src).double_nb  # type: ignore[attr-defined]  # a new process, in effect
    assert cached(fresh)
    assert compile_notice(fresh) is None


def test_warmup_leaves_every_kernel_a_command_runs_cached(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "TMPDIR": str(tmp_path)}
    launch = "from replay.cli.launch import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", launch, "warmup"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("kernels ready in ")
    assert "numba cache: " in proc.stdout
    from engine.kernel_nb import step_nb
    from replay.core.merge_nb import merge_streams_nb
    from replay.core.warm import cached
    from replay.sweep.sweep_nb import fold_nb, sweep_shared_nb

    kernels = (step_nb, merge_streams_nb, fold_nb, sweep_shared_nb)
    assert all(cached(k) for k in kernels)
    assert not list(tmp_path.iterdir())  # its temporary store (under TMPDIR) is removed
