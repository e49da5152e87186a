"""Hostile input files: wrong units, overflowing times, wrong types, absurd values.

The oracle here is the README's import rules, re-derived in exact Python integers:
every row either lands in `ticks` with exactly the values the rules give, or in
`quarantine` with the rule's reason. Nothing is stored at a wrong time, and nothing
is refused without a reason.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs

from data.errors import ImportFileError
from data.importers import import_file
from data.store import EventStore, open_store

NS = 10**9
I64 = 2**63 - 1
LO = 1_230_940_800 * NS  # 2009-01-03
SCALES = [NS, 10**6, 10**3, 1]  # ns per unit: s, ms, us, ns
BOUNDS = [10**11, 10**14, 10**17]  # magnitudes where s, ms, us end


def unit_class(v: float) -> int:
    """0 s, 1 ms, 2 us, 3 ns: from a value's magnitude (the README's rule)."""
    mag = abs(v)
    return sum(mag >= b for b in BOUNDS)


def _store() -> tuple[tempfile.TemporaryDirectory[str], EventStore]:
    tmp = tempfile.TemporaryDirectory()
    return tmp, open_store(Path(tmp.name) / "s", create=True)


def _trades(ts: list[Any], price: list[Any] | None = None, **cols: Any) -> pa.Table:
    n = len(ts)
    return pa.table({
        "ts": ts, "symbol": ["XRPETH"] * n, "price": price or [0.001] * n, "size": [2.0] * n,
        "side": ["buy"] * n, "trade_id": list(range(1, n + 1)), **cols,
    })  # fmt: skip


def _import(tmp: Path, table: pa.Table | pl.DataFrame, name: str = "f.parquet") -> Any:
    path = tmp / name
    if isinstance(table, pl.DataFrame):
        table.write_csv(path) if name.endswith(".csv") else table.write_parquet(path)
    else:
        pq.write_table(table, path)
    store = open_store(tmp / "store", create=True)
    return store, import_file(store, path)


def _fates(store: EventStore) -> dict[int, Any]:
    """trade_id -> stored ts_ns, or row number -> quarantine reason (as 'q:reason')."""
    out: dict[int, Any] = {}
    for uid, ts in store.con.sql("SELECT uid, ts_ns FROM ticks").fetchall():
        out[int(uid)] = ts
    for row_no, reason in store.con.sql("SELECT row_no, reason FROM quarantine").fetchall():
        out[int(row_no) + 1] = f"q:{reason}"
    return out


# ------------------------------------------------------------- item 1, by hand
def test_item1_a_year_2611_second_is_quarantined_not_wrapped_into_2027(tmp_path: Path) -> None:
    # 20,000,000,000 s is year 2603; x 1e9 wraps int64 to a 2027 date if unchecked.
    ok = 1_733_011_200  # 2024-12-01 in seconds
    store, rep = _import(tmp_path, _trades([ok, 20_000_000_000, ok + 1]))
    assert rep.quarantine_reasons == {"ts_overflow": 1}
    assert _fates(store) == {1: ok * NS, 2: "q:ts_overflow", 3: (ok + 1) * NS}


def test_item1_a_file_mixing_units_keeps_only_its_own_unit(tmp_path: Path) -> None:
    t = 1_733_011_200  # the same instant in s, ms, us and ns; the file is mostly us
    ts = [t * 10**6, t, t * 10**3, t * 10**6 + 1, t * 10**9, t * 10**6 + 2]
    store, rep = _import(tmp_path, _trades(ts))
    assert rep.quarantine_reasons == {"ts_unit_mismatch": 3}
    assert _fates(store) == {
        1: t * NS, 2: "q:ts_unit_mismatch", 3: "q:ts_unit_mismatch", 4: t * NS + 1000,
        5: "q:ts_unit_mismatch", 6: t * NS + 2000,
    }  # fmt: skip


def test_item1_times_before_2009_or_after_tomorrow_are_out_of_range(tmp_path: Path) -> None:
    import time

    now_s = time.time_ns() // NS
    ts = [1_230_940_799, 1_230_940_800, now_s, now_s + 3 * 86_400]
    store, rep = _import(tmp_path, _trades(ts))
    assert rep.quarantine_reasons == {"ts_out_of_range": 2}
    assert _fates(store) == {1: "q:ts_out_of_range", 2: LO, 3: now_s * NS,
                             4: "q:ts_out_of_range"}  # fmt: skip


def test_item1_float_seconds_keep_their_fraction_and_1e30_overflows(tmp_path: Path) -> None:
    store, rep = _import(tmp_path, _trades([1_733_011_200.25, 1e30, float("nan")]))
    assert rep.quarantine_reasons == {"ts_overflow": 1, "ts_unparseable": 1}
    assert _fates(store)[1] == 1_733_011_200 * NS + NS // 4


# ------------------------------------------------------------- item 7, by hand
@pytest.mark.parametrize(
    ("cols", "fate"),
    [
        ({"price": ["0.001", "abc", "0.002"]}, {"price_not_numeric": 1}),
        ({"size": ["1.5", "lots", "2"]}, {"size_not_numeric": 1}),
        ({"price": pa.array([[1.0], [2.0], [3.0]])}, "column 'price' has type List"),
        ({"price": pa.array([{"a": 1.0}] * 3)}, "column 'price' has type Struct"),
        ({"price": [True, False, True]}, "column 'price' has type Boolean"),
        ({"trade_id": pa.array([2**64 - 1, 2**63, 7], pa.uint64())}, {}),
        ({"ts": [1_733_011_200.0, 1e30, 1_733_011_201.0]}, {"ts_overflow": 1}),
    ],
)  # fmt: skip
def test_item7_wrong_column_types_are_quarantined_or_refused_in_one_line(
    tmp_path: Path, cols: dict[str, Any], fate: dict[str, int] | str
) -> None:
    base = {"ts": [1_733_011_200, 1_733_011_201, 1_733_011_202], "symbol": ["XRPETH"] * 3,
            "price": [0.001, 0.0011, 0.0012], "size": [2.0, 3.0, 4.0],
            "side": ["buy", "sell", "buy"], "trade_id": [1, 2, 3]}  # fmt: skip
    table = pa.table({**base, **cols})
    if isinstance(fate, str):
        with pytest.raises(ImportFileError, match=fate) as e:
            _import(tmp_path, table)
        assert "\n" not in str(e.value)
        assert not (tmp_path / "store" / "ticks").exists()  # nothing written
        return
    store, rep = _import(tmp_path, table)
    assert rep.quarantine_reasons == fate
    assert rep.imported == 3 - sum(fate.values())
    if "trade_id" in cols:  # uint64 ids above int64 keep their bits (distinct, no crash)
        uids = sorted(u for (u,) in store.con.sql("SELECT uid FROM ticks").fetchall())
        assert uids == sorted([-1, -(2**63), 7])


def test_item7_text_columns_in_a_csv_are_cast_value_by_value(tmp_path: Path) -> None:
    csv = ("ts,symbol,price,size,side,trade_id\n"
           "1733011200,XRPETH,0.001,2,buy,1\n"
           "1733011201,XRPETH,n/a,2,buy,2\n"
           "1733011202,XRPETH,0.0012,,sell,3\n"
           "2024-12-01T00:00:03Z,XRPETH,0.0013,2,sell,4\n")  # fmt: skip
    (tmp_path / "t.csv").write_text(csv)
    store = open_store(tmp_path / "store", create=True)
    rep = import_file(store, tmp_path / "t.csv")
    assert rep.quarantine_reasons == {"price_not_numeric": 1, "size_not_finite": 1}
    assert _fates(store)[4] == 1_733_011_203 * NS  # ISO text in a numeric-looking column


# ------------------------------------------------------------ item 15, by hand
def test_item15_absurd_prices_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    prices = [0.001, 1e308, 5e-324, 1e-18, 1e15, 2e15]
    store, rep = _import(tmp_path, _trades(list(range(1_733_011_200, 1_733_011_206)), prices))
    assert rep.quarantine_reasons == {"price_out_of_range": 3}
    got = dict(store.con.sql("SELECT uid, price FROM ticks").fetchall())
    assert got == {1: 0.001, 4: 1e-18, 5: 1e15}


# ----------------------------------------------------------- fuzz, with oracle
_T0 = 1_733_011_200
_TS = hs.one_of(
    hs.integers(_T0 - 10**8, _T0 + 10**7),  # seconds around 2024
    hs.integers(_T0 * 10**3 - 10**11, _T0 * 10**3 + 10**10),  # ms
    hs.integers(_T0 * 10**9 - 10**17, _T0 * 10**9 + 10**16),  # ns
    hs.integers(-(2**63), 2**63 - 1),  # anything int64 can hold
    hs.sampled_from([0, 1, 20_000_000_000, 2**62, -(2**62), 9_999_999_999_999]),
)
_PRICE = hs.one_of(
    hs.floats(1e-6, 1e6),
    hs.floats(allow_nan=True, allow_infinity=True),
    hs.sampled_from([0.0, -1.0, 1e308, 5e-324, 1e-18, 1e15, 1.0000001e15]),
)


def _oracle(ts: list[int], price: list[float], size: list[float]) -> dict[int, Any]:
    """Each row's fate by the README's rules, in exact integer arithmetic."""
    import time

    hi = time.time_ns() + 86_400 * NS
    mags = sorted(abs(v) for v in ts)
    n = len(mags)
    median = mags[n // 2] if n % 2 else (mags[n // 2 - 1] + mags[n // 2]) / 2
    cls = unit_class(median)
    scale = SCALES[cls]
    fates: dict[int, Any] = {}
    last: int | None = None
    for i, (v, p, q) in enumerate(zip(ts, price, size, strict=True), start=1):
        ns = v * scale
        if unit_class(v) != cls:
            fates[i] = "q:ts_unit_mismatch"
        elif abs(v) > I64 // scale - 1:
            fates[i] = "q:ts_overflow"
        elif not LO <= ns <= hi:
            fates[i] = "q:ts_out_of_range"
        elif not math.isfinite(p):
            fates[i] = "q:price_not_finite"
        elif p <= 0:
            fates[i] = "q:price_not_positive"
        elif not 1e-18 <= p <= 1e15:
            fates[i] = "q:price_out_of_range"
        elif last is not None and ns < last:
            fates[i] = "q:ts_backwards"
        elif round(q * 10**8) >= 2**63:
            fates[i] = "q:size_overflow"
        else:
            fates[i] = ns
            last = ns
    return fates


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(rows=hs.lists(hs.tuples(_TS, _PRICE, hs.floats(0.001, 1e3)), min_size=1, max_size=25))
@example(rows=[(-(2**63), 1.0, 1.0)])  # abs(int64 min) overflowed the overflow check
def test_fuzz_every_row_is_stored_exactly_or_quarantined_with_the_rules_reason(
    rows: list[tuple[int, float, float]],
) -> None:
    ts, price, size = (list(c) for c in zip(*rows, strict=True))
    with tempfile.TemporaryDirectory() as d:
        store, rep = _import(Path(d), _trades(ts, price, size=size))
        assert rep.imported + rep.quarantined == len(rows)
        assert _fates(store) == _oracle(ts, price, size)
        stored = store.con.sql("SELECT uid, price FROM ticks").fetchall()
        assert all(p == price[int(u) - 1] for u, p in stored)  # prices stored as given


_COLUMN = hs.one_of(
    hs.lists(hs.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
    hs.lists(hs.integers(-(2**63), 2**63 - 1), min_size=3, max_size=3),
    hs.lists(hs.text(max_size=8), min_size=3, max_size=3),
    hs.lists(hs.none(), min_size=3, max_size=3),
    hs.lists(hs.booleans(), min_size=3, max_size=3),
    hs.lists(hs.lists(hs.floats(), max_size=2), min_size=3, max_size=3),
    hs.lists(hs.binary(max_size=4), min_size=3, max_size=3),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(col=hs.sampled_from(["ts", "symbol", "price", "size", "side", "trade_id"]),
       values=_COLUMN, csv=hs.booleans())  # fmt: skip
def test_fuzz_any_column_of_any_type_never_crashes(col: str, values: list[Any], csv: bool) -> None:
    """Any type in any column: a clean import, or one refusal line naming the column."""
    base: dict[str, Any] = {"ts": [1_733_011_200, 1_733_011_201, 1_733_011_202],
                            "symbol": ["XRPETH"] * 3, "price": [0.001] * 3, "size": [2.0] * 3,
                            "side": ["buy"] * 3, "trade_id": [1, 2, 3]}  # fmt: skip
    base[col] = values
    try:
        df = pl.DataFrame(base, strict=False)
    except Exception:
        return
    if csv and any(isinstance(dt, pl.List | pl.Struct | pl.Binary) for dt in df.dtypes):
        return  # CSV cannot hold nested or binary columns
    with tempfile.TemporaryDirectory() as d:
        try:
            store, rep = _import(Path(d), df, "f.csv" if csv else "f.parquet")
        except ImportFileError as exc:  # a refusal is fine if it is one line
            assert "\n" not in str(exc)  # noqa: PT017
            return
        assert rep.imported + rep.quarantined + rep.skipped_duplicates == 3
        for (raw,) in store.con.sql("SELECT raw FROM quarantine").fetchall():
            json.loads(raw)  # the refused row is kept, readable
