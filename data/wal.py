"""The write-ahead log of a live run: every processed batch, durable before Parquet.

A paper (or live) run appends one record per kernel batch: the inputs exactly as the
kernel saw them, every output row, and the batch's side events (quarantined messages,
feed gaps, timings). A record is acknowledged once `sync()` (fsync) returns; the run
rolls acknowledged records into Parquet segments now and then, and a crash at any
moment loses no acknowledged record: recovery reads the log back, rolls what Parquet
lacks, and truncates a torn last record (one whose length or CRC does not check out).

Record: magic "CKW1", payload length (u32), CRC-32 of the payload (u32), batch number
(u64), then the payload: a fixed header, the input columns and output rows as raw
little-endian arrays, and the side events as JSON.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import StoreFullError
from data.fsio import is_disk_full

MAGIC = b"CKW1"
_REC = struct.Struct("<4sIIQ")
_HEAD = struct.Struct("<qqqqqI")  # first_run_seq, n_mints, n_in, n_out, n_of_cols, extras len
INPUT_COLUMNS = (
    ("kind", np.int64), ("ts", np.int64), ("seq", np.int64), ("mint", np.int64),
    ("price", np.float64), ("size", np.int64), ("liq", np.float64), ("sig_kind", np.int64),
    ("sig_value", np.float64), ("chain_ts", np.int64), ("recv_ns", np.int64), ("uid", np.int64),
)  # fmt: skip
"""The kernel's nine input columns, then the feed's chain time, receive time and uid."""
ROW = {name: k for k, (name, _) in enumerate(INPUT_COLUMNS)}
"""Each input column's row in an input block (`input_block`)."""
_NAMES = tuple(name for name, _ in INPUT_COLUMNS)
_FLOAT_ROWS = tuple(k for k, (_, dt) in enumerate(INPUT_COLUMNS) if dt is np.float64)


def input_block(n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A zeroed (12, n) int64 block whose rows are the input columns, and the columns.

    The columns are views of its rows (the float ones reinterpreted as float64), so the
    block's bytes are the record's input section as they are: `encode` writes it with
    one copy instead of twelve.
    """
    block = np.zeros((len(INPUT_COLUMNS), n), np.int64)
    rows = list(block)
    floats = block.view(np.float64)
    for k in _FLOAT_ROWS:
        rows[k] = floats[k]
    return block, dict(zip(_NAMES, rows, strict=True))


@dataclass
class WalBatch:
    """One processed batch: inputs, outputs and side events."""

    batch_no: int
    first_run_seq: int
    n_mints: int
    """Mints the kernel had room for when it processed this batch (the registry size)."""
    inputs: dict[str, np.ndarray]
    out_i: np.ndarray
    out_f: np.ndarray
    extras: dict[str, Any] = field(default_factory=dict)
    block: np.ndarray | None = None
    """The `input_block` the inputs are views of, if they are (a faster encode)."""

    @property
    def n_in(self) -> int:
        """Input events in the batch."""
        return len(self.inputs["ts"])

    def input_rows(self) -> np.ndarray:
        """The inputs as an input block: its own, or its columns stacked into one.

        Float columns are kept as their bits (int64 view): the block's bytes are the
        record's input section, and its rows the columns.
        """
        n = self.n_in
        if self.block is not None and self.block.shape == (len(INPUT_COLUMNS), n):
            return self.block
        cols = [np.ascontiguousarray(self.inputs[name], dtype=dt).view(np.int64)
                for name, dt in INPUT_COLUMNS]  # fmt: skip
        return np.stack(cols).reshape(len(INPUT_COLUMNS), n)


_TIMINGS = ("first_recv_ns", "decided_ns")


def extras_json(extras: dict[str, Any]) -> bytes:
    """The side events as compact JSON; a plain batch's two timings formatted directly.

    Byte for byte what `json.dumps(extras, separators=(",", ":"))` gives (a test holds
    it to that): the usual batch carries nothing but its two integer timings, and
    formatting them costs a tenth of the general encoder.
    """
    if len(extras) == 2 and tuple(extras) == _TIMINGS:
        a, b = extras["first_recv_ns"], extras["decided_ns"]
        if type(a) is int and type(b) is int:
            return b'{"first_recv_ns":%d,"decided_ns":%d}' % (a, b)
    return json.dumps(extras, separators=(",", ":")).encode()


def encode(b: WalBatch) -> bytes:
    """A batch as one log record."""
    extras = extras_json(b.extras)
    n_in, n_out = b.n_in, len(b.out_i)
    parts = [_HEAD.pack(b.first_run_seq, b.n_mints, n_in, n_out, b.out_i.shape[1], len(extras))]
    parts.append(b.input_rows().tobytes())
    parts.append(np.ascontiguousarray(b.out_i, dtype=np.int64).tobytes())
    parts.append(np.ascontiguousarray(b.out_f, dtype=np.float64).tobytes())
    parts.append(extras)
    payload = b"".join(parts)
    return _REC.pack(MAGIC, len(payload), zlib.crc32(payload), b.batch_no) + payload


def decode(batch_no: int, payload: bytes, n_out_f: int) -> WalBatch:
    """A record's payload back into a batch (`n_out_f`: output float columns)."""
    first_run_seq, n_mints, n_in, n_out, n_oi, n_ex = _HEAD.unpack_from(payload)
    pos = _HEAD.size
    block, inputs = input_block(n_in)
    block[:] = np.frombuffer(payload, np.int64, len(INPUT_COLUMNS) * n_in, pos).reshape(
        len(INPUT_COLUMNS), n_in
    )
    pos += 8 * len(INPUT_COLUMNS) * n_in
    out_i = np.frombuffer(payload, np.int64, n_out * n_oi, pos).reshape(n_out, n_oi).copy()
    pos += 8 * n_out * n_oi
    out_f = np.frombuffer(payload, np.float64, n_out * n_out_f, pos).reshape(n_out, n_out_f).copy()
    pos += 8 * n_out * n_out_f
    extras = json.loads(payload[pos : pos + n_ex])
    return WalBatch(batch_no, first_run_seq, n_mints, inputs, out_i, out_f, extras, block)


class WalWriter:
    """Appends records to one log file; `sync` makes everything appended so far durable."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _fsync_dir(path.parent)
        self.unsynced = 0

    def append(self, b: WalBatch) -> None:
        """Write one record (in the OS's hands, not yet durable)."""
        data = encode(b)
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            raise self._failed(exc) from exc
        self.unsynced += 1

    def sync(self) -> None:
        """fsync: every record appended so far is acknowledged."""
        if self.unsynced:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise self._failed(exc) from exc
            self.unsynced = 0

    def _failed(self, exc: OSError) -> Exception:
        """A full disk as one clear error (a torn record is cut off at recovery)."""
        if is_disk_full(exc):
            return StoreFullError(
                f"disk full: the write-ahead log {self.path} cannot grow; the run stopped, "
                "acknowledged batches are safe and a restart with the same --run-id continues"
            )
        return exc

    def close(self) -> None:
        """Sync and close."""
        self.sync()
        os.close(self._fd)


def read_log(path: Path, n_out_f: int) -> tuple[list[WalBatch], int, int]:
    """Every whole record of a log file, the byte length they span, and the file size.

    Reading stops at the first record that is short or fails its magic or CRC: a
    crash can only tear the last one, which was never acknowledged.
    """
    data = path.read_bytes()
    out: list[WalBatch] = []
    pos = 0
    while pos + _REC.size <= len(data):
        magic, length, crc, batch_no = _REC.unpack_from(data, pos)
        end = pos + _REC.size + length
        if magic != MAGIC or end > len(data):
            break
        payload = data[pos + _REC.size : end]
        if zlib.crc32(payload) != crc:
            break
        out.append(decode(batch_no, payload, n_out_f))
        pos = end
    return out, pos, len(data)


def truncate_torn(path: Path, good: int) -> None:
    """Cut a torn tail off a log so appends continue after the last whole record."""
    with path.open("r+b") as f:
        f.truncate(good)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
