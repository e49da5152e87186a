"""The manifest: the single file whose atomic replacement commits a write.

A segment file is part of the store only once the manifest lists it. Appends and
compactions write their segments first, invisibly, and then publish a new manifest
with one atomic rename, so any crash leaves exactly the previous or the next state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from data.errors import StoreError
from data.fsio import write_durably

MANIFEST_NAME = "_manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SegmentInfo:
    """A committed Parquet segment and the statistics readers prune with."""

    path: str
    """Path relative to the store root, with '/' separators."""
    rows: int
    first_seq: int
    last_seq: int
    min_ts: int
    max_ts: int
    bytes: int
    sha256: str = ""
    """SHA-256 of the file's bytes ("" for segments written before hashes were kept)."""
    footer_sha256: str = ""
    """SHA-256 of the Parquet footer (metadata, its length, the magic): checked on every
    open, because a damaged footer can crash pyarrow ("" for older segments)."""

    @property
    def partition_dir(self) -> str:
        """The directory holding the segment (one Hive partition)."""
        return self.path.rsplit("/", 1)[0]


@dataclass
class FamilyState:
    """A family's committed segments and the next `seq` to hand out."""

    next_seq: int = 0
    segments: list[SegmentInfo] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Committed row count (the sum over live segments)."""
        return sum(s.rows for s in self.segments)


@dataclass
class Manifest:
    """The committed state of a whole store at one generation."""

    generation: int = 0
    families: dict[str, FamilyState] = field(default_factory=dict)

    def family(self, name: str) -> FamilyState:
        """Return a family's state, empty if nothing was ever committed to it."""
        return self.families.get(name, FamilyState())

    def with_changes(
        self,
        added: Mapping[str, list[SegmentInfo]],
        removed: Mapping[str, Iterable[str]],
        next_seq: Mapping[str, int],
    ) -> Manifest:
        """Return the next-generation manifest after adding and retiring segments."""
        fams = {n: FamilyState(s.next_seq, list(s.segments)) for n, s in self.families.items()}
        for name in set(added) | set(removed) | set(next_seq):
            st = fams.setdefault(name, FamilyState())
            gone = set(removed.get(name, ()))
            st.segments = [s for s in st.segments if s.path not in gone] + added.get(name, [])
            st.next_seq = max(st.next_seq, next_seq.get(name, st.next_seq))
        return replace(self, generation=self.generation + 1, families=fams)

    def to_json(self) -> bytes:
        """Serialise deterministically (sorted keys) for durable storage."""
        doc: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "generation": self.generation,
            "families": {
                n: {"next_seq": s.next_seq, "segments": [asdict(x) for x in s.segments]}
                for n, s in sorted(self.families.items())
            },
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: Path) -> Manifest:
        """Parse a manifest, refusing formats newer than this code understands."""
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT_VERSION:
                raise StoreError(
                    f"{where}: store format {doc.get('format')!r} is not supported "
                    f"(this Clanka reads format {FORMAT_VERSION})"
                )
            fams = {
                n: FamilyState(int(s["next_seq"]), [SegmentInfo(**seg) for seg in s["segments"]])
                for n, s in doc["families"].items()
            }
            return cls(generation=int(doc["generation"]), families=fams)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{where}: manifest is unreadable ({exc})") from exc


def load_manifest(root: Path) -> Manifest:
    """Read the committed manifest of the store at `root`."""
    path = root / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoreError(f"{root} is not a Clanka store (no {MANIFEST_NAME})") from exc
    return Manifest.from_json(raw, path)


def save_manifest(root: Path, manifest: Manifest) -> None:
    """Commit `manifest`: durable temp write, then atomic replace of the old one."""
    payload = manifest.to_json()
    write_durably(root / MANIFEST_NAME, lambda p: p.write_bytes(payload), replace=True)
