# SPDX-License-Identifier: Apache-2.0
"""pqike.crypto: backend selection, module-level shortcuts and the suite tables."""

from __future__ import annotations

import copy
import enum
import pickle
from collections.abc import Callable

import pytest

import pqike.crypto as crypto
from pqike.crypto import Backend, EspSa, IkeCipher, KeyExchange, Keymat, suites
from pqike.errors import UnsupportedTransform


def test_get_backend_unknown_name() -> None:
    """An unknown backend name is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="rust"):
        crypto.get_backend("openssl")


def test_get_backend_shared_instances(backend: Backend) -> None:
    """get_backend returns one instance per name, which satisfies the protocols."""
    assert crypto.get_backend(backend.name) is backend
    assert isinstance(backend, Backend)
    assert backend.name in crypto.available_backends()
    km = backend.keymat_derive(
        5, 20, 128, 0, b"g", b"n" * 8, b"m" * 8, bytes(8), bytes(8)
    )
    assert isinstance(km, Keymat)
    assert isinstance(km.cipher(True), IkeCipher)
    assert isinstance(backend.key_exchange(31), KeyExchange)
    assert isinstance(backend.esp_sa(1, 20, bytes(20)), EspSa)


def test_shortcuts_use_default_backend(backend: Backend) -> None:
    """Module-level functions follow set_default_backend."""
    crypto.set_default_backend(backend)
    try:
        assert crypto.default_backend() is backend
        assert crypto.prf(5, b"k", b"d") == backend.prf(5, b"k", b"d")
        assert crypto.prf_plus(6, b"k", b"s", 99) == backend.prf_plus(6, b"k", b"s", 99)
        sealed = crypto.aead_seal(28, bytes(32), bytes(12), b"a", b"p")
        assert crypto.aead_open(28, bytes(32), bytes(12), b"a", sealed) == b"p"
        assert crypto.supports(4, 36)
        assert len(crypto.key_exchange(32).public_key()) == 56
        cipher = crypto.ike_cipher(20, 128, 0, bytes(20))
        assert cipher.open(b"h", cipher.seal(b"h", bytes(8), b"x")) == b"x"
        sa = crypto.esp_sa(3, 28, bytes(36), esn=True, replay_window=128)
        assert sa.esn
        km = crypto.keymat_derive(5, 20, 128, 0, b"g", b"n", b"m", bytes(8), bytes(8))
        assert km.prf_id == 5
    finally:
        crypto.set_default_backend(None)


def test_default_backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """PQIKE_BACKEND picks the default when none was set."""
    crypto.set_default_backend(None)
    monkeypatch.setenv("PQIKE_BACKEND", "reference")
    try:
        assert crypto.default_backend().name == "reference"
    finally:
        crypto.set_default_backend(None)


@pytest.mark.parametrize(
    ("encr_id", "bits", "octets"),
    [
        (12, 128, 16),
        (12, 256, 32),
        (18, 128, 20),
        (19, 192, 28),
        (20, 256, 36),
        (28, 0, 36),
        (28, 256, 36),
    ],
)
def test_encr_key_length_includes_salt(encr_id: int, bits: int, octets: int) -> None:
    """SK_e / ESP key material: cipher key plus the 4-octet AEAD salt (SPEC §4.5)."""
    assert suites.encr_key_length(encr_id, bits) == octets


def test_suite_tables() -> None:
    """PRF, INTEG and KE sizes as SPEC §1.1, §4.5 list them."""
    assert [suites.prf_key_length(i) for i in (2, 5, 6, 7)] == [20, 32, 48, 64]
    assert [suites.integ_key_length(i) for i in (0, 2, 12, 13, 14)] == [
        0,
        20,
        32,
        48,
        64,
    ]
    assert [suites.integ_icv_length(i) for i in (0, 2, 12, 13, 14)] == [
        0,
        12,
        16,
        24,
        32,
    ]
    assert [suites.encr_icv_length(i) for i in (12, 18, 19, 20, 28)] == [
        0,
        8,
        12,
        16,
        16,
    ]
    assert [suites.is_aead(i) for i in (12, 18, 28)] == [False, True, True]
    sizes = {
        m: (k.initiator_length, k.responder_length)
        for m, k in suites.KE_METHODS.items()
    }
    assert sizes == {
        19: (64, 64),
        20: (96, 96),
        21: (132, 132),
        31: (32, 32),
        32: (56, 56),
        35: (800, 768),
        36: (1184, 1088),
        37: (1568, 1568),
    }


@pytest.mark.parametrize(
    ("call", "ttype", "tid"),
    [
        pytest.param(lambda: suites.encr_key_length(20, 100), 1, 20, id="gcm-100-bits"),
        pytest.param(lambda: suites.encr_key_length(28, 128), 1, 28, id="chacha-128"),
        pytest.param(lambda: suites.prf_key_length(4), 2, 4, id="prf-xcbc"),
        pytest.param(lambda: suites.integ_icv_length(5), 3, 5, id="integ-xcbc"),
        pytest.param(lambda: suites.ke_method(14), 4, 14, id="modp2048"),
        pytest.param(lambda: suites.is_aead(3), 1, 3, id="3des"),
    ],
)
def test_suite_unknown_ids(call: object, ttype: int, tid: int) -> None:
    """Unknown IDs raise UnsupportedTransform with type and ID."""
    assert callable(call)
    with pytest.raises(UnsupportedTransform) as info:
        call()
    assert (info.value.transform_type, info.value.transform_id) == (ttype, tid)


def test_known_transform() -> None:
    """suites.supports knows ADDKE NONE, ESN 0/1 and nothing of unknown types."""
    assert suites.supports(6, 0)
    assert suites.supports(12, 37)
    assert not suites.supports(13, 37)
    assert suites.supports(5, 1)
    assert not suites.supports(5, 2)
    assert not suites.supports(4, 0)


def test_hmac_verify_tag_lengths(backend: Backend) -> None:
    """Prefixes of 10 octets up to the full output verify; others never do."""
    full = backend.prf(5, b"key", b"data")
    assert backend.hmac_verify(5, b"key", b"data", full)
    assert backend.hmac_verify(5, b"key", b"data", full[:10])
    # Shorter than 80 bits (RFC 2104 §5) never verifies: the tag is usually the
    # peer's, and one octet would pass once in 256 tries.
    assert not backend.hmac_verify(5, b"key", b"data", full[:9])
    assert not backend.hmac_verify(5, b"key", b"data", full[:1])
    assert not backend.hmac_verify(5, b"key", b"data", b"")
    assert not backend.hmac_verify(5, b"key", b"data", full + b"\0")
    assert not backend.hmac_verify(5, b"key", b"data", bytes([full[0] ^ 1]) + full[1:])
    assert backend.constant_time_eq(b"ab", b"ab")
    assert not backend.constant_time_eq(b"ab", b"ac")
    assert not backend.constant_time_eq(b"ab", b"abc")


def test_why_unsupported_gives_the_reason(backend: Backend) -> None:
    """why_unsupported is None exactly where supports is True, else the reason."""
    for transform_type in range(14):
        for transform_id in (*range(40), 1000):
            reason = backend.why_unsupported(transform_type, transform_id)
            supported = backend.supports(transform_type, transform_id)
            assert (reason is None) == supported, (transform_type, transform_id)
    assert (
        backend.why_unsupported(1, 3)
        == "pqike does not implement transform type 1 id 3"
    )
    if backend.name == "reference":
        assert backend.why_unsupported(6, 35) == (
            "reference backend: pyca/cryptography has no mlkem512"
        )
    else:
        assert backend.why_unsupported(6, 35) is None


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, pickle.dumps])
def test_stateful_objects_are_not_copied_or_pickled(
    backend: Backend, how: Callable[[object], object]
) -> None:
    """No backend copies an SA (its copy would seal the same nonces again) or pickles
    a key (the pickle would carry SKEYSEED, SK_* or a private key)."""
    km = backend.keymat_derive(5, 20, 128, 0, b"g", b"n", b"m", bytes(8), bytes(8))
    objects = (
        backend.key_exchange(31),
        km,
        km.cipher(sender_is_initiator=True),
        backend.esp_sa(1, 20, bytes(20)),
    )
    for obj in objects:
        with pytest.raises(TypeError, match="cannot pickle"):
            how(obj)


@pytest.mark.parametrize(
    "call",
    [
        lambda: suites.encr_key_length(20, 256.0),  # type: ignore[arg-type]
        lambda: suites.encr_key_length(20.0, 256),  # type: ignore[arg-type]
        lambda: suites.is_aead(20.0),  # type: ignore[arg-type]
        lambda: suites.encr_icv_length(True),
        lambda: suites.prf_key_length(5.0),  # type: ignore[arg-type]
        lambda: suites.prf_output_length(True),
        lambda: suites.integ_key_length(False),
        lambda: suites.integ_icv_length(12.0),  # type: ignore[arg-type]
        lambda: suites.ke_method(36.0),  # type: ignore[arg-type]
        lambda: suites.ke_method(True),
    ],
)
def test_suite_tables_take_integers_only(call: Callable[[], object]) -> None:
    """The tables follow the argument rules of the backends (contracts.md §2): a float
    or a bool is a TypeError, not 36.0 octets or INTEG NONE (False == 0)."""
    with pytest.raises(TypeError, match="integer"):
        call()


def test_suite_tables_take_intenums() -> None:
    """IDs that are IntEnums (``__index__``) look up as their values."""

    class Encr(enum.IntEnum):
        AES_GCM_16 = 20

    assert suites.encr_key_length(Encr.AES_GCM_16, 128) == 20
    assert type(suites.encr_key_length(Encr.AES_GCM_16, 128)) is int
    assert suites.is_aead(Encr.AES_GCM_16)
