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


def test_every_mode_hands_the_kernels_read_only_columns(tmp_path: Path) -> None:
    """One compiled kernel per function, whatever memory a mode's columns are in.

    numba compiles a kernel once per pattern of read-only and writable arguments (a
    minute or two each): a replay's columns are partly Arrow's read-only memory, a
    live batch's fresh arrays. `frozen` makes every entry read-only, so after a replay,
    a sweep with and without shared features and a batch of fresh arrays, each kernel
    holds one signature, with every input column read-only.
    """
    import numpy as np

    from data.generator.market import MarketParams, generate_into
    from data.store import open_store
    from engine.kernel import Kernel, as_input, frozen
    from engine.kernel_nb import step_nb
    from replay.core.runner import run_replay
    from replay.sweep.chunk import sweep_local
    from replay.sweep.sweep_nb import sweep_shared_nb
    from strategies.config import load_strategy

    a = np.arange(3)
    view = frozen(a)
    assert not view.flags.writeable and np.shares_memory(view, a) and a.flags.writeable
    assert frozen(view) is view
    store = open_store(tmp_path / "s", create=True)
    generate_into(store, MarketParams(mints=3, hours=0.2, seed=5))
    strat = load_strategy("momentum_breakout")
    run_replay(store, strat, strat.vector(), write=False)
    for share in (True, False):
        sweep_local(store, strat, [{}, {"stop_loss": 0.05}], share_features=share)
    kernel = Kernel(strat.vector(), None, np.ones(2))
    fresh = as_input(np.zeros(2, np.int8), np.array([1, 2]), np.array([0, 1]), np.array([0, 1]),
                     np.array([1.0, 1.1]), np.array([5, 5]), np.array([9.0, 9.0]))  # fmt: skip
    assert all(c.flags.writeable for c in fresh)
    kernel.run_all(fresh)
    for disp in (step_nb, sweep_shared_nb):
        sigs = cast(Any, disp).signatures
        assert len(sigs) == 1, (disp, sigs)
        assert not any(arg.mutable for arg in sigs[0][:9]), sigs[0][:9]  # the input columns
