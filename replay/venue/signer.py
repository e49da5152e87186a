"""The signer: the one component that holds the wallet's key.

It loads a `solana-keygen` keypair file (a JSON array of 64 byte values) and refuses it
unless it is a regular file (not a symlink) owned by this user with no permission for
group or others (mode 0600 or 0400). It signs the transactions it is handed and gives
out only the public key: no method returns the key, its repr names only the public key,
it cannot be pickled or copied, and its error messages never quote the file. Nothing
else in Clanka reads the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import NoReturn

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from replay.venue.errors import CRITICAL, VenueError


def _refuse(path: Path, why: str) -> NoReturn:
    raise VenueError("keypair_refused", f"keypair file {path}: {why}", CRITICAL)


def _read_key_file(path: Path) -> bytes:
    try:
        st = os.lstat(path)
    except OSError as exc:
        _refuse(path, exc.strerror or "cannot be read")
    if stat.S_ISLNK(st.st_mode):
        _refuse(path, "is a symlink; point --keypair at the file itself")
    if not stat.S_ISREG(st.st_mode):
        _refuse(path, "is not a regular file")
    if st.st_uid != os.geteuid():
        _refuse(path, f"is owned by uid {st.st_uid}, not by you (uid {os.geteuid()})")
    if st.st_mode & 0o077:
        _refuse(path, f"has mode {stat.S_IMODE(st.st_mode):04o}; run `chmod 600 {path}`")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read(4096)


class Signer:
    """Signs transactions with the wallet's key; exposes only the public key."""

    __slots__ = ("__key", "pubkey")

    def __init__(self, key: Keypair) -> None:
        self.__key = key
        self.pubkey: Pubkey = key.pubkey()

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load a keypair file after the ownership and permission checks."""
        raw = _read_key_file(path)
        try:
            values = json.loads(raw)
            ok = (
                isinstance(values, list)
                and len(values) == 64
                and all(isinstance(v, int) and 0 <= v <= 255 for v in values)
            )
        except ValueError:
            ok = False
        if not ok:
            _refuse(path, "is not a keypair file (a JSON array of 64 numbers, as written by "
                    "solana-keygen)")  # fmt: skip
        try:
            return cls(Keypair.from_bytes(bytes(values)))
        except ValueError:
            _refuse(path, "holds 64 numbers that are not a valid keypair")

    def sign(self, unsigned: bytes) -> bytes:
        """Sign a serialized unsigned transaction whose fee payer is this wallet."""
        tx = VersionedTransaction.from_bytes(unsigned)
        if tx.message.account_keys[0] != self.pubkey:
            payer = tx.message.account_keys[0]
            why = f"the transaction to sign is paid by {payer}, not by this wallet"
            raise VenueError("not_our_transaction", why, CRITICAL)
        return bytes(VersionedTransaction(tx.message, [self.__key]))

    def __repr__(self) -> str:
        return f"Signer({self.pubkey})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Signer cannot be pickled or copied")

    def __copy__(self) -> NoReturn:
        raise TypeError("a Signer cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("a Signer cannot be copied")
