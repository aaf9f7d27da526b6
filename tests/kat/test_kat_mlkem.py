# SPDX-License-Identifier: Apache-2.0
"""ML-KEM known answers (FIPS 203) from Wycheproof, through ``pqike.crypto``.

Cases the reference backend cannot run (pyca/cryptography 50 has no ML-KEM-512, no
deterministic encapsulation and no expanded decapsulation keys) are skipped with the
``UnsupportedTransform`` reason the backend gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from kat_support import MLKEM_METHOD, require_ke, wycheproof_cases

from pqike.crypto import Backend
from pqike.errors import InvalidKeyExchangeData, InvalidLength, UnsupportedTransform

SIZES = ("512", "768", "1024")


def _unhex(test: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(test[key])


def _method(backend: Backend, group: dict[str, Any]) -> int:
    """The group's KE method; skips when the backend lacks it."""
    method = MLKEM_METHOD[group["parameterSet"]]
    require_ke(backend, method)
    return method


def _call_or_skip(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except UnsupportedTransform as exc:
        pytest.skip(str(exc))


DECAPS = [c for n in SIZES for c in wycheproof_cases(f"mlkem_{n}_test.json")]
ENCAPS = [c for n in SIZES for c in wycheproof_cases(f"mlkem_{n}_encaps_test.json")]
KEYGEN = [
    c for n in SIZES for c in wycheproof_cases(f"mlkem_{n}_keygen_seed_test.json")
]
SEMI = wycheproof_cases("mlkem_768_semi_expanded_decaps_test.json")


@pytest.mark.parametrize(("group", "test"), DECAPS)
def test_mlkem_decaps_from_seed(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Key pair from d||z, then decapsulation incl. implicit rejection."""
    method = _method(backend, group)
    seed, ct = _unhex(test, "seed"), _unhex(test, "c")
    hooks = backend.testing
    if test["result"] == "valid":
        assert hooks.mlkem_public_key(method, seed).hex() == test["ek"]
        assert hooks.mlkem_decaps_seed(method, seed, ct).hex() == test["K"]
    elif len(seed) != 64:
        with pytest.raises(InvalidLength):
            hooks.mlkem_decaps_seed(method, seed, ct)
    else:
        # FIPS 203 §7.3 ciphertext type check.
        with pytest.raises(InvalidKeyExchangeData):
            hooks.mlkem_decaps_seed(method, seed, ct)


@pytest.mark.parametrize(("group", "test"), ENCAPS)
def test_mlkem_responder_checks_ek(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """The responder's KeyExchange runs the FIPS 203 §7.2 ek checks."""
    method = _method(backend, group)
    ek = _unhex(test, "ek")
    kx = backend.key_exchange(method)
    if test["result"] == "valid":
        kx.set_peer_public(ek)
        assert len(kx.public_key()) == len(test["c"]) // 2
        assert len(kx.shared_secret()) == 32
    else:
        with pytest.raises(InvalidKeyExchangeData):
            kx.set_peer_public(ek)


@pytest.mark.parametrize(("group", "test"), ENCAPS)
def test_mlkem_encaps_known_answer(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Deterministic encapsulation with the vector's m; bad ek rejected."""
    method = _method(backend, group)
    ek, m = _unhex(test, "ek"), _unhex(test, "m")
    if test["result"] == "valid":
        ct, k = _call_or_skip(backend.testing.mlkem_encaps, method, ek, m)
        assert (ct.hex(), k.hex()) == (test["c"], test["K"])
    else:
        with pytest.raises(InvalidKeyExchangeData):
            backend.testing.mlkem_encaps(method, ek, m)


@pytest.mark.parametrize(("group", "test"), KEYGEN)
def test_mlkem_keygen_ek(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """ek from the seed d||z (FIPS 203 §7.1)."""
    method = _method(backend, group)
    ek = backend.testing.mlkem_public_key(method, _unhex(test, "seed"))
    assert ek.hex() == test["ek"]


@pytest.mark.parametrize(("group", "test"), KEYGEN)
def test_mlkem_keygen_dk(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Expanded dk from the seed d||z."""
    method = _method(backend, group)
    ek, dk = _call_or_skip(backend.testing.mlkem_keygen, method, _unhex(test, "seed"))
    assert (ek.hex(), dk.hex()) == (test["ek"], test["dk"])


@pytest.mark.parametrize(("group", "test"), SEMI)
def test_mlkem_decaps_expanded_dk(
    backend: Backend, group: dict[str, Any], test: dict[str, Any]
) -> None:
    """Decapsulation with an expanded dk; bad dk / ct lengths rejected."""
    method = _method(backend, group)
    dk, ct = _unhex(test, "dk"), _unhex(test, "c")
    flags = set(test["flags"])
    if test["result"] == "valid":
        k = _call_or_skip(backend.testing.mlkem_decaps, method, dk, ct)
        assert k.hex() == test["K"]
        return
    expected: type[Exception]
    if "IncorrectCiphertextLength" in flags:
        expected = InvalidKeyExchangeData  # FIPS 203 §7.3 ciphertext type check
    elif "IncorrectDecapsulationKeyLength" in flags:
        expected = InvalidLength
    else:  # InvalidDecapsulationKey: H(ek) check of a local key, a bad argument
        expected = ValueError
    try:
        backend.testing.mlkem_decaps(method, dk, ct)
    except UnsupportedTransform as exc:
        pytest.skip(str(exc))
    except expected:
        return
    pytest.fail(f"{test['flags']}: decapsulation was not rejected")
