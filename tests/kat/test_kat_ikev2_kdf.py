# SPDX-License-Identifier: Apache-2.0
"""NIST SP 800-135 IKEv2 KDF samples (HMAC-SHA1) through the Keymat API.

A suite of PRF 2 (HMAC-SHA1), AES-CBC-128 and HMAC-SHA1-96 makes the SK_* stream
exactly 132 octets (20 + 2*20 + 2*16 + 2*20), the vector's DKM length.
"""

from __future__ import annotations

from typing import Any

import pytest
from kat_support import load

from pqike.crypto import Backend
from pqike.crypto.keymat import SECRET_NAMES

CASES = [
    pytest.param(t, id=f"sp800-135-{i}")
    for i, t in enumerate(load("ikev2-kdf/nist-sp800-135-sha1.json")["tests"])
]


@pytest.mark.parametrize("test", CASES)
def test_ikev2_kdf_sp800_135(backend: Backend, test: dict[str, Any]) -> None:
    """sKeySeed, DKM, DKM(child), DKM(child, new DH) and sKeySeed(rekey)."""
    h = {
        k: bytes.fromhex(v)
        for k, v in test.items()
        if k not in ("source", "hashAlg") and isinstance(v, str)
    }
    ni, nr, spi_i, spi_r = h["nInit"], h["nResp"], h["spiInit"], h["spiResp"]
    km = backend.keymat_derive(2, 12, 128, 2, h["gir"], ni, nr, spi_i, spi_r)
    secrets = km.export_secrets()
    assert secrets["skeyseed"] == h["sKeySeed"]
    dkm = b"".join(secrets[n] for n in SECRET_NAMES[1:])
    assert len(dkm) == test["dkmLengthBytes"]
    assert dkm == h["derivedKeyingMaterial"]
    n = test["dkmChildLengthBytes"]
    assert km.child_keymat(n, ni, nr) == h["derivedKeyingMaterialChild"]
    assert km.child_keymat(n, ni, nr, [h["girNew"]]) == h["derivedKeyingMaterialDh"]
    rekeyed = km.rekey_ike([h["girNew"]], ni, nr, spi_i, spi_r, 2, 12, 128, 2)
    assert rekeyed.export_secrets()["skeyseed"] == h["sKeySeedReKey"]
