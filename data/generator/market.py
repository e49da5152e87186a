"""The built-in SYNTHETIC market: parameters, simulation, and writing it to a store.

Everything here is labelled synthetic on disk: source partition `synthetic`, import
format `synthetic_market`, symbols `SYN0000`.... It exists so `make demo` and the
benchmarks run on a fresh machine; tests and research use the real data in
`../shared/data`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from data.base58 import b58encode
from data.generator import market_nb as nb
from data.hashing import as_u64, combine, to_int64
from data.mints import MintSpec
from data.store import EventStore

GENERATOR_VERSION = 1
"""Bump when the model changes, so a new market never dedupes against an old one."""
SOURCE = "synthetic"
FORMAT = "synthetic_market"
REGIME_NAMES = ("calm", "pump", "dump", "rug")


class MarketParams(BaseModel):
    """What defines a synthetic market; the same params always give the same market."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mints: int = Field(200, ge=1, le=100_000, description="number of token launches")
    hours: float = Field(24.0, gt=0, le=24 * 31, description="length of the market")
    seed: int = Field(7, ge=0, lt=2**63, description="random seed")
    start: dt.datetime = Field(
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC), description="UTC start of the market"
    )
    launches_until: float = Field(
        default=0.75, gt=0, le=1, description="launches come in this first share of the horizon"
    )
    drift: Literal["none", "rug_traps"] = Field(
        default="none",
        description="rug_traps: from drift_day on, thin pools rug on their momentum buyers",
    )
    drift_day: float = Field(default=2.0, ge=0, description="days after the start it sets in")
    trap_below: float = Field(
        default=50.0, gt=30.0, le=1_000.0, description="rug_traps: pools under this many SOL"
    )
    trap_chance: float = Field(
        default=0.5, gt=0, le=1, description="rug_traps: chance a thin momentum mark is a trap"
    )

    @field_validator("start")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            return v.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC)

    @property
    def start_ns(self) -> int:
        """Start as int ns since the epoch."""
        return int(self.start.timestamp()) * 1_000_000_000

    @property
    def drift_start_ns(self) -> int:
        """When the drift sets in, ns after the start (-1: never)."""
        return -1 if self.drift == "none" else int(self.drift_day * 86_400 * 1_000_000_000)

    def content_key(self) -> str:
        """Idempotency key: a hash of the parameters and the generator version.

        A market without drift, launching over the first 75%, hashes as it did before
        those options existed.
        """
        fields = self.model_dump(mode="json")
        if self.drift == "none":
            for name in ("drift", "drift_day", "trap_below", "trap_chance"):
                del fields[name]
        if self.launches_until == 0.75:
            del fields["launches_until"]
        doc = {"generator": GENERATOR_VERSION, **fields}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class Market:
    """A simulated market, time-ordered; `mint` is the generator's mint index."""

    ticks: dict[str, np.ndarray]
    signals: dict[str, np.ndarray]
    regimes: dict[str, int]


def mint_address(seed: int, index: int) -> str:
    """A deterministic, valid-looking 32-byte base58 address for a synthetic mint."""
    digest = hashlib.blake2b(f"clanka-synthetic/{seed}/{index}".encode(), digest_size=32)
    return b58encode(digest.digest())


def simulate(params: MarketParams) -> Market:
    """Run the kernel, growing its buffers until everything fits; sort by time."""
    horizon = int(params.hours * 3600 * 1e9)
    # ~500 ticks per mint-hour on average; the loop doubles the buffers if a seed needs more.
    cap_t = max(10_000, int(params.mints * params.hours * 700))
    cap_s = max(1_000, cap_t // 4)
    while True:
        t: dict[str, np.ndarray] = {
            "ts_ns": np.empty(cap_t, np.int64),
            "mint": np.empty(cap_t, np.int32),
            "price": np.empty(cap_t, np.float64),
            "size": np.empty(cap_t, np.int64),
            "side": np.empty(cap_t, np.int8),
            "liquidity": np.empty(cap_t, np.float64),
            "uid": np.empty(cap_t, np.int64),
        }
        s: dict[str, np.ndarray] = {
            "ts_ns": np.empty(cap_s, np.int64),
            "mint": np.empty(cap_s, np.int32),
            "kind": np.empty(cap_s, np.int16),
            "value": np.empty(cap_s, np.float64),
        }
        counts = np.zeros(2, np.int64)
        regimes = np.zeros(4, np.int64)
        status = nb.simulate_market_nb(
            params.mints, horizon, params.seed, t["ts_ns"], t["mint"], t["price"], t["size"],
            t["side"], t["liquidity"], t["uid"], s["ts_ns"], s["mint"], s["kind"], s["value"],
            counts, regimes, params.launches_until, params.drift_start_ns,
            params.trap_below, params.trap_chance,
        )  # fmt: skip
        if status == nb.TICKS_FULL:
            cap_t *= 2
        elif status == nb.SIGNALS_FULL:
            cap_s *= 2
        else:
            break
    nt, ns = int(counts[0]), int(counts[1])
    order_t = np.argsort(t["ts_ns"][:nt], kind="stable")
    order_s = np.argsort(s["ts_ns"][:ns], kind="stable")
    ticks = {k: v[:nt][order_t] for k, v in t.items()}
    sigs = {k: v[:ns][order_s] for k, v in s.items()}
    ticks["ts_ns"] += params.start_ns
    sigs["ts_ns"] += params.start_ns
    # Signal uids: the mint's index, its kind and its time, mixed stably (no collisions
    # from overlapping bit fields).
    sigs["uid"] = to_int64(
        combine(as_u64(sigs["mint"]), as_u64(sigs["kind"]), as_u64(sigs["ts_ns"]))
    )
    return Market(ticks, sigs, dict(zip(REGIME_NAMES, regimes.tolist(), strict=True)))


@dataclass
class GenerateReport:
    """What `clanka generate` did."""

    store: str
    mints: int
    hours: float
    seed: int
    ticks: int
    signals: int
    already_generated: bool
    seconds: float
    regimes: dict[str, int] = field(default_factory=dict)
    label: str = "SYNTHETIC market (clanka built-in generator), not real data"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def generate_into(
    store: EventStore, params: MarketParams, progress: Callable[[str], None] | None = None
) -> GenerateReport:
    """Simulate the market and append it through the store's normal commit path.

    Idempotent: the same parameters a second time add nothing.
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    key = params.content_key()
    report = GenerateReport(
        str(store.root), params.mints, params.hours, params.seed, 0, 0, False, 0.0
    )
    with store.transaction() as tx:
        for chunk in tx.scan("imports", ["content_sha256"]):
            if key in set(chunk["content_sha256"].tolist()):
                report.already_generated = True
                report.seconds = time.perf_counter() - t0
                return report
        say(f"simulating {params.mints} mints over {params.hours:g} h (seed {params.seed})")
        market = simulate(params)
        report.regimes = market.regimes
        say(f"writing {len(market.ticks['ts_ns']):,} ticks")
        specs = [
            MintSpec(mint_address(params.seed, i), f"SYN{i:04d}", 6, "SOL")
            for i in range(params.mints)
        ]
        recs = tx.register_mints(specs, source=SOURCE, ts_ns=params.start_ns)
        ids = np.array([recs[sp.mint].mint_id for sp in specs], dtype=np.int32)
        ticks = dict(market.ticks)
        ticks["mint_id"] = ids[ticks.pop("mint")]
        report.ticks = tx.append("ticks", ticks, source=SOURCE).count
        sigs = dict(market.signals)
        sigs["mint_id"] = ids[sigs.pop("mint")]
        report.signals = tx.append("signals", sigs, source=SOURCE).count
        tx.append(
            "imports",
            {
                "ts_ns": [time.time_ns()],
                "content_sha256": [key],
                "path": [f"generator:{params.model_dump_json()}"],
                "format": [FORMAT],
                "source": [SOURCE],
                "rows_in_file": [report.ticks],
                "imported": [report.ticks],
                "quarantined": [0],
                "skipped_duplicates": [0],
                "ticks": [report.ticks],
                "signals": [report.signals],
                "mints_added": [tx.mints_added],
            },
        )
    report.seconds = time.perf_counter() - t0
    return report
