"""How long a user waits before a command does its work: imports and kernel compiles.

Usage: `python -m benchmarks.bench_startup [--runs 7] [--cold-runs 2] [--base DIR]`.

Every figure is the wall time of a fresh `clanka` process, as a user runs it:
- `--help` and `clanka sql` (warm: the OS file cache holds the imports), against the
  yardstick of a bare `python -c pass` in the same sitting;
- `replay` and `sweep` on a small synthetic store, warm (the numba cache holds the
  kernels, as after `clanka warmup`) and cold (a fresh, empty NUMBA_CACHE_DIR each run,
  as on a fresh checkout without warmup); the cold runs also record whether the
  one-line compile notice was printed;
- `clanka warmup` itself, cold and warm;
- a non-editable install (`pip install --no-deps --target`, owned by root) run as an
  unprivileged user who cannot write to it: numba then caches in that user's cache
  directory, and the second command must find its kernels there (warm). Needs root
  and setpriv; otherwise recorded as not run, with the reason;
- with `--base DIR` (a checkout of an earlier commit), that commit's `--help`, A/B.
Medians and spreads go to benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS

REPO = Path(__file__).resolve().parents[1]
LAUNCH = "from replay.cli.launch import main; main()"
NOTICE = "compiling Clanka's kernels"


Command = list[str] | Callable[[], list[str]]
"""A command line, or a maker of a new one per run (a sweep already done would resume)."""


def _timed(command: Command, env: dict[str, str], cwd: Path = REPO) -> tuple[float, str]:
    """Seconds a command took (it must succeed), and its stderr."""
    cmd = command() if callable(command) else command
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[-4:])} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return dt, proc.stderr


def _stats(xs: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs),
            "runs": [round(x, 3) for x in xs]}  # fmt: skip


def _repeat(cmd: Command, env: dict[str, str], runs: int, cwd: Path = REPO) -> dict[str, Any]:
    _timed(cmd, env, cwd)  # one unmeasured run: the OS file cache holds the imports
    return _stats([_timed(cmd, env, cwd)[0] for _ in range(runs)])


def _cold(cmd: Command, env: dict[str, str], runs: int, work: Path) -> dict[str, Any]:
    """Runs with a fresh, empty numba cache each; whether the notice came first."""
    times, noticed = [], []
    for k in range(runs):
        cache = work / f"cold-cache-{k}"
        dt, stderr = _timed(cmd, {**env, "NUMBA_CACHE_DIR": str(cache)})
        times.append(dt)
        noticed.append(stderr.lstrip().startswith(NOTICE))
        shutil.rmtree(cache, ignore_errors=True)
    return {**_stats(times), "notice_printed_first": noticed}


def _readonly_install(top: Path, store: Path, runs: int) -> dict[str, Any]:
    """Non-editable install, not writable by the user running it: cold, then warm."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return {"run": False, "reason": "needs root (to install) and setpriv (to drop to nobody)"}
    work = top / "readonly"
    work.mkdir()
    site = work / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--target", str(site), str(REPO)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    if pip.returncode != 0:
        return {"run": False, "reason": "pip install failed: " + pip.stderr.strip()[-300:]}
    home = work / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    for d in (top, work):
        d.chmod(0o755)
    for root, _dirs, files in os.walk(store):  # nobody reads the store and writes its locks
        os.chown(root, 65534, 65534)
        for f in files:
            os.chown(Path(root) / f, 65534, 65534)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(site),
           "NO_COLOR": "1"}  # fmt: skip
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    py = [*drop, sys.executable, "-c", LAUNCH]
    probe = [*drop, sys.executable, "-c", "import replay; print(replay.__file__)"]
    where = subprocess.run(probe, env=env, cwd=work, capture_output=True, text=True, check=True)
    t_warmup, _ = _timed([*py, "warmup"], env, work)
    caches = sorted(str(p.relative_to(home)) for p in home.glob(".cache/numba/*") if p.is_dir())
    replay = [*py, "replay", "--store", str(store), "--strategy", "momentum_breakout"]
    warm = [_timed(replay, env, work) for _ in range(runs)]
    return {
        "run": True,
        "installed_at": where.stdout.strip(),
        "site_owner_uid_and_mode": [site.stat().st_uid, oct(site.stat().st_mode & 0o777)],
        "run_as_uid": 65534,
        "kernel_caches_in_site": len(list(site.rglob("*.nbi"))),
        "warmup_cold_s": round(t_warmup, 3),
        "user_cache_dirs": caches,
        "replay_warm_s": _stats([t for t, _ in warm]),
        "replay_warm_notice_printed": any(NOTICE in e for _, e in warm),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cold-runs", type=int, default=2)
    ap.add_argument("--base", type=Path, help="a checkout of an earlier commit, for --help A/B")
    ap.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="clanka-startup-"))
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    clanka = [sys.executable, "-c", LAUNCH]
    try:
        store = work / "store"
        _timed([*clanka, "generate", "--store", str(store), "--mints", "20", "--hours", "2"], env)
        warm_env = {**env, "NUMBA_CACHE_DIR": str(work / "warm-cache")}
        warmup_cold, _ = _timed([*clanka, "warmup"], warm_env)
        s = str(store)
        replay = [*clanka, "replay", "--store", s, "--strategy", "momentum_breakout"]
        sweeps = itertools.count()

        def sweep() -> list[str]:  # a new grid each run, so no run resumes a finished sweep
            k = next(sweeps)
            return [*clanka, "sweep", "--store", s, "--strategy", "momentum_breakout",
                    "--grid", f"stop_loss=0.05,0.1,{0.2 + k / 1000:.3f}",
                    "--grid", "tp1=0.1,0.2"]  # fmt: skip

        sql = [*clanka, "sql", "--store", s, "select count(*) from ticks"]
        warmup_warm = _repeat([*clanka, "warmup"], warm_env, args.runs)
        doc: dict[str, Any] = {
            "benchmark": "startup",
            "python_c_pass_s": _repeat([sys.executable, "-c", "pass"], env, args.runs),
            "help_s": _repeat([*clanka, "--help"], env, args.runs),
            "sql_s": _repeat(sql, env, args.runs),
            "warmup_s": {"cold": round(warmup_cold, 3), "warm": warmup_warm},
            "replay_s": {
                "warm": _repeat(replay, warm_env, args.runs),
                "cold": _cold(replay, env, args.cold_runs, work),
            },
            "sweep_s": {
                "warm": _repeat(sweep, warm_env, args.runs),
                "cold": _cold(sweep, env, args.cold_runs, work),
            },
        }
        doc["help_over_python"] = doc["help_s"]["median"] / doc["python_c_pass_s"]["median"]
        if args.base is not None:
            base_env = {**env, "PYTHONPATH": str(args.base.resolve())}
            base_help = [sys.executable, "-c", "from replay.cli import main; main()", "--help"]
            base = _repeat(base_help, base_env, args.runs, cwd=args.base.resolve())
            doc["base_help_s"] = {**base, "commit": _head(args.base)}
            doc["help_speedup_vs_base"] = base["median"] / doc["help_s"]["median"]
        doc["readonly_install"] = _readonly_install(work, store, args.runs)
        doc["store"] = "synthetic: 20 mints, 2 hours, seed 7"
        doc["method"] = ("wall time of fresh processes; warm = OS file cache and numba cache "
                         "hot; cold = empty NUMBA_CACHE_DIR per run")  # fmt: skip
        doc["cpus"] = os.cpu_count()
        doc["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _head(checkout: Path) -> str:
    out = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return out.stdout.strip()


if __name__ == "__main__":
    main()
