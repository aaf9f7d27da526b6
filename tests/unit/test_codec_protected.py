# SPDX-License-Identifier: Apache-2.0
"""SK sealing/opening layout, RFC 7383 fragments and RFC 9242 IntAuth chunks.

A toy cipher stands in for ``pqike.crypto``: it XORs the plaintext and appends a
SHA-256 tag over ``aad | iv | ciphertext``, so the tests see exactly which octets
the codec authenticates.
"""

from __future__ import annotations

import hashlib

import pytest

from pqike.errors import AuthenticationError, DecodeError
from pqike.ikev2.codec import (
    IdiPayload,
    IkeHeader,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Reassembler,
    SkfPayload,
    SkPayload,
    decode_message,
    decode_protected,
    encode_payloads,
    encode_protected,
    fragment_protected,
    int_auth_chunks,
    open_protected,
)
from pqike.ikev2.constants import ExchangeType, HeaderFlag, PayloadType


class ToyCipher:
    """Not a cipher: XOR 0x5A, padding to ``block``, 16-octet SHA-256 tag."""

    iv_length = 8

    def __init__(self, block: int = 1) -> None:
        self.block = block
        self.aads: list[bytes] = []

    def sealed_length(self, plaintext_len: int) -> int:
        padded = -(-(plaintext_len + 1) // self.block) * self.block
        return 8 + padded + 16

    def seal(self, aad: bytes, iv: bytes, plaintext: bytes) -> bytes:
        self.aads.append(aad)
        pad = self.sealed_length(len(plaintext)) - 8 - 16 - len(plaintext) - 1
        ct = bytes(b ^ 0x5A for b in plaintext + bytes(pad) + bytes((pad,)))
        return iv + ct + hashlib.sha256(aad + iv + ct).digest()[:16]

    def open(self, aad: bytes, body: bytes) -> bytes:
        iv, ct, tag = body[:8], body[8:-16], body[-16:]
        if hashlib.sha256(aad + iv + ct).digest()[:16] != tag:
            raise AuthenticationError
        data = bytes(b ^ 0x5A for b in ct)
        return data[: len(data) - data[-1] - 1]


HEADER = IkeHeader(
    bytes(range(8)),
    bytes(range(8, 16)),
    ExchangeType.IKE_INTERMEDIATE,
    HeaderFlag.INITIATOR,
    1,
)
INNER = (KePayload(36, bytes(range(256)) * 4 + bytes(160)), NotifyPayload(16441, b"B"))
IV = b"\x00" * 7 + b"\x01"


def test_encode_protected_authenticates_header_and_sk_header() -> None:
    cipher = ToyCipher()
    wire = encode_protected(HEADER, INNER, cipher, IV)
    (aad,) = cipher.aads
    assert wire.startswith(aad)
    assert len(aad) == 32
    assert aad[16] == PayloadType.SK
    assert int.from_bytes(aad[24:28], "big") == len(wire)
    assert aad[28] == PayloadType.KE
    assert int.from_bytes(aad[30:32], "big") == len(wire) - 28
    assert wire[32:40] == IV


def test_decode_protected_inverts_encode_protected() -> None:
    cipher = ToyCipher(block=16)
    wire = encode_protected(HEADER, INNER, cipher, IV)
    header, inner = decode_protected(wire, cipher)
    assert inner == INNER
    assert header.length == len(wire)
    assert header.next_payload == PayloadType.SK


def test_decode_protected_raises_authentication_error_on_flip() -> None:
    cipher = ToyCipher()
    wire = bytearray(encode_protected(HEADER, INNER, cipher, IV))
    wire[20] ^= 1  # exchange type is authenticated data
    with pytest.raises(AuthenticationError):
        decode_protected(bytes(wire), cipher)


def test_decode_protected_rejects_message_without_sk() -> None:
    from pqike.ikev2.codec import Message, encode_message

    wire = encode_message(Message(HEADER, (NoncePayload(bytes(16)),)))
    with pytest.raises(DecodeError, match="no SK or SKF"):
        decode_protected(wire, ToyCipher())


def test_decode_protected_rejects_body_below_cipher_minimum() -> None:
    from pqike.ikev2.codec import Message, encode_message

    wire = encode_message(Message(HEADER, (SkPayload(PayloadType.KE, bytes(24)),)))
    with pytest.raises(DecodeError, match="too short"):
        decode_protected(wire, ToyCipher())


def test_decode_protected_rejects_bad_inner_chain() -> None:
    cipher = ToyCipher()
    wire = encode_protected(HEADER, (NoncePayload(bytes(8)),), cipher, IV)
    with pytest.raises(DecodeError, match=r"16\.\.256"):
        decode_protected(wire, cipher)


def test_encode_protected_rejects_iv_of_wrong_length() -> None:
    with pytest.raises(ValueError, match="IV must be 8"):
        encode_protected(HEADER, INNER, ToyCipher(), b"\x00" * 16)


def fragments(cipher: ToyCipher, size: int = 600) -> list[bytes]:
    first, body = encode_payloads(INNER)
    ivs = (n.to_bytes(8, "big") for n in range(1, 100))
    return fragment_protected(HEADER, body, cipher, ivs, size, 28, first_payload=first)


def test_fragments_respect_datagram_size_and_numbering() -> None:
    cipher = ToyCipher(block=16)
    datagrams = fragments(cipher)
    assert len(datagrams) == 3  # 1201 octets, at most 495 per 600-octet datagram
    for number, wire in enumerate(datagrams, start=1):
        assert len(wire) + 28 <= 600
        (skf,) = decode_message(wire).payloads
        assert isinstance(skf, SkfPayload)
        assert (skf.fragment_number, skf.total_fragments) == (number, 3)
        assert skf.first_payload == (PayloadType.KE if number == 1 else 0)


def test_fragment_aad_covers_fragment_number_and_total() -> None:
    cipher = ToyCipher()
    datagrams = fragments(cipher)
    for aad, wire in zip(cipher.aads, datagrams, strict=True):
        assert len(aad) == 36
        assert wire.startswith(aad)
        assert aad[16] == PayloadType.SKF


def reassemble(cipher: ToyCipher, datagrams: list[bytes], r: Reassembler) -> object:
    result = None
    for wire in datagrams:
        opened = open_protected(wire, cipher)
        assert isinstance(opened.encrypted, SkfPayload)
        result = r.add(opened.header, opened.encrypted, opened.plaintext)
    return result


def test_reassembler_returns_inner_payloads_and_first_type() -> None:
    cipher = ToyCipher(block=16)
    datagrams = fragments(cipher)
    r = Reassembler()
    assert reassemble(cipher, datagrams[:1], r) is None
    result = reassemble(cipher, datagrams[1:], r)
    assert result is not None
    assert result.payloads == INNER  # type: ignore[attr-defined]
    assert result.first_payload == PayloadType.KE  # type: ignore[attr-defined]
    assert result.plaintext == encode_payloads(INNER)[1]  # type: ignore[attr-defined]
    assert len(r) == 0


def test_reassembler_accepts_fragments_out_of_order_and_duplicates() -> None:
    cipher = ToyCipher()
    datagrams = fragments(cipher, 300)
    assert len(datagrams) > 3
    order = [datagrams[2], datagrams[2], *datagrams[::-1]]
    r = Reassembler()
    results = [reassemble(cipher, [d], r) for d in order]
    assert all(x is None for x in results[:-1])
    assert results[-1] is not None


def test_reassembler_restarts_on_larger_total_and_ignores_smaller() -> None:
    cipher = ToyCipher()
    small = fragments(cipher, 600)
    large = fragments(cipher, 300)
    r = Reassembler()
    assert reassemble(cipher, small[:1], r) is None
    assert reassemble(cipher, large[:-1], r) is None
    assert reassemble(cipher, small[1:], r) is None  # smaller Total: ignored
    result = reassemble(cipher, large[-1:], r)
    assert result is not None
    assert result.payloads == INNER  # type: ignore[attr-defined]


def test_reassembler_rejects_too_many_fragments_silently() -> None:
    cipher = ToyCipher()
    r = Reassembler(max_fragments=3)
    with pytest.raises(DecodeError, match="limit of 3") as info:
        reassemble(cipher, fragments(cipher, 300), r)
    assert info.value.notify is None


def test_reassembler_rejects_too_many_bytes_and_drops_collection() -> None:
    cipher = ToyCipher()
    r = Reassembler(max_total_bytes=400)
    with pytest.raises(DecodeError, match="exceeds 400") as info:
        reassemble(cipher, fragments(cipher, 300), r)
    assert info.value.notify is None
    assert len(r) == 0


def test_reassembler_keeps_requests_and_responses_apart() -> None:
    cipher = ToyCipher()
    datagrams = fragments(cipher)
    r = Reassembler(max_messages=2)
    assert reassemble(cipher, datagrams[:1], r) is None
    other = IkeHeader(HEADER.spi_i, HEADER.spi_r, 43, HeaderFlag.RESPONSE, 1)
    r.add(other, SkfPayload(0, 2, 2, b""), b"")
    assert len(r) == 2
    assert reassemble(cipher, datagrams[1:], r) is not None
    r.clear()
    assert len(r) == 0


def test_fragment_protected_rejects_tiny_datagram() -> None:
    with pytest.raises(ValueError, match="no room"):
        fragments(ToyCipher(), 28 + 36 + 25)


def test_fragment_protected_rejects_exhausted_ivs() -> None:
    first, body = encode_payloads(INNER)
    with pytest.raises(ValueError, match="ran out of IVs"):
        fragment_protected(
            HEADER, body, ToyCipher(), [IV], 300, 28, first_payload=first
        )


def test_int_auth_chunks_adjust_lengths_for_sk() -> None:
    cipher = ToyCipher()
    wire = encode_protected(HEADER, INNER, cipher, IV)
    opened = open_protected(wire, cipher)
    a, p = int_auth_chunks(opened.header, opened.encrypted, opened.plaintext)
    assert p == encode_payloads(INNER)[1]
    assert a[:24] == wire[:24]
    assert int.from_bytes(a[24:28], "big") == len(a) + len(p)
    assert a[28:30] == bytes([PayloadType.KE, 0])
    assert int.from_bytes(a[30:32], "big") == 4 + len(p)


def test_int_auth_chunks_rewrite_skf_as_sk() -> None:
    cipher = ToyCipher()
    r = Reassembler()
    result = reassemble(cipher, fragments(cipher), r)
    assert result is not None
    a, p = int_auth_chunks(
        result.header,  # type: ignore[attr-defined]
        result.first_payload,  # type: ignore[attr-defined]
        result.plaintext,  # type: ignore[attr-defined]
    )
    whole = encode_protected(HEADER, INNER, cipher, IV)
    opened = open_protected(whole, cipher)
    assert (a, p) == int_auth_chunks(opened.header, opened.encrypted, opened.plaintext)
    assert a[16] == PayloadType.SK


def test_int_auth_chunks_of_empty_sk_has_empty_p() -> None:
    a, p = int_auth_chunks(HEADER, SkPayload(0, b""), b"")
    assert p == b""
    assert int.from_bytes(a[24:28], "big") == 32
    assert a[28:32] == bytes.fromhex("00000004")


def test_int_auth_chunks_take_idi_type_from_int() -> None:
    a, _ = int_auth_chunks(HEADER, PayloadType.IDI, b"")
    assert a[28] == IdiPayload.payload_type


REAL_CIPHERS = {
    # (ENCR, key bits, INTEG, encryption key octets, integrity key octets)
    "aes256-cbc-sha256": (12, 256, 12, 32, 32),
    "aes128-cbc-sha1": (12, 128, 2, 16, 20),
    "aes256gcm16": (20, 256, 0, 36, 0),
    "chacha20poly1305": (28, 256, 0, 36, 0),
}


@pytest.mark.parametrize("name", sorted(REAL_CIPHERS))
def test_fragment_chunks_are_the_largest_that_fit(name: str) -> None:
    """Each fragment carries as much plaintext as its datagram allows: with CBC
    (a block size and a Pad Length octet) the chunk was up to a block too small,
    which costs an extra fragment for some message sizes."""
    from pqike import crypto
    from pqike.ikev2.codec.fragment import _chunk_size

    encr, bits, integ, ekey, ikey = REAL_CIPHERS[name]
    cipher = crypto.ike_cipher(encr, bits, integ, bytes(ekey), bytes(ikey))
    for space in range(cipher.sealed_length(0) - 2, 1400):
        chunk = _chunk_size(cipher, space)
        if cipher.sealed_length(0) > space:
            assert chunk == 0
            continue
        assert cipher.sealed_length(chunk) <= space
        assert cipher.sealed_length(chunk + 1) > space


def test_cbc_message_that_fills_two_fragments_exactly_takes_two() -> None:
    from pqike import crypto
    from pqike.ikev2.codec.fragment import _SKF_OVERHEAD

    cipher = crypto.ike_cipher(12, 256, 12, bytes(32), bytes(32))
    size, overhead = 1280, 28
    # RFC 7296 §3.14 with AES-CBC and HMAC-SHA2-256-128: IV (16), the plaintext and
    # its Pad Length octet padded to 16-octet blocks, ICV (16).
    space = size - overhead - _SKF_OVERHEAD
    largest = (space - 16 - 16) // 16 * 16 - 1
    ivs = (n.to_bytes(16, "big") for n in range(1, 10))
    datagrams = fragment_protected(
        HEADER,
        bytes(2 * largest),
        cipher,
        ivs,
        size,
        overhead,
        first_payload=PayloadType.KE,
    )
    assert len(datagrams) == 2
    assert [len(d) + overhead for d in datagrams] == [size - space % 16] * 2
