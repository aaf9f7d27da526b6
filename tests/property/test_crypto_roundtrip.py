# SPDX-License-Identifier: Apache-2.0
"""Per-backend properties: seal then open returns the input; any single bit flip
raises AuthenticationError (SK payloads, raw AEAD, ESP)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqike.crypto import Backend, suites
from pqike.errors import AuthenticationError, DecodeError, ReplayError

SETTINGS = settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SK_SUITES = [
    (20, 256, 0),
    (18, 128, 0),
    (19, 192, 0),
    (28, 0, 0),
    (12, 256, 12),
    (12, 128, 2),
    (12, 192, 13),
    (12, 256, 14),
]


@SETTINGS
@given(
    suite=st.sampled_from(SK_SUITES),
    aad=st.binary(min_size=1, max_size=64),
    plaintext=st.binary(max_size=400),
    flip=st.integers(min_value=0),
)
def test_sk_seal_open_and_bit_flip(
    backend: Backend,
    suite: tuple[int, int, int],
    aad: bytes,
    plaintext: bytes,
    flip: int,
) -> None:
    """IkeCipher: open(seal(x)) == x; one flipped bit in AAD or body fails."""
    encr, bits, integ = suite
    key = bytes(range(suites.encr_key_length(encr, bits)))
    ikey = bytes(range(100, 100 + suites.integ_key_length(integ)))
    c = backend.ike_cipher(encr, bits, integ, key, ikey)
    body = c.seal(aad, bytes(range(c.iv_length)), plaintext)
    assert c.open(aad, body) == plaintext
    joined = bytearray(aad + body)
    bit = flip % (8 * len(joined))
    joined[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(AuthenticationError):
        c.open(bytes(joined[: len(aad)]), bytes(joined[len(aad) :]))


@SETTINGS
@given(
    encr_id=st.sampled_from([18, 19, 20, 28]),
    aad=st.binary(max_size=40),
    plaintext=st.binary(max_size=300),
    flip=st.integers(min_value=0),
)
def test_aead_seal_open_and_bit_flip(
    backend: Backend, encr_id: int, aad: bytes, plaintext: bytes, flip: int
) -> None:
    """Raw AEAD: roundtrip; any single bit flip of ciphertext|tag fails."""
    key, nonce = bytes(range(32)), bytes(range(12))
    sealed = bytearray(backend.aead_seal(encr_id, key, nonce, aad, plaintext))
    assert backend.aead_open(encr_id, key, nonce, aad, bytes(sealed)) == plaintext
    bit = flip % (8 * len(sealed))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(AuthenticationError):
        backend.aead_open(encr_id, key, nonce, aad, bytes(sealed))


@SETTINGS
@given(
    encr_id=st.sampled_from([20, 28]),
    payload=st.binary(max_size=300),
    next_header=st.integers(0, 255),
    flip=st.integers(min_value=0),
)
def test_esp_seal_open_and_bit_flip(
    backend: Backend, encr_id: int, payload: bytes, next_header: int, flip: int
) -> None:
    """ESP: roundtrip; a flipped bit after the SPI fails authentication (a flipped
    SPI bit is a DecodeError: the packet is not for this SA)."""
    key = bytes(range(36))
    out, inbound = backend.esp_sa(77, encr_id, key), backend.esp_sa(77, encr_id, key)
    inbound_copy = backend.esp_sa(77, encr_id, key)
    packet = bytearray(out.seal(payload, next_header))
    assert inbound.open(bytes(packet)) == (payload, next_header)
    bit = flip % (8 * len(packet))
    packet[bit // 8] ^= 1 << (bit % 8)
    expected: type[Exception] = AuthenticationError
    if bit < 32:
        expected = DecodeError
    elif bytes(packet[4:8]) == bytes(4):
        expected = ReplayError  # sequence number 0 is never valid
    with pytest.raises(expected):
        inbound_copy.open(bytes(packet))
