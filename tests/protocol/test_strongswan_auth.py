# SPDX-License-Identifier: Apache-2.0
"""Replay strongSwan's x25519 + ML-KEM-768 transcript through the engine's logic.

From the capture's stage secrets (the two key exchange secrets) the engine's key
schedule, its RFC 7383 reassembly of the fragmented IKE_INTERMEDIATE request, its
RFC 9242 IntAuth chains and its IKE_AUTH PSK computation must reproduce exactly the
AUTH payloads strongSwan sent (tests/vectors/strongswan/x25519-mlkem768.json).
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
from pqike.ikev2.manager import Manager, Opened
from pqike.ikev2.tasks.ike_auth import int_auth_octets, psk_auth

VECTOR = Path(__file__).parents[1] / "vectors" / "strongswan" / "x25519-mlkem768.json"


def _load() -> dict[str, Any]:
    return json.loads(VECTOR.read_text())  # type: ignore[no-any-return]


def _ike(entry: dict[str, str]) -> bytes:
    raw = bytes.fromhex(entry["hex"])
    return raw[4:] if raw[:4] == bytes(4) else raw


def _secrets(vector: dict[str, Any], name: str) -> list[bytes]:
    return [
        bytes.fromhex(s["hex"])
        for s in vector["stages"][0]["secrets"]
        if s["name"] == name and s["layer"] == "IKE"
    ]


def _open_all(manager: Manager, datagrams: list[bytes], cipher: Any) -> Opened:
    result = None
    for data in datagrams:
        result = manager.open(data, decode_header(data), cipher)
    assert result is not None
    return result


def test_ike_auth_of_strongswan_transcript_verifies(backend: Backend) -> None:
    vector = _load()
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
    # RFC 7296 §2.14 with the capture's ECDH secret; PRF SHA2-384, AES-GCM-16-256
    keymat0 = backend.keymat_derive(
        6, 20, 256, 0, ss0, ni.data, nr.data, hdr.spi_i, hdr.spi_r
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
