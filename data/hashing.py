"""Stable 64-bit row ids (`uid`) for deduplicating imports.

Ids must be identical across runs, machines and library versions, so they are built
from blake2b (for strings) and the splitmix64 finaliser (for numbers) rather than
from any library's internal hash.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Apply the splitmix64 finaliser element-wise to a uint64 array."""
    z = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z = z + _GOLD
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def hash_strings(s: pl.Series) -> np.ndarray:
    """Hash a string column (nulls hash to a fixed value) to uint64, per unique value."""
    strs = s.cast(pl.String)
    uniq = strs.unique()
    table = {
        v: int.from_bytes(
            hashlib.blake2b(("\x00" if v is None else "\x01" + v).encode(), digest_size=8).digest(),
            "little",
        )
        for v in uniq.to_list()
    }
    return np.fromiter((table[v] for v in strs.to_list()), dtype=np.uint64, count=len(strs))


def as_u64(values: np.ndarray) -> np.ndarray:
    """Reinterpret an int or float column's bits as uint64 (floats by their IEEE bits)."""
    a = np.ascontiguousarray(values)
    if a.dtype.kind == "f":
        return a.astype(np.float64).view(np.uint64)
    return a.astype(np.int64).view(np.uint64)


def combine(*parts: np.ndarray) -> np.ndarray:
    """Order-dependent combination of uint64 columns into one uint64 id column."""
    acc = np.zeros(len(parts[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in parts:
            acc = splitmix64(acc ^ p.astype(np.uint64))
    return acc


def to_int64(u: np.ndarray) -> np.ndarray:
    """Store a uint64 id in an int64 column (same bits)."""
    return u.astype(np.uint64).view(np.int64)
