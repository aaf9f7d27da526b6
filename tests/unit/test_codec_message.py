# SPDX-License-Identifier: Apache-2.0
"""Messages and payload chains (RFC 7296 §3.1, §3.2, §2.5)."""

from __future__ import annotations

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import (
    IkeHeader,
    KePayload,
    Message,
    NoncePayload,
    NotifyPayload,
    SkfPayload,
    SkPayload,
    UnknownPayload,
    VendorIdPayload,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from pqike.ikev2.constants import ExchangeType, HeaderFlag, NotifyType, PayloadType

HEADER = IkeHeader(
    b"\x01" * 8, bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0
)
PAYLOADS = (
    KePayload(31, bytes(32)),
    NoncePayload(bytes(range(32))),
    NotifyPayload(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
)


def test_encode_fills_next_payload_and_length() -> None:
    wire = encode_message(Message(HEADER, PAYLOADS))
    assert wire[16] == PayloadType.KE
    assert int.from_bytes(wire[24:28], "big") == len(wire) == 28 + 40 + 36 + 8


def test_encode_chains_next_payload_fields() -> None:
    first, body = encode_payloads(PAYLOADS)
    assert first == PayloadType.KE
    assert body[0] == PayloadType.NONCE
    assert body[40] == PayloadType.NOTIFY
    assert body[76] == PayloadType.NO_NEXT_PAYLOAD


def test_decode_inverts_encode_for_message() -> None:
    wire = encode_message(Message(HEADER, PAYLOADS))
    message = decode_message(wire)
    assert message.payloads == PAYLOADS
    assert message.header.length == len(wire)
    assert message.header.next_payload == PayloadType.KE
    assert encode_message(message) == wire


def test_empty_message_has_no_next_payload() -> None:
    wire = encode_message(Message(HEADER))
    assert len(wire) == 28
    assert decode_message(wire).payloads == ()


def test_find_helpers_locate_payloads() -> None:
    message = Message(HEADER, (*PAYLOADS, NotifyPayload(NotifyType.COOKIE, b"c")))
    assert message.find(NoncePayload) == PAYLOADS[1]
    assert message.find(VendorIdPayload) is None
    assert len(message.find_all(NotifyPayload)) == 2
    assert message.notify(NotifyType.COOKIE) == NotifyPayload(16390, b"c")
    assert message.notify(NotifyType.INVALID_SYNTAX) is None


def test_unknown_payload_keeps_type_critical_and_body() -> None:
    unknown = UnknownPayload(200, True, b"opaque")
    _, body = encode_payloads((unknown, NoncePayload(bytes(16))))
    assert body[:4] == bytes([PayloadType.NONCE, 0x80, 0, 10])
    assert decode_payloads(body, 200) == (unknown, NoncePayload(bytes(16)))


def test_critical_bit_on_known_payload_is_ignored() -> None:
    _, body = encode_payloads((NoncePayload(bytes(16)),))
    flagged = body[:1] + b"\x80" + body[2:]
    assert decode_payloads(flagged, PayloadType.NONCE) == (NoncePayload(bytes(16)),)


def test_sk_payload_next_payload_is_first_inner_type() -> None:
    sk = SkPayload(PayloadType.IDI, b"sealed")
    first, body = encode_payloads((sk,))
    assert first == PayloadType.SK
    assert body[0] == PayloadType.IDI
    assert decode_payloads(body, first) == (sk,)


def test_skf_payload_round_trips() -> None:
    skf = SkfPayload(PayloadType.KE, 1, 2, b"sealed")
    first, body = encode_payloads((skf,))
    assert body[4:8] == bytes.fromhex("00010002")
    assert decode_payloads(body, first) == (skf,)


def test_encode_rejects_sk_before_other_payloads() -> None:
    with pytest.raises(ValueError, match="last payload"):
        encode_payloads((SkPayload(0, b""), NoncePayload(bytes(16))))


def test_encode_rejects_payload_above_65535_octets() -> None:
    with pytest.raises(ValueError, match="octets"):
        encode_payloads((VendorIdPayload(bytes(65532)),))


def test_decode_rejects_length_field_other_than_datagram() -> None:
    wire = encode_message(Message(HEADER, PAYLOADS))
    with pytest.raises(DecodeError, match="Length"):
        decode_message(wire + b"\x00")
    with pytest.raises(DecodeError):
        decode_message(wire[:-1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (bytes.fromhex("000000"), "truncated"),
        (bytes.fromhex("00000003"), "length 3 exceeds"),
        (bytes.fromhex("00000009") + bytes(4), "length 9 exceeds"),
        (bytes.fromhex("00000004") + b"\x00", "1 octets after the last payload"),
    ],
)
def test_decode_rejects_bad_payload_lengths(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_payloads(body, PayloadType.VENDOR_ID)


def test_decode_rejects_sk_not_last() -> None:
    body = bytes.fromhex("28000008aabbccdd") + bytes.fromhex("00000004")
    with pytest.raises(DecodeError, match="not the last payload"):
        decode_payloads(body, PayloadType.SK)


def test_decode_rejects_sk_inside_sk_plaintext() -> None:
    with pytest.raises(DecodeError, match="inside an encrypted payload"):
        decode_payloads(bytes.fromhex("00000004"), PayloadType.SK, inner=True)


@pytest.mark.parametrize("wire", ["0000000800000002", "0000000800030002"])
def test_decode_rejects_skf_numbering(wire: str) -> None:
    with pytest.raises(DecodeError, match="SKF fragment"):
        decode_payloads(bytes.fromhex(wire), PayloadType.SKF)


def test_critical_unknown_payload_last_keeps_its_critical_bit() -> None:
    chain = (NoncePayload(bytes(16)), UnknownPayload(201, True, b"x"))
    first, body = encode_payloads(chain)
    assert first == PayloadType.NONCE
    assert body[:4] == bytes([201, 0, 0, 20])
    assert body[20:24] == bytes([0, 0x80, 0, 5])
    assert decode_payloads(body, first) == chain


def test_payload_subclass_encodes_like_its_base() -> None:
    class MyNotify(NotifyPayload):
        __slots__ = ()

    mine = MyNotify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
    base = NotifyPayload(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
    assert encode_payloads((mine, mine)) == encode_payloads((base, base))


def test_encode_rejects_skf_before_other_payloads_even_when_unknown_follow() -> None:
    with pytest.raises(ValueError, match="last payload"):
        encode_payloads(
            (
                NoncePayload(bytes(16)),
                SkfPayload(0, 1, 1, b""),
                UnknownPayload(9, True, b""),
            )
        )
