"""One import, end to end: read, detect, validate, deduplicate, commit.

The whole import is one store transaction, so a failure at any point (a corrupt
file, a full disk, a kill) leaves the store exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from data import interrupts
from data.errors import ImportFileError
from data.importers.formats import FORMATS, Format, detect
from data.importers.validate import REASON_DETAIL, validate
from data.schemas import check_source_name
from data.store import EventStore, Transaction

Progress = Callable[[str], None]
"""Receives a short description of the phase an import has reached."""

_I64_MAX = float(2**63 - 1)


@dataclass
class ImportReport:
    """What one import did; `--json` prints it."""

    imported: int
    quarantined: int
    skipped_duplicates: int
    store: str
    file: str
    format: str
    source: str
    rows_in_file: int
    ticks: int = 0
    signals: int = 0
    mints_added: int = 0
    already_imported: bool = False
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the first four keys are the documented contract."""
        return asdict(self)


def file_sha256(path: Path) -> str:
    """Content hash of a file, streamed (the idempotency key of an import)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_source(path: Path) -> pl.DataFrame:
    """Read a Parquet or CSV file, turning any read failure into a clear error."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        # Every CSV column is read as text and cast value by value later, so one odd
        # value deep in a file quarantines its row instead of failing the file.
        df = pl.read_csv(path, infer_schema=False) if suffix == ".csv" else pl.read_parquet(path)
    except Exception as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise ImportFileError(
            f"{path}: cannot read it as {kind} ({type(exc).__name__}: {exc}); "
            "the file looks corrupt or truncated, and the store was not changed"
        ) from exc
    if df.height == 0:
        raise ImportFileError(f"{path}: the file has no rows")
    return df


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _raw_json(df: pl.DataFrame, row_nos: np.ndarray) -> list[str]:
    rows = df[row_nos.tolist()].to_dicts() if len(row_nos) else []
    return [
        json.dumps({k: _json_safe(v) for k, v in r.items()}, default=str, sort_keys=True)
        for r in rows
    ]


def _already_imported(tx: Transaction, sha: str) -> bool:
    for chunk in tx.scan("imports", ["content_sha256"]):
        if sha in set(chunk["content_sha256"].tolist()):
            return True
    return False


def _present_in_store(tx: Transaction, source: str, valid: pl.DataFrame) -> pl.Series:
    """Boolean per valid row: is its (mint_id, uid) already in the store?

    Rows of instruments are looked up in `ticks`; rows without a mint (reference
    prices, global signals with mint id -1) in `signals`.
    """
    if valid.height == 0:
        return pl.Series([], dtype=pl.Boolean)
    ts = valid["ts_ns"]
    ids = valid["mint_id"].cast(pl.Int32).fill_null(-1)
    family = "signals" if bool((ids == -1).all()) else "ticks"
    seen = [
        pl.DataFrame({"mint_id": c["mint_id"], "uid": c["uid"]})
        for c in tx.scan(
            family,
            ["mint_id", "uid"],
            start_ts=int(ts.min()),  # type: ignore[arg-type]
            end_ts=int(ts.max()) + 1,  # type: ignore[arg-type]
            mint_ids=ids.unique().to_numpy(),
            source=source,
        )
    ]
    if not seen:
        return pl.Series([False] * valid.height)
    existing = pl.concat(seen).unique().with_columns(present=pl.lit(True))
    keyed = pl.DataFrame({"mint_id": ids, "uid": valid["uid"]}).join(
        existing, on=["mint_id", "uid"], how="left", maintain_order="left"
    )
    return keyed["present"].fill_null(False)


def import_file(
    store: EventStore,
    path: str | Path,
    *,
    source: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file into `store` and report what happened.

    Raises ImportFileError for unreadable or unrecognised files (store unchanged).
    """
    say = progress or (lambda _msg: None)
    if source is not None:
        check_source_name(source)  # fail before doing any work
    p = Path(path)
    say(f"reading {p.name}")
    df = read_source(p)
    sha = file_sha256(p)
    fmt = detect(set(df.columns))
    if fmt is None:
        known = "; ".join(f"{f.name} ({f.columns})" for f in FORMATS)
        raise ImportFileError(
            f"{p}: unrecognised columns {sorted(df.columns)}; Clanka imports {known} "
            "(see README, 'Import formats')"
        )
    src = check_source_name(source or fmt.default_source(df))
    report = ImportReport(
        imported=0,
        quarantined=0,
        skipped_duplicates=0,
        store=str(store.root),
        file=str(p),
        format=fmt.name,
        source=src,
        rows_in_file=df.height,
    )
    say(f"validating {df.height:,} {fmt.name} rows")
    try:
        norm = fmt.normalise(df)
    except ImportFileError as exc:
        raise ImportFileError(f"{p}: {exc}") from None
    checked = validate(norm.rows, liquidity_required=norm.liquidity_required)
    interrupts.check()
    with store.transaction() as tx:
        if _already_imported(tx, sha):
            report.already_imported = True
            report.skipped_duplicates = df.height
            return report
        say("checking for rows the store already has")
        _commit_rows(tx, fmt, df, checked, src, sha, p, report)
    say("committed")
    return report


def _commit_rows(
    tx: Transaction,
    fmt: Format,
    df: pl.DataFrame,
    checked: pl.DataFrame,
    src: str,
    sha: str,
    path: Path,
    report: ImportReport,
) -> None:
    now = time.time_ns()
    valid = checked.filter(pl.col("reason").is_null())
    first_ts = int(valid["ts_ns"].min()) if valid.height else now  # type: ignore[arg-type]
    recs = tx.register_mints(fmt.mint_specs(valid), source=src, ts_ns=first_ts)
    mapping = pl.DataFrame(
        {
            "mint": [m for m in recs],
            "mint_id": [r.mint_id for r in recs.values()],
            "scale": [float(10**r.decimals) for r in recs.values()],
        },
        schema={"mint": pl.String, "mint_id": pl.Int32, "scale": pl.Float64},
    )
    valid = valid.join(mapping, on="mint", how="left", maintain_order="left")
    # A size that would not fit int64 raw units cannot be stored: quarantine it.
    overflow = valid.filter((pl.col("size") * pl.col("scale")) >= _I64_MAX)["row_no"]
    checked = checked.with_columns(
        reason=pl.when(pl.col("row_no").is_in(overflow.implode()))
        .then(pl.lit("size_overflow"))
        .otherwise(pl.col("reason"))
    )
    valid = valid.filter(~pl.col("row_no").is_in(overflow.implode()))
    present = _present_in_store(tx, src, valid)
    fresh = valid.filter(~present)
    report.skipped_duplicates = int(present.sum())
    report.imported = fresh.height
    ticks = fmt.ticks(fresh)
    report.ticks = tx.append("ticks", ticks.to_arrow(), source=src).count
    sig = fmt.signals(fresh)
    if sig is not None and sig.height:
        report.signals = tx.append("signals", sig.to_arrow(), source=src).count
    bad = checked.filter(pl.col("reason").is_not_null())
    report.quarantined = bad.height
    report.quarantine_reasons = dict(
        sorted(bad.group_by("reason").len().iter_rows(), key=lambda kv: (-kv[1], kv[0]))
    )
    if bad.height:
        row_nos = bad["row_no"].to_numpy()
        tx.append(
            "quarantine",
            {
                "ts_ns": bad["ts_ns"].fill_null(now).to_numpy(),
                "recorded_ts_ns": np.full(bad.height, now, np.int64),
                "target_family": ["ticks"] * bad.height,
                "reason": bad["reason"],
                "detail": [REASON_DETAIL.get(r, r) for r in bad["reason"].to_list()],
                "file": [path.name] * bad.height,
                "row_no": row_nos,
                "raw": _raw_json(df, row_nos),
            },
            source=src,
        )
    report.mints_added = tx.mints_added
    tx.append(
        "imports",
        {
            "ts_ns": [now],
            "content_sha256": [sha],
            "path": [str(path.resolve())],
            "format": [fmt.name],
            "source": [src],
            "rows_in_file": [report.rows_in_file],
            "imported": [report.imported],
            "quarantined": [report.quarantined],
            "skipped_duplicates": [report.skipped_duplicates],
            "ticks": [report.ticks],
            "signals": [report.signals],
            "mints_added": [report.mints_added],
        },
    )
