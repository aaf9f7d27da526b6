# SPDX-License-Identifier: Apache-2.0
"""Differential properties: the Rust backend against the reference backend.

Every primitive both backends have is fed the same random input; outputs must be
equal byte for byte, and what one backend seals the other must open.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqike.crypto import Backend, suites
from pqike.errors import (
    AuthenticationError,
    DecodeError,
    InvalidKeyExchangeData,
    PqIkeError,
    ReplayError,
    SequenceExhausted,
)

PRFS = st.sampled_from([2, 5, 6, 7])
SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
FAST = settings(deadline=None)
# (encr_id, key_bits, integ_id) of every IKE SK suite both backends implement
SK_SUITES = (
    [
        (encr, bits, integ)
        for encr in (18, 19, 20)
        for bits in (128, 192, 256)
        for integ in (0,)
    ]
    + [(28, 0, 0)]
    + [(12, bits, integ) for bits in (128, 192, 256) for integ in (2, 12, 13, 14)]
)


@pytest.fixture(scope="module")
def pair(rust_backend: Backend, reference_backend: Backend) -> tuple[Backend, Backend]:
    """(rust, reference); skips when the Rust extension is not built."""
    return rust_backend, reference_backend


@FAST
@given(prf_id=PRFS, key=st.binary(max_size=200), data=st.binary(max_size=600))
def test_prf_equal(
    pair: tuple[Backend, Backend], prf_id: int, key: bytes, data: bytes
) -> None:
    """prf(key, data) is the same HMAC on both backends."""
    rust, ref = pair
    assert rust.prf(prf_id, key, data) == ref.prf(prf_id, key, data)


@FAST
@given(
    prf_id=PRFS,
    key=st.binary(max_size=100),
    seed=st.binary(max_size=300),
    n=st.integers(0, 2000),
    m=st.integers(0, 2000),
)
def test_prf_plus_equal_and_prefix(
    pair: tuple[Backend, Backend], prf_id: int, key: bytes, seed: bytes, n: int, m: int
) -> None:
    """prf+ agrees across backends, and a shorter output is a prefix of a longer."""
    rust, ref = pair
    n, m = sorted((n, m))
    long = rust.prf_plus(prf_id, key, seed, m)
    assert long == ref.prf_plus(prf_id, key, seed, m)
    assert len(long) == m
    assert rust.prf_plus(prf_id, key, seed, n) == long[:n]
    assert ref.prf_plus(prf_id, key, seed, n) == long[:n]


@FAST
@given(
    integ_id=st.sampled_from([2, 12, 13, 14]),
    data=st.binary(max_size=500),
    fill=st.integers(0, 255),
)
def test_integ_mac_equal(
    pair: tuple[Backend, Backend], integ_id: int, data: bytes, fill: int
) -> None:
    """Truncated HMAC ICVs agree; hmac_verify accepts the ICV as a prefix."""
    rust, ref = pair
    key = bytes([fill]) * suites.integ_key_length(integ_id)
    icv = rust.integ_mac(integ_id, key, data)
    assert icv == ref.integ_mac(integ_id, key, data)
    assert len(icv) == suites.integ_icv_length(integ_id)


def _suite_keys(
    bits_encr: tuple[int, int, int], fill: int
) -> tuple[int, int, int, bytes, bytes]:
    encr, bits, integ = bits_encr
    key = bytes((fill + i) % 256 for i in range(suites.encr_key_length(encr, bits)))
    ikey = bytes((fill * 7 + i) % 256 for i in range(suites.integ_key_length(integ)))
    return encr, bits, integ, key, ikey


@FAST
@given(
    suite=st.sampled_from(SK_SUITES),
    fill=st.integers(0, 255),
    aad=st.binary(min_size=32, max_size=64),
    iv_fill=st.integers(0, 255),
    plaintext=st.binary(max_size=700),
)
def test_ike_cipher_cross_backend(
    pair: tuple[Backend, Backend],
    suite: tuple[int, int, int],
    fill: int,
    aad: bytes,
    iv_fill: int,
    plaintext: bytes,
) -> None:
    """Equal SK bodies; each backend opens what the other sealed."""
    rust, ref = pair
    encr, bits, integ, key, ikey = _suite_keys(suite, fill)
    c_rust = rust.ike_cipher(encr, bits, integ, key, ikey)
    c_ref = ref.ike_cipher(encr, bits, integ, key, ikey)
    assert (c_rust.iv_length, c_rust.icv_length) == (c_ref.iv_length, c_ref.icv_length)
    iv = bytes([iv_fill]) * c_rust.iv_length
    body = c_rust.seal(aad, iv, plaintext)
    assert body == c_ref.seal(aad, iv, plaintext)
    assert len(body) == c_rust.sealed_length(len(plaintext))
    assert len(body) == c_ref.sealed_length(len(plaintext))
    assert c_ref.open(aad, body) == plaintext
    assert c_rust.open(aad, body) == plaintext


@FAST
@given(
    encr_id=st.sampled_from([18, 19, 20, 28]),
    key_len=st.sampled_from([16, 24, 32]),
    nonce=st.binary(min_size=12, max_size=12),
    aad=st.binary(max_size=64),
    plaintext=st.binary(max_size=500),
)
def test_raw_aead_cross_backend(
    pair: tuple[Backend, Backend],
    encr_id: int,
    key_len: int,
    nonce: bytes,
    aad: bytes,
    plaintext: bytes,
) -> None:
    """Raw AEAD outputs agree; each opens the other's."""
    rust, ref = pair
    key = bytes(range(32 if encr_id == 28 else key_len))
    sealed = rust.aead_seal(encr_id, key, nonce, aad, plaintext)
    assert sealed == ref.aead_seal(encr_id, key, nonce, aad, plaintext)
    assert ref.aead_open(encr_id, key, nonce, aad, sealed) == plaintext


@FAST
@given(
    encr=st.sampled_from([(20, 20), (20, 28), (20, 36), (28, 36)]),
    esn=st.booleans(),
    start=st.sampled_from([1, 2, (1 << 32) - 3, (1 << 32) + 7]),
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    next_header=st.integers(0, 255),
)
def test_esp_cross_backend(
    pair: tuple[Backend, Backend],
    encr: tuple[int, int],
    esn: bool,
    start: int,
    payloads: list[bytes],
    next_header: int,
) -> None:
    """Equal packets; rust seal -> reference open and reference seal -> rust open."""
    if not esn and start > (1 << 32) - 1:
        start = 1
    rust, ref = pair
    encr_id, n = encr
    key = bytes(range(n))
    kw: dict[str, Any] = {"esn": esn, "initial_seq": start}
    out_rust, out_ref = (
        rust.esp_sa(5, encr_id, key, **kw),
        ref.esp_sa(5, encr_id, key, **kw),
    )
    in_rust, in_ref = (
        rust.esp_sa(5, encr_id, key, **kw),
        ref.esp_sa(5, encr_id, key, **kw),
    )
    left = ((1 << 64) if esn else (1 << 32)) - start
    if len(payloads) > left:
        for sa in (out_rust, out_ref):
            with pytest.raises(SequenceExhausted):
                sa.seal_batch(payloads, next_header)
        payloads = payloads[:left]
    from_rust = out_rust.seal_batch(payloads, next_header)
    from_ref = [out_ref.seal(p, next_header) for p in payloads]
    assert from_rust == from_ref
    assert out_rust.next_seq == out_ref.next_seq
    for p, a, b in zip(payloads, from_rust, from_ref, strict=True):
        assert in_ref.open(a) == (p, next_header)
        assert in_rust.open(b) == (p, next_header)


KEYMAT_SUITES = st.sampled_from(
    [(p, e, b, i) for p in (2, 5, 6, 7) for (e, b, i) in SK_SUITES[::3]]
)


@FAST
@given(
    suite=KEYMAT_SUITES,
    shared=st.binary(min_size=1, max_size=300),
    extra=st.lists(st.binary(min_size=1, max_size=66), max_size=3),
    ni=st.binary(min_size=8, max_size=64),
    nr=st.binary(min_size=8, max_size=64),
    spis=st.binary(min_size=32, max_size=32),
    blob=st.binary(max_size=200),
)
def test_keymat_equal(
    pair: tuple[Backend, Backend],
    suite: tuple[int, int, int, int],
    shared: bytes,
    extra: list[bytes],
    ni: bytes,
    nr: bytes,
    spis: bytes,
    blob: bytes,
) -> None:
    """Every Keymat operation gives the same bytes on both backends."""
    outputs = []
    for backend in pair:
        km = backend.keymat_derive(*suite, shared, ni, nr, spis[:8], spis[8:16])
        after = km.update_after_ke(shared[::-1])
        rekeyed = after.rekey_ike(
            [shared, *extra], nr, ni, spis[16:24], spis[24:], *suite
        )
        cipher = rekeyed.cipher(False)
        sealed = cipher.seal(blob.ljust(32, b"\0"), bytes(cipher.iv_length), blob)
        outputs.append(
            (
                km.export_secrets(),
                after.export_secrets(),
                rekeyed.export_secrets(),
                (
                    rekeyed.prf_id,
                    rekeyed.encr_id,
                    rekeyed.encr_key_bits,
                    rekeyed.integ_id,
                ),
                after.child_keymat(100, ni, nr),
                after.child_keymat(77, ni, nr, [shared, *extra]),
                after.int_auth(True, blob, shared, ni),
                after.int_auth(False, b"", blob, b""),
                after.signed_octets(True, blob, nr, b"\x02\0\0\0id", blob[:9]),
                after.psk_auth(False, shared, blob, ni, b"\x01\0\0\0\x0a\0\0\x01"),
                sealed,
            )
        )
    assert outputs[0] == outputs[1]


DH_METHODS = st.sampled_from([19, 20, 21, 31, 32])
KEM_METHODS = st.sampled_from([36, 37])  # ML-KEM-512 is not in pyca/cryptography


@SLOW
@given(method=DH_METHODS, rust_first=st.booleans())
def test_dh_agreement_cross_backend(
    pair: tuple[Backend, Backend], method: int, rust_first: bool
) -> None:
    """A DH initiator on one backend and a responder on the other agree."""
    a, b = pair if rust_first else pair[::-1]
    i, r = a.key_exchange(method), b.key_exchange(method)
    r.set_peer_public(i.public_key())
    i.set_peer_public(r.public_key())
    assert i.shared_secret() == r.shared_secret()
    assert len(i.shared_secret()) == suites.ke_method(method).shared_secret_length


@SLOW
@given(method=KEM_METHODS, rust_initiator=st.booleans())
def test_mlkem_cross_backend(
    pair: tuple[Backend, Backend], method: int, rust_initiator: bool
) -> None:
    """ML-KEM: keygen + decaps on one backend, encaps on the other."""
    a, b = pair if rust_initiator else pair[::-1]
    i, r = a.key_exchange(method), b.key_exchange(method)
    r.set_peer_public(i.public_key())
    i.set_peer_public(r.public_key())
    assert i.shared_secret() == r.shared_secret()


@SLOW
@given(
    method=st.sampled_from([19, 20, 21, 31, 32, 36, 37]),
    seed=st.binary(min_size=32, max_size=80),
)
def test_seeded_public_keys_equal(
    pair: tuple[Backend, Backend], method: int, seed: bytes
) -> None:
    """The same seed gives the same initiator public key on both backends."""
    rust, ref = pair
    assert (
        rust.key_exchange(method, seed).public_key()
        == ref.key_exchange(method, seed).public_key()
    )


@SLOW
@given(method=KEM_METHODS, seed=st.binary(min_size=64, max_size=64))
def test_mlkem_seed_hooks_equal(
    pair: tuple[Backend, Backend], method: int, seed: bytes
) -> None:
    """testing.mlkem_public_key and decaps-from-seed agree across backends."""
    rust, ref = pair
    ek = rust.testing.mlkem_public_key(method, seed)
    assert ek == ref.testing.mlkem_public_key(method, seed)
    ct, k = rust.testing.mlkem_encaps(method, ek, seed[:32])
    assert ref.testing.mlkem_decaps_seed(method, seed, ct) == k


@FAST
@given(
    private=st.binary(min_size=32, max_size=32),
    public=st.binary(min_size=32, max_size=32),
)
def test_x25519_hook_equal(
    pair: tuple[Backend, Backend], private: bytes, public: bytes
) -> None:
    """X25519 on arbitrary u (incl. non-canonical): same result or both reject."""
    results: list[bytes | type[Exception]] = []
    for backend in pair:
        try:
            results.append(backend.testing.x25519(private, public))
        except InvalidKeyExchangeData as exc:
            results.append(type(exc))
    assert results[0] == results[1]


def _outcome(call: Any) -> object:
    """The result of ``call()``, or the pqike error class it raised."""
    try:
        return call()
    except PqIkeError as exc:
        return type(exc)


@SLOW
@given(
    method=st.sampled_from([19, 20, 21, 31, 32, 36, 37]),
    data=st.binary(max_size=1600),
    fixed_length=st.booleans(),
)
def test_random_peer_data_same_verdict(
    pair: tuple[Backend, Backend], method: int, data: bytes, fixed_length: bool
) -> None:
    """Random KE data from the peer: both backends accept or both reject it the same
    way (a responder object, so ML-KEM runs the ek checks)."""
    if fixed_length:
        n = suites.ke_method(method).initiator_length
        data = (data * (n // max(len(data), 1) + 1))[:n] if data else bytes(n)
    verdicts = []
    for backend in pair:
        kx = backend.key_exchange(method)
        verdicts.append(_outcome(lambda kx=kx: kx.set_peer_public(data)))
    assert verdicts[0] == verdicts[1]


@FAST
@given(packet=st.binary(max_size=120), spi_prefix=st.booleans())
def test_random_esp_packets_same_error(
    pair: tuple[Backend, Backend], packet: bytes, spi_prefix: bool
) -> None:
    """Random bytes to EspSa.open: the same pqike error class on both backends."""
    if spi_prefix:
        packet = (5).to_bytes(4, "big") + packet
    outcomes = [
        _outcome(lambda b=b: b.esp_sa(5, 20, bytes(36)).open(packet)) for b in pair
    ]
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] in (DecodeError, ReplayError, AuthenticationError)


@FAST
@given(suite=st.sampled_from(SK_SUITES), body=st.binary(max_size=120))
def test_random_sk_bodies_rejected(
    pair: tuple[Backend, Backend], suite: tuple[int, int, int], body: bytes
) -> None:
    """Random SK bodies never open; both backends say AuthenticationError."""
    encr, bits, integ, key, ikey = _suite_keys(suite, 1)
    for backend in pair:
        cipher = backend.ike_cipher(encr, bits, integ, key, ikey)
        assert _outcome(lambda c=cipher: c.open(b"aad", body)) is AuthenticationError
