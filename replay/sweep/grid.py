"""The parameter sets of a sweep: grids (every combination) and random draws.

A grid's size is a product, so it is counted before any list is built and refused
above `MAX_SETS` (the CLI's `--max-sets`).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.params import check_name, param_names
from replay.sweep.limits import MAX_SETS
from strategies.config import StrategyConfig


def parse_grid(specs: Sequence[str], max_sets: int = MAX_SETS) -> dict[str, list[float]]:
    """`key=lo:hi:step` (hi included when the steps land on it) or `key=v1,v2,...`.

    The number of combinations is counted before any list is built: a grid of more
    than `max_sets` sets is refused with its size.
    """
    grid: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for spec in specs:
        key, sep, rng = spec.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError(f"--grid {spec!r}: expected name=lo:hi:step or name=v1,v2,...")
        try:
            check_name(key)
        except ValueError as exc:
            raise ValueError(f"--grid {spec!r}: {exc}") from None
        try:
            if ":" in rng:
                lo, hi, step = (float(x) for x in rng.split(":"))
                if not (step > 0 and hi >= lo and math.isfinite(hi - lo)):
                    raise ValueError
                n = math.floor((hi - lo) / step + 1e-9) + 1
                sizes[key] = n
                if math.prod(sizes.values()) > max_sets:
                    raise _too_many(sizes, max_sets) from None
                values = [round(lo + i * step, 12) for i in range(n)]
            else:
                values = [float(x) for x in rng.split(",") if x.strip()]
                sizes[key] = len(values)
        except ValueError as exc:
            if "--max-sets" in str(exc):
                raise
            raise ValueError(
                f"--grid {spec!r}: expected lo:hi:step (step > 0) or v1,v2,..."
            ) from None
        if not values:
            raise ValueError(f"--grid {spec!r}: no values")
        grid[key] = values
    if math.prod(sizes.values()) > max_sets:
        raise _too_many(sizes, max_sets)
    return grid


def _too_many(sizes: dict[str, int], max_sets: int) -> ValueError:
    shape = " x ".join(f"{n:,} {k}" for k, n in sizes.items())
    return ValueError(
        f"--grid: {math.prod(sizes.values()):,} parameter sets ({shape}) is more than the "
        f"limit of {max_sets:,}; use coarser steps, --random N, or raise --max-sets"
    )


def grid_sets(strategy: StrategyConfig, grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values, each validated as a full parameter set."""
    keys = list(grid)
    sets = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    for s in sets:
        strategy.vector(s)  # raises with the parameter's name and range when invalid
    return sets


def random_sets(
    strategy: StrategyConfig, space_file: Path, n: int, seed: int = 0
) -> list[dict[str, float]]:
    """`n` parameter sets drawn from a TOML search space (reproducible for a seed).

    Each table names a parameter: `lo`/`hi` draw uniformly (`log = true`: uniformly in
    log space; `integer = true`: whole numbers), `values = [...]` draws one of them.
    Draws the strategy's rules refuse (e.g. tp1 >= tp2) are redrawn.
    """
    try:
        doc = tomllib.loads(space_file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"--space {space_file}: cannot read TOML ({exc})") from None
    known = set(param_names())
    if not doc:
        raise ValueError(f"--space {space_file}: no parameters")
    for name, spec in doc.items():
        ok = isinstance(spec, dict) and (
            ("values" in spec and isinstance(spec["values"], list) and spec["values"])
            or ("lo" in spec and "hi" in spec and float(spec["lo"]) <= float(spec["hi"]))
        )
        if name not in known or not ok:
            raise ValueError(f"--space {space_file}: [{name}] needs a known parameter with "
                             "lo <= hi or a non-empty values list")  # fmt: skip
    rng = np.random.default_rng(seed)
    out: list[dict[str, float]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n + 100:
            raise ValueError(f"--space {space_file}: most draws break the parameter rules")
        draw: dict[str, float] = {}
        for name, spec in doc.items():
            if "values" in spec:
                draw[name] = float(spec["values"][int(rng.integers(len(spec["values"])))])
                continue
            lo, hi = float(spec["lo"]), float(spec["hi"])
            if spec.get("log"):
                v = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                v = float(rng.uniform(lo, hi))
            draw[name] = float(round(v)) if spec.get("integer") else round(v, 12)
        try:
            strategy.vector(draw)
        except ValueError:
            continue
        out.append(draw)
    return out
