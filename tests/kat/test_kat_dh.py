# SPDX-License-Identifier: Apache-2.0
"""X25519, X448 (RFC 7748 / RFC 8031) and ECDH P-256/P-384 (RFC 5903) known answers.

Decisions for Wycheproof "acceptable" cases:

* X25519/X448: twist points, non-canonical u-coordinates and low-order points are
  processed as RFC 7748 §5 says (u is taken mod p, the top bit of an X25519 u is
  masked); a result of all zeros is rejected with InvalidKeyExchangeData
  (RFC 7748 §6, SPEC §5.2). So an acceptable case passes iff its shared secret is
  non-zero.
* ECDH: IKEv2 KE data is ``x || y`` (RFC 5903 §7); a compressed point has no encoding
  there. Compressed cases ("acceptable" or not) must be rejected by length.
"""

from __future__ import annotations

from typing import Any

import pytest
from kat_support import wycheproof_cases

from pqike.crypto import Backend, suites
from pqike.errors import InvalidKeyExchangeData

XDH = wycheproof_cases("x25519_test.json") + wycheproof_cases("x448_test.json")
ECDH = wycheproof_cases("ecdh_secp256r1_ecpoint_test.json") + wycheproof_cases(
    "ecdh_secp384r1_ecpoint_test.json"
)
CURVE_METHOD = {"secp256r1": 19, "secp384r1": 20, "secp521r1": 21}


@pytest.mark.parametrize(("group", "test"), XDH)
def test_xdh_known_answer(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Valid cases agree; invalid and all-zero acceptable cases are rejected."""
    fn = (
        backend.testing.x25519
        if group["curve"] == "curve25519"
        else backend.testing.x448
    )
    private, public = bytes.fromhex(test["private"]), bytes.fromhex(test["public"])
    shared = bytes.fromhex(test["shared"])
    if test["result"] == "invalid" or not any(shared):
        with pytest.raises(InvalidKeyExchangeData):
            fn(private, public)
    else:
        assert fn(private, public) == shared


@pytest.mark.parametrize(("group", "test"), ECDH)
def test_ecdh_known_answer(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Uncompressed points (0x04 stripped) agree or are rejected; others rejected."""
    method = CURVE_METHOD[group["curve"]]
    size = suites.ke_method(method).initiator_length // 2
    private = int(test["private"], 16).to_bytes(size, "big")
    point = bytes.fromhex(test["public"])
    uncompressed = len(point) == 1 + 2 * size and point[0] == 4
    if test["result"] == "valid":
        assert uncompressed
        out = backend.testing.ecdh(method, private, point[1:])
        assert out.hex() == test["shared"]
    else:
        data = point[1:] if uncompressed else point
        with pytest.raises(InvalidKeyExchangeData):
            backend.testing.ecdh(method, private, data)
