"""A cached kernel recompiles when a file compiled into it changes (engine.nb_cache).

numba alone checks only the kernel's own file: the control below shows it serving the
old machine code after a change to an imported module's constant and inlined function,
and the keyed kernel picking the change up. Each step runs in a fresh process, as an
upgrade would.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, cast

DEP = """
from numba import njit

K = {k}


@njit(inline="always")
def scaled(x):
    return x * {m}
"""
KERNEL = """
from numba import njit

from nbprobe.dep import K, scaled
{keying}

@njit(cache=True)
def kernel_nb(x):
    return scaled(x) + K
{call}
"""


def _write(root: Path, k: int, m: int) -> None:
    pkg = root / "nbprobe"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "dep.py").write_text(textwrap.dedent(DEP.format(k=k, m=m)))
    (pkg / "plain.py").write_text(KERNEL.format(keying="", call=""))
    (pkg / "keyed.py").write_text(KERNEL.format(
        keying="from engine.nb_cache import key_on_sources",
        call='\nkey_on_sources(globals(), packages=("nbprobe",))',
    ))  # fmt: skip


def _run(root: Path, module: str) -> int:
    code = f"from nbprobe.{module} import kernel_nb; print(kernel_nb(10))"
    env_path = f"{root}:{Path(__file__).resolve().parents[1]}"
    env = {"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    return int(out.stdout.strip())


def test_a_keyed_kernel_recompiles_when_an_imported_module_changes(tmp_path: Path) -> None:
    _write(tmp_path, k=1, m=2)
    assert _run(tmp_path, "plain") == 10 * 2 + 1
    assert _run(tmp_path, "keyed") == 21
    assert list((tmp_path / "nbprobe" / "__pycache__").glob("keyed.kernel_nb-*.nbi"))
    _write(tmp_path, k=5, m=3)  # the kernel files are rewritten byte for byte the same
    # numba's own check: the kernel's file did not change, so the old code is served.
    assert _run(tmp_path, "plain") == 21
    # Keyed on its sources: recompiled with the new constant and inlined function.
    assert _run(tmp_path, "keyed") == 10 * 3 + 5
    assert _run(tmp_path, "keyed") == 35  # and cached again under the new key


def test_the_engine_kernels_are_keyed_on_the_files_they_are_compiled_from() -> None:
    from engine import kernel_nb
    from engine.nb_cache import source_files
    from replay.sweep import sweep_nb

    names = {p.name for p in source_files(Path(sweep_nb.__file__))}
    assert {"sweep_nb.py", "kernel_nb.py", "layout.py", "params.py"} <= names
    for disp in (kernel_nb.step_nb, sweep_nb.sweep_shared_nb, sweep_nb.fold_nb):
        stamp = cast(Any, disp)._cache._cache_file._source_stamp
        assert isinstance(stamp, tuple) and len(stamp[1]) == 64
