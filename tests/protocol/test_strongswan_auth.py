# SPDX-License-Identifier: Apache-2.0
"""Replay strongSwan's x25519 + ML-KEM-768 transcript through the engine's logic.

From the capture's stage secrets (the two key exchange secrets) the engine's key
schedule, its RFC 7383 reassembly of the fragmented IKE_INTERMEDIATE request, its
RFC 9242 IntAuth chains and its IKE_AUTH PSK computation must reproduce exactly the
AUTH payloads strongSwan sent (tests/vectors/strongswan/*.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pqike.crypto import Backend
from pqike.ikev2.codec.header import decode_header
from pqike.ikev2.codec.message import decode_message
from pqike.ikev2.codec.payloads import AuthPayload, IdiPayload, IdrPayload, NoncePayload
from pqike.ikev2.manager import Manager
from pqike.ikev2.tasks.base import Received
from pqike.ikev2.tasks.ike_auth import int_auth_octets, psk_auth

VECTORS = Path(__file__).parents[1] / "vectors" / "strongswan"

# transcript -> (PRF, ENCR, key bits) of its IKE proposal
SUITES = {
    "x25519-mlkem768.json": (6, 20, 256),  # aes256gcm16-prfsha384-x25519-ke1_mlkem768
    "ecp256-mlkem768.json": (5, 20, 128),  # aes128gcm16-prfsha256-ecp256-ke1_mlkem768
}


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())  # type: ignore[no-any-return]


def _ike(entry: dict[str, str]) -> bytes:
    raw = bytes.fromhex(entry["hex"])
    return raw[4:] if raw[:4] == bytes(4) else raw


def _secrets(vector: dict[str, Any], name: str) -> list[bytes]:
    return [
        bytes.fromhex(s["hex"])
        for s in vector["stages"][0]["secrets"]
        if s["name"] == name and s["layer"] == "IKE"
    ]


def _open_all(manager: Manager, datagrams: list[bytes], cipher: Any) -> Received:
    result = None
    for data in datagrams:
        result = manager.open(data, decode_header(data), cipher)
    assert result is not None
    return result


@pytest.mark.parametrize("name", sorted(SUITES))
def test_ike_auth_of_strongswan_transcript_verifies(
    backend: Backend, name: str
) -> None:
    vector = _load(name)
    prf_id, encr_id, key_bits = SUITES[name]
    caps = [c for c in vector["captures"]["initial"] if "hex" in c]
    init_i, init_r = _ike(caps[0]), _ike(caps[1])
    inter_req, inter_resp = [_ike(caps[2]), _ike(caps[3])], [_ike(caps[4])]
    auth_req, auth_resp = _ike(caps[5]), _ike(caps[6])
    hdr = decode_header(init_r)
    ni = decode_message(init_i).find(NoncePayload)
    nr = decode_message(init_r).find(NoncePayload)
    assert ni is not None
    assert nr is not None
    ss0, ss1 = _secrets(vector, "key exchange secret")[:2]
    if not backend.supports(1, 20):
        pytest.skip("no AES-GCM")
    # RFC 7296 §2.14 with the capture's ECDH secret
    keymat0 = backend.keymat_derive(
        prf_id, encr_id, key_bits, 0, ss0, ni.data, nr.data, hdr.spi_i, hdr.spi_r
    )
    assert keymat0.export_secrets()["sk_pi"] == _secrets(vector, "Sk_pi secret")[0]

    # IKE_INTERMEDIATE: fragmented request (2 SKF) and one response, SK_*(0)
    rx = Manager(lambda n: bytes(n))
    req = _open_all(rx, inter_req, keymat0.cipher(True))
    resp = _open_all(rx, inter_resp, keymat0.cipher(False))
    assert req.fragments == 2
    a_len = 32
    int_i = keymat0.int_auth(
        True, b"", req.int_auth_chunk[:a_len], req.int_auth_chunk[a_len:]
    )
    int_r = keymat0.int_auth(
        False, b"", resp.int_auth_chunk[:a_len], resp.int_auth_chunk[a_len:]
    )
    listed = _secrets(vector, "IntAuth_N = prf(Sk_px, data)")
    assert {int_i, int_r} <= set(listed)

    # RFC 9370 §2.2.2 key update with the ML-KEM secret, then IKE_AUTH under SK_*(1)
    keymat1 = keymat0.update_after_ke(ss1)
    assert keymat1.export_secrets()["sk_pi"] == _secrets(vector, "Sk_pi secret")[1]
    psk = vector["config"]["psk"].encode()
    mid = decode_header(auth_req).message_id
    int_auth = int_auth_octets(int_i, int_r, mid)
    for data, signer_i, id_cls, real, peer_nonce in (
        (auth_req, True, IdiPayload, init_i, nr.data),
        (auth_resp, False, IdrPayload, init_r, ni.data),
    ):
        opened = _open_all(rx, [data], keymat1.cipher(signer_i))
        ident = next(p for p in opened.payloads if type(p) is id_cls)
        auth = next(p for p in opened.payloads if isinstance(p, AuthPayload))
        assert auth.method == 2
        expected = psk_auth(
            keymat1,
            signer_is_initiator=signer_i,
            psk=psk,
            real_message=real,
            peer_nonce=peer_nonce,
            id_payload=ident,
            int_auth=int_auth,
        )
        assert expected == auth.data
        # and a wrong PSK does not
        assert (
            psk_auth(
                keymat1,
                signer_is_initiator=signer_i,
                psk=psk + b"x",
                real_message=real,
                peer_nonce=peer_nonce,
                id_payload=ident,
                int_auth=int_auth,
            )
            != auth.data
        )


def _stage(vector: dict[str, Any], stage: str, name: str) -> bytes:
    (found,) = [
        bytes.fromhex(s["hex"])
        for st in vector["stages"]
        if st["stage"] == stage
        for s in st["secrets"]
        if s["name"] == name
    ]
    return found


def _final_keymat(backend: Backend, vector: dict[str, Any]) -> Any:
    caps = vector["captures"]["initial"]
    init_i, init_r = _ike(caps[0]), _ike(caps[1])
    ni = decode_message(init_i).find(NoncePayload)
    nr = decode_message(init_r).find(NoncePayload)
    assert ni is not None
    assert nr is not None
    hdr = decode_header(init_r)
    ss0, ss1 = _secrets(vector, "key exchange secret")[:2]
    keymat0 = backend.keymat_derive(
        6, 20, 256, 0, ss0, ni.data, nr.data, hdr.spi_i, hdr.spi_r
    )
    return keymat0.update_after_ke(ss1)


def test_child_rekey_keymat_of_strongswan_transcript(backend: Backend) -> None:
    """RFC 9370 §2.2.4 KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1)), split as the
    engine splits it (encr_i | integ_i | encr_r | integ_r)."""
    from pqike.crypto.suites import encr_key_length
    from pqike.ikev2.tasks.child_create import split_keymat

    vector = _load("x25519-mlkem768.json")
    stage = "rekey child from A"
    ss0 = _stage(vector, stage, "key exchange secret")
    ss1 = _stage(vector, stage, "additional key exchange secret")
    seed = _stage(vector, stage, "seed")
    ni, nr = seed[32:64], seed[64:96]
    assert seed == ss0 + ni + nr + ss1
    keymat = _final_keymat(backend, vector)
    encr_len = encr_key_length(20, 256)
    raw = keymat.child_keymat(2 * encr_len, ni, nr, [ss0, ss1])
    encr_i, integ_i, encr_r, integ_r = split_keymat(raw, encr_len, 0)
    assert encr_i == _stage(vector, stage, "encryption initiator key")
    assert encr_r == _stage(vector, stage, "encryption responder key")
    assert integ_i == integ_r == b""


def test_ike_rekey_keys_of_strongswan_transcript(backend: Backend) -> None:
    """RFC 9370 §2.2.4 IKE rekey, called the way ``IkeSa.spawn_rekeyed`` calls it."""
    vector = _load("x25519-mlkem768.json")
    stage = "rekey ike from A"
    ss0 = _stage(vector, stage, "key exchange secret")
    ss1 = _stage(vector, stage, "additional key exchange secret")
    nonces = _stage(vector, stage, "nonces")
    new = next(
        _ike(c)
        for c in vector["captures"]["rekey"]
        if bytes.fromhex(c["hex"])[:4] == bytes(4)
        and bytes.fromhex(c["hex"])[4:12]
        != bytes.fromhex(vector["captures"]["initial"][0]["hex"])[:8]
    )
    spi_i, spi_r = new[:8], new[8:16]
    keymat = _final_keymat(backend, vector).rekey_ike(
        [ss0, ss1], nonces[:32], nonces[32:], spi_i, spi_r, 6, 20, 256, 0
    )
    secrets = keymat.export_secrets()
    assert secrets["sk_d"] == _stage(vector, stage, "Sk_d secret")
    assert secrets["sk_ei"] == _stage(vector, stage, "Sk_ei secret")
    assert secrets["sk_pr"] == _stage(vector, stage, "Sk_pr secret")
