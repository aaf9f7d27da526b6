# SPDX-License-Identifier: Apache-2.0
"""Replay of two strongSwan 6.0.6 hybrid sessions through the Keymat API.

Each capture in tests/vectors/strongswan holds every datagram of one session plus the
secrets strongSwan logged. With only the logged key exchange secrets and values read
from the datagrams (nonces, SPIs, IDs), this reproduces every logged SKEYSEED, SK_*,
IntAuth and Child SA key of the initial exchanges (IKE_SA_INIT, one IKE_INTERMEDIATE
with ML-KEM-768, IKE_AUTH) and of both Child SA and both IKE SA rekeys (CREATE_CHILD_SA
plus IKE_FOLLOWUP_KE); it also checks both PSK AUTH payloads and opens every ESP packet
with the derived Child SA keys.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from ike_capture import (
    AUTH,
    IDI,
    IDR,
    NONCE,
    SA,
    Datagram,
    datagram,
    inner_payloads,
    open_message,
    plain_payloads,
)
from kat_support import load

from pqike.crypto import Backend, Keymat, suites

# capture file -> (prf_id, encr_id, encr_key_bits) of its IKE and ESP proposals
SUITES = {
    "x25519-mlkem768.json": (6, 20, 256),
    "ecp256-mlkem768.json": (5, 20, 128),
}
SK_NAMES = {
    "SKEYSEED": "skeyseed",
    "Sk_d secret": "sk_d",
    "Sk_ai secret": "sk_ai",
    "Sk_ar secret": "sk_ar",
    "Sk_ei secret": "sk_ei",
    "Sk_er secret": "sk_er",
    "Sk_pi secret": "sk_pi",
    "Sk_pr secret": "sk_pr",
}


@dataclass
class Session:
    """The parsed capture: IKE messages by (SPIi, message ID, response), ESP by SPI."""

    ike: dict[tuple[bytes, int, bool], list[Datagram]] = field(
        default_factory=lambda: defaultdict(list)
    )
    esp: dict[bytes, list[Datagram]] = field(default_factory=lambda: defaultdict(list))
    ike_spis: list[tuple[bytes, bytes]] = field(default_factory=list)


def _session(capture: dict[str, Any]) -> Session:
    s = Session()
    for stage in ("initial", "rekey"):
        for entry in capture["captures"][stage]:
            d = datagram(entry)
            if d.is_esp:
                s.esp[d.data[:4]].append(d)
                continue
            s.ike[(d.spi_i, d.message_id, d.is_response)].append(d)
            if d.is_response and all(d.spi_i != i for i, _ in s.ike_spis):
                # SPIs of each IKE SA, in order of appearance, from datagram headers
                s.ike_spis.append((d.spi_i, d.spi_r))
    return s


def _exchange(
    s: Session, keymat: Keymat, spi_i: bytes, mid: int
) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Open request and response of one exchange; return their payloads by type."""
    out = []
    for response in (False, True):
        msgs = s.ike[(spi_i, mid, response)]
        sender_is_initiator = bool(msgs[0].data[19] & 0x08)
        out.append(inner_payloads(msgs, keymat.cipher(sender_is_initiator)))
    return out[0], out[1]


def _sa_spi(sa_body: bytes) -> bytes:
    """SPI of the first proposal of an SA payload (RFC 7296 §3.3.1)."""
    spi_size = sa_body[6]
    return sa_body[8 : 8 + spi_size]


class Checker:
    """Compares derived values with the logged secrets of one stage, in order."""

    def __init__(self, stage: str, secrets: list[dict[str, Any]]) -> None:
        self.stage = stage
        self.secrets = secrets
        self.pos = 0
        self.checked = 0

    def take(self, name: str) -> bytes:
        """Return the next logged secret, which must be called ``name``."""
        entry = self.secrets[self.pos]
        assert entry["name"] == name, (self.stage, self.pos, entry["name"], name)
        self.pos += 1
        return bytes.fromhex(entry["hex"])

    def expect(self, name: str, value: bytes) -> None:
        """The next logged secret is ``name`` and equals ``value``."""
        logged = self.take(name)
        assert value.hex() == logged.hex(), f"{self.stage}: {name} #{self.pos - 1}"
        self.checked += 1

    def shared_secrets(self) -> list[bytes]:
        """The KE secret and, if logged non-empty, the additional KE secret."""
        out = [self.take("key exchange secret")]
        extra = self.take("additional key exchange secret")
        return out + ([extra] if extra else [])

    def keymat(self, keymat: Keymat) -> None:
        """SKEYSEED and the SK_* entries that follow, against ``keymat``."""
        exported = keymat.export_secrets()
        while self.pos < len(self.secrets):
            name = self.secrets[self.pos]["name"]
            if name not in SK_NAMES:
                break
            self.expect(name, exported[SK_NAMES[name]])

    def done(self) -> None:
        """Every logged secret of the stage was used."""
        assert self.pos == len(self.secrets), (self.stage, self.pos)


def _check_esp(
    backend: Backend, s: Session, spi: bytes, key: bytes, encr_id: int
) -> int:
    """Open every captured ESP packet of one SA with ``key``; return how many."""
    sa = backend.esp_sa(int.from_bytes(spi, "big"), encr_id, key)
    packets = s.esp[spi]
    assert packets, spi.hex()
    for p in packets:
        payload, next_header = sa.open(p.data)
        assert next_header == 4  # tunnel mode, IPv4 inner packet
        assert payload[0] >> 4 == 4
    return len(packets)


def _child(
    backend: Backend,
    s: Session,
    keymat: Keymat,
    chk: Checker,
    req: dict[int, bytes],
    resp: dict[int, bytes],
    shared: list[bytes],
    encr: tuple[int, int],
) -> None:
    """KEYMAT of one Child SA (RFC 7296 §2.17, RFC 9370 §2.2.4) and its ESP traffic."""
    ni, nr = req[NONCE], resp[NONCE]
    seed = shared[0] + ni + nr + b"".join(shared[1:]) if shared else ni + nr
    chk.expect("seed", seed)
    n = suites.encr_key_length(*encr)
    keymat_bytes = keymat.child_keymat(2 * n, ni, nr, shared)
    key_i, key_r = keymat_bytes[:n], keymat_bytes[n:]
    chk.expect("encryption initiator key", key_i)
    chk.expect("encryption responder key", key_r)
    # the response's SA carries the responder's inbound SPI (initiator -> responder)
    _check_esp(backend, s, _sa_spi(resp[SA]), key_i, encr[0])
    _check_esp(backend, s, _sa_spi(req[SA]), key_r, encr[0])


def _initial(
    backend: Backend, s: Session, chk: Checker, capture: dict[str, Any], suite: Any
) -> Keymat:
    prf_id, encr_id, bits = suite
    spi_i, spi_r = s.ike_spis[0]
    init_req, init_resp = s.ike[(spi_i, 0, False)][0], s.ike[(spi_i, 0, True)][0]
    ni, nr = plain_payloads(init_req)[NONCE], plain_payloads(init_resp)[NONCE]
    shared = chk.shared_secrets()
    chk.expect("nonces", ni + nr)
    km = backend.keymat_derive(
        prf_id, encr_id, bits, 0, shared[0], ni, nr, spi_i, spi_r
    )
    chk.keymat(km)
    # IKE_INTERMEDIATE (message ID 1): IntAuth over both messages with SK_p*(0)
    a_i, p_i = open_message(km.cipher(True), s.ike[(spi_i, 1, False)])
    a_r, p_r = open_message(km.cipher(False), s.ike[(spi_i, 1, True)])
    int_i = km.int_auth(True, b"", a_i, p_i)
    int_r = km.int_auth(False, b"", a_r, p_r)
    chk.expect("IntAuth_N = prf(Sk_px, data)", int_i)
    chk.expect("IntAuth_N = prf(Sk_px, data)", int_r)
    mlkem = chk.shared_secrets()
    chk.expect("nonces", ni + nr)
    km = km.update_after_ke(mlkem[0])  # RFC 9370 §2.2.2
    chk.keymat(km)
    # IKE_AUTH (message ID 2): PSK AUTH of both sides, RFC 9242 §3.3.3 IntAuth
    req, resp = _exchange(s, km, spi_i, 2)
    int_auth = int_i + int_r + struct.pack(">I", 2)
    psk = capture["config"]["psk"].encode()
    auth_i = km.psk_auth(True, psk, init_req.data, nr, req[IDI], int_auth)
    auth_r = km.psk_auth(False, psk, init_resp.data, ni, resp[IDR], int_auth)
    assert req[AUTH][4:] == auth_i
    assert resp[AUTH][4:] == auth_r
    req[NONCE], resp[NONCE] = ni, nr  # Child SA of IKE_AUTH uses the SA_INIT nonces
    _child(backend, s, km, chk, req, resp, [], (encr_id, bits))
    return km


def _rekey_ike(
    backend: Backend,
    s: Session,
    km: Keymat,
    chk: Checker,
    sa: int,
    mid: int,
    suite: Any,
) -> Keymat:
    """IKE SA rekey (RFC 7296 §2.18, RFC 9370 §2.2.4) with new SPIs from headers."""
    prf_id, encr_id, bits = suite
    new_spis = s.ike_spis[sa + 1]
    req, resp = _exchange(s, km, s.ike_spis[sa][0], mid)
    assert (_sa_spi(req[SA]), _sa_spi(resp[SA])) == new_spis
    shared = chk.shared_secrets()
    chk.expect("nonces", req[NONCE] + resp[NONCE])
    new = km.rekey_ike(
        shared, req[NONCE], resp[NONCE], *new_spis, prf_id, encr_id, bits, 0
    )
    chk.keymat(new)
    return new


@pytest.mark.parametrize("name", list(SUITES))
def test_strongswan_session_keys(backend: Backend, name: str) -> None:
    """Every logged secret of the session, stage by stage."""
    capture = load(f"strongswan/{name}")
    suite = SUITES[name]
    s = _session(capture)
    assert len(s.ike_spis) == 3
    stages = {st["stage"]: st["secrets"] for st in capture["stages"]}
    total = 0

    chk = Checker("initiate", stages["initiate"])
    sa1 = _initial(backend, s, chk, capture, suite)
    chk.done()
    total += chk.checked

    def child_rekey(stage: str, km: Keymat, sa: int, mid: int) -> None:
        nonlocal total
        chk = Checker(stage, stages[stage])
        req, resp = _exchange(s, km, s.ike_spis[sa][0], mid)
        shared = chk.shared_secrets()
        _child(backend, s, km, chk, req, resp, shared, suite[1:])
        chk.done()
        total += chk.checked

    def ike_rekey(stage: str, km: Keymat, sa: int, mid: int) -> Keymat:
        nonlocal total
        chk = Checker(stage, stages[stage])
        new = _rekey_ike(backend, s, km, chk, sa, mid, suite)
        chk.done()
        total += chk.checked
        return new

    child_rekey("rekey child from A", sa1, 0, 3)
    sa2 = ike_rekey("rekey ike from A", sa1, 0, 6)
    child_rekey("rekey child from B", sa2, 1, 0)
    sa3 = ike_rekey("rekey ike from B", sa2, 1, 3)
    # the newest IKE SA opens the last messages of the capture (its first exchange)
    _exchange(s, sa3, s.ike_spis[2][0], 0)
    assert stages["terminate"] == []
    # 19 values of the initial exchanges, 3 per Child SA rekey, 7 per IKE SA rekey
    assert total == 39
