"""The signer refuses key files anyone else could read or swap, and gives out no key."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from replay.venue.errors import VenueError
from replay.venue.signer import Signer


def _file(tmp: Path, key: Keypair, mode: int = 0o600, name: str = "id.json") -> Path:
    p = tmp / name
    p.write_text(json.dumps(list(bytes(key))))
    p.chmod(mode)
    return p


def _unsigned(payer: Keypair) -> bytes:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(),
                                 lamports=1))  # fmt: skip
    msg = MessageV0.try_compile(payer.pubkey(), [ix], [], Hash.new_unique())
    return bytes(VersionedTransaction.populate(msg, [Signature.default()]))


def test_a_private_key_file_signs_what_its_wallet_pays_for(tmp_path: Path) -> None:
    key = Keypair()
    s = Signer.from_file(_file(tmp_path, key))
    assert s.pubkey == key.pubkey()
    signed = VersionedTransaction.from_bytes(s.sign(_unsigned(key)))
    assert signed.verify_with_results() == [True]
    with pytest.raises(VenueError, match="not by this wallet"):
        s.sign(_unsigned(Keypair()))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    key = Keypair()
    p = _file(tmp_path, key, mode)
    with pytest.raises(VenueError) as e:
        Signer.from_file(p)
    assert str(e.value) == f"keypair file {p}: has mode {mode:04o}; run `chmod 600 {p}`"
    assert e.value.category == "critical"


def test_symlinks_other_owners_and_non_keys_are_refused_without_quoting_the_file(
    tmp_path: Path,
) -> None:
    key = Keypair()
    real = _file(tmp_path, key)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(VenueError, match="is a symlink"):
        Signer.from_file(link)
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3, secret-looking-text]")
    junk.chmod(0o600)
    with pytest.raises(VenueError) as e:
        Signer.from_file(junk)
    assert "secret-looking-text" not in str(e.value) and "not a keypair file" in str(e.value)
    with pytest.raises(VenueError, match="No such file"):
        Signer.from_file(tmp_path / "missing.json")
    if os.geteuid() == 0:  # only root can give a file away
        other = _file(tmp_path, key, name="other.json")
        os.chown(other, 65534, 65534)
        with pytest.raises(VenueError, match="is owned by uid 65534, not by you"):
            Signer.from_file(other)


def test_the_signer_gives_out_no_key(tmp_path: Path) -> None:
    key = Keypair()
    s = Signer.from_file(_file(tmp_path, key))
    assert repr(s) == f"Signer({key.pubkey()})" and str(key) not in repr(s)
    for attempt in (lambda: pickle.dumps(s), lambda: copy.copy(s), lambda: copy.deepcopy(s)):
        with pytest.raises(TypeError, match="cannot be"):
            attempt()
    public = [n for n in dir(s) if not n.startswith("_")]
    assert public == ["from_file", "pubkey", "sign"]
