# SPDX-License-Identifier: Apache-2.0
"""AES-GCM, ChaCha20-Poly1305 and HMAC-SHA2 known answers (Wycheproof).

IKEv2 and ESP only use 96-bit AEAD nonces (salt || IV, RFC 5282 / RFC 4106 /
RFC 7634), so for any other nonce size the API must refuse with InvalidLength.
"""

from __future__ import annotations

from typing import Any

import pytest
from kat_support import wycheproof_cases

from pqike.crypto import Backend
from pqike.errors import AuthenticationError, InvalidLength

GCM = wycheproof_cases("aes_gcm_test.json")
CHACHA = wycheproof_cases("chacha20_poly1305_test.json")
PRF_ID = {"sha256": 5, "sha384": 6, "sha512": 7}
HMAC = [
    pytest.param(PRF_ID[h], *case.values, id=case.id)
    for h in PRF_ID
    for case in wycheproof_cases(f"hmac_{h}_test.json")
]
# INTEG transforms whose (key bits, ICV bits) match a Wycheproof group (RFC 4868).
INTEG_ID = {(5, 256, 128): 12, (6, 384, 192): 13, (7, 512, 256): 14}


def _aead_case(backend: Backend, encr_id: int, test: dict[str, Any]) -> None:
    key, iv = bytes.fromhex(test["key"]), bytes.fromhex(test["iv"])
    aad, msg = bytes.fromhex(test["aad"]), bytes.fromhex(test["msg"])
    sealed = bytes.fromhex(test["ct"] + test["tag"])
    if len(iv) != 12:
        with pytest.raises(InvalidLength):
            backend.aead_seal(encr_id, key, iv, aad, msg)
        with pytest.raises(InvalidLength):
            backend.aead_open(encr_id, key, iv, aad, sealed)
    elif test["result"] == "valid":
        assert backend.aead_seal(encr_id, key, iv, aad, msg) == sealed
        assert backend.aead_open(encr_id, key, iv, aad, sealed) == msg
    else:
        with pytest.raises(AuthenticationError):
            backend.aead_open(encr_id, key, iv, aad, sealed)


@pytest.mark.parametrize(("group", "test"), GCM)
def test_aes_gcm_known_answer(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """AES-GCM with a 16-octet tag is ENCR 20."""
    assert group["tagSize"] == 128
    _aead_case(backend, 20, test)


@pytest.mark.parametrize(("group", "test"), CHACHA)
def test_chacha20_poly1305_known_answer(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """ChaCha20-Poly1305 is ENCR 28."""
    _aead_case(backend, 28, test)


@pytest.mark.parametrize(("prf_id", "group", "test"), HMAC)
def test_hmac_known_answer(
    backend: Backend, prf_id: int, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """prf, hmac_verify with full and truncated tags, and the matching INTEG."""
    key, msg, tag = (bytes.fromhex(test[k]) for k in ("key", "msg", "tag"))
    valid = test["result"] == "valid"
    assert backend.hmac_verify(prf_id, key, msg, tag) is valid
    full = backend.prf(prf_id, key, msg)
    assert (full[: len(tag)] == tag) is valid
    integ_id = INTEG_ID.get((prf_id, group["keySize"], group["tagSize"]))
    if integ_id is not None:
        assert (backend.integ_mac(integ_id, key, msg) == tag) is valid
