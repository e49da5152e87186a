"""Typed Python face of the kernel: input validation, state ownership, resumable runs.

`STEP` is the one compiled decision function. Replay, sweeps, paper and live call it
through `Kernel`, which checks dtypes once per batch (never per tick), owns the
state, and drains the output buffer whenever the kernel says it is full. It also
splits the kernel's per-minute equity marks (`OutKind.EQUITY_MARKED` rows) off the
event rows into `equity_points`: the curve every mode's report reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from engine.conditions import ConditionSet
from engine.events import OutKind
from engine.kernel_nb import held_sol_nb, mints_in_range_nb, step_nb
from engine.layout import (
    G_CASH,
    G_MARK_END,
    G_SLOTS_USED,
    G_VENUE,
    MAX_OUT_PER_EVENT,
    MF_SCALE,
    N_OUT_F,
    N_OUT_I,
    NO_DAY_YET,
    O_KIND,
    O_SOL,
    O_TS,
    OF_PRICE,
    STATUS_DONE,
    VENUE_EXTERNAL,
    VENUE_SIMULATED,
    KernelState,
    grow_state,
    load_conditions,
    new_state,
)
from engine.params import LAMPORTS_PER_SOL, P

STEP = step_nb
"""The decision function every mode runs (tests check it is this very object)."""


class KernelInput(NamedTuple):
    """A batch of input events in `(ts_ns, seq)` order, as parallel arrays."""

    kind: np.ndarray  # int8: engine.events.InputKind
    ts: np.ndarray  # int64 ns
    seq: np.ndarray  # int64
    mint: np.ndarray  # int32 (int64 accepted)
    price: np.ndarray  # float64 (ticks)
    size: np.ndarray  # int64 raw units (ticks)
    liq: np.ndarray  # float64, NaN unknown (ticks)
    sig_kind: np.ndarray  # int16 (signals)
    sig_value: np.ndarray  # float64 (signals)

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, lo: int, hi: int) -> KernelInput:
        """Rows lo..hi-1 (views, no copy)."""
        return KernelInput(*(a[lo:hi] for a in self))

    def read_only(self) -> KernelInput:
        """The same columns, every one read-only (`frozen`): what each kernel is handed."""
        return KernelInput(*(frozen(a) for a in self))


def frozen(a: np.ndarray) -> np.ndarray:
    """`a` if it is read-only, else a read-only view of it (no copy).

    numba compiles a kernel once for each pattern of read-only and writable array
    arguments. A replay's columns are partly Arrow's read-only memory, a live batch's
    are fresh arrays, a sweep's batch is either, and a Dask worker's arrive unpickled:
    each pattern was a compile of the whole kernel (one to two minutes). The kernels
    never write their inputs, so every entry hands them read-only: one compile each,
    which `clanka warmup` pays once for every mode.
    """
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


_DTYPES = (np.int8, np.int64, np.int64, np.int64, np.float64, np.int64, np.float64, np.int64,
           np.float64)  # fmt: skip


def as_input(
    kind: np.ndarray,
    ts: np.ndarray,
    seq: np.ndarray,
    mint: np.ndarray,
    price: np.ndarray | None = None,
    size: np.ndarray | None = None,
    liq: np.ndarray | None = None,
    sig_kind: np.ndarray | None = None,
    sig_value: np.ndarray | None = None,
) -> KernelInput:
    """Build a KernelInput with the kernel's dtypes, filling absent columns neutrally."""
    n = len(ts)
    cols = [
        kind,
        ts,
        seq,
        mint,
        price if price is not None else np.zeros(n),
        size if size is not None else np.zeros(n, np.int64),
        liq if liq is not None else np.full(n, np.nan),
        sig_kind if sig_kind is not None else np.zeros(n, np.int64),
        sig_value if sig_value is not None else np.zeros(n),
    ]
    out = []
    for c, dt in zip(cols, _DTYPES, strict=True):
        a = np.ascontiguousarray(c, dtype=dt)
        if len(a) != n:
            raise ValueError("input columns differ in length")
        out.append(a)
    return KernelInput(*out)


class Kernel:
    """One run's kernel: parameters, compiled conditions, state and output buffer."""

    def __init__(
        self,
        params: np.ndarray,
        conditions: ConditionSet | None,
        scales: np.ndarray,
        out_capacity: int = 1 << 16,
        *,
        external_venue: bool = False,
    ) -> None:
        """Set up a fresh state; `external_venue` is live mode.

        With it, orders are not filled by the simulated venue but by the
        `InputKind.VENUE_FILL` / `VENUE_REJECT` inputs the venue adapter reports.
        """
        if params.dtype != np.float64 or params.ndim != 1 or len(params) != len(P):
            raise ValueError(f"params must be a float64 vector of length {len(P)}")
        self.params = params.copy()
        """The values in force: parameter-change events write into this copy, so the
        vector the run started with stays as it was."""
        cash = round(params[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL)
        self.state: KernelState = new_state(np.asarray(scales, dtype=np.float64), cash)
        load_conditions(self.state, None if conditions is None else conditions.compile())
        self.state.glob[G_VENUE] = VENUE_EXTERNAL if external_venue else VENUE_SIMULATED
        if out_capacity <= MAX_OUT_PER_EVENT:
            raise ValueError(f"out_capacity must exceed {MAX_OUT_PER_EVENT} (one event's output)")
        self.n_mints = len(scales)
        self.out_i = np.zeros((out_capacity, N_OUT_I), dtype=np.int64)
        self.out_f = np.zeros((out_capacity, N_OUT_F), dtype=np.float64)
        self.equity_points: list[tuple[int, float, float]] = []
        """(minute end ts, cash SOL, open positions SOL) for each minute that had a tick
        and has ended; `curve()` adds the latest (partial) minute's."""

    def run(
        self, batch: KernelInput, *, split_marks: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Process a whole batch; the (out_i, out_f) copies of each buffer's worth of rows.

        With `split_marks` (the default) equity marks go to `equity_points` and only
        log events are returned; without, mark rows stay in place among the events.
        """
        return iter(self._parts(batch, split_marks))

    def _parts(self, batch: KernelInput, split_marks: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """`run`'s loop, as a plain list rather than a generator.

        A live batch is a frame or a few, so what each call costs is most of its cost.
        """
        batch = batch.read_only()
        self._check_mints(batch)
        i = 0
        st = self.state
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        while True:
            i, n, status = STEP(*batch, i, self.params, *st, self.out_i, self.out_f, 0)
            if n:
                rows_i, rows_f = self.out_i[:n], self.out_f[:n]
                mark = rows_i[:, O_KIND] == OutKind.EQUITY_MARKED if split_marks else None
                if mark is not None and mark.any():
                    self._keep_marks(rows_i[mark], rows_f[mark])
                    parts.append((rows_i[~mark], rows_f[~mark]))
                else:
                    parts.append((rows_i.copy(), rows_f.copy()))
            if status == STATUS_DONE:
                return parts

    def warm(self) -> None:
        """Have the compiled kernel loaded before the first real batch needs it.

        numba reads a dispatcher's machine code from its cache on the first call, 0.2
        to 0.4 s that a live run's first trade would otherwise wait for. The warming
        batch is empty: no input, no output, and no state a later call would not set
        the same (every call re-derives its values from the same parameters).
        """
        empty = np.zeros(0, np.int64)
        self._parts(as_input(np.zeros(0, np.int8), empty, empty, empty), split_marks=False)

    def _keep_marks(self, rows_i: np.ndarray, rows_f: np.ndarray) -> None:
        for ts, cash, held in zip(
            rows_i[:, O_TS].tolist(),
            rows_i[:, O_SOL].tolist(),
            rows_f[:, OF_PRICE].tolist(),
            strict=True,
        ):
            self.equity_points.append((ts, cash / LAMPORTS_PER_SOL, held))

    def curve(self) -> list[tuple[int, float, float]]:
        """The equity curve so far, ending with the latest minute's mark at its end."""
        st = self.state
        if st.glob[G_MARK_END] == NO_DAY_YET:
            return list(self.equity_points)
        last = (
            int(st.glob[G_MARK_END]),
            int(st.glob[G_CASH]) / LAMPORTS_PER_SOL,
            float(held_sol_nb(st.pos_i, st.mint_f, st.glob[G_SLOTS_USED])),
        )
        return [*self.equity_points, last]

    def add_mints(self, scales: np.ndarray) -> None:
        """Make room for mints registered after the kernel was built (the next ids)."""
        self.state = grow_state(self.state, scales)
        self.n_mints = int(self.state.mint_f.shape[0])

    def set_scale(self, mint_id: int, scale: float) -> None:
        """Give a mint that has a row but no events yet its scale (10**decimals)."""
        self.state.mint_f[mint_id, MF_SCALE] = scale

    def _check_mints(self, batch: KernelInput) -> None:
        """Ticks need a known mint; signals may carry -1 (controls, for no mint)."""
        if not mints_in_range_nb(batch.kind, batch.mint, self.n_mints):
            raise ValueError(f"input mint ids must lie in [0, {self.n_mints}) (signals: -1 too)")

    def run_all(
        self, batch: KernelInput, *, split_marks: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Process a batch and return every output row (concatenated)."""
        parts = self._parts(batch, split_marks)
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F))
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])
