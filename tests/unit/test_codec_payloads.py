# SPDX-License-Identifier: Apache-2.0
"""KE, ID, CERT/CERTREQ, AUTH, Nonce, Notify, Delete, Vendor ID, EAP (RFC 7296 §3)."""

from __future__ import annotations

from typing import Any

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    VendorIdPayload,
)
from pqike.ikev2.constants import (
    AuthMethod,
    CertEncoding,
    IdType,
    KeMethod,
    NotifyType,
    ProtocolId,
)

ROUND_TRIPS = [
    KePayload(KeMethod.ML_KEM_768, bytes(1184)),
    KePayload(KeMethod.CURVE25519, bytes(range(32))),
    IdiPayload(IdType.ID_FQDN, b"a.pq.test"),
    IdrPayload(IdType.ID_IPV4_ADDR, b"\x0a\x00\x00\x02"),
    CertPayload(CertEncoding.X509_SIGNATURE, b"\x30\x82"),
    CertReqPayload(CertEncoding.X509_SIGNATURE, bytes(20)),
    AuthPayload(AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE, bytes(48)),
    NoncePayload(bytes(32)),
    NotifyPayload(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED),
    NotifyPayload(NotifyType.REKEY_SA, b"", ProtocolId.ESP, b"\xc0\x01\x02\x03"),
    DeletePayload(ProtocolId.IKE),
    DeletePayload(ProtocolId.ESP, 4, (b"\x01\x02\x03\x04", b"\x05\x06\x07\x08")),
    VendorIdPayload(b"strongSwan"),
    VendorIdPayload(b""),
    EapPayload(bytes.fromhex("0201000501")),
]


@pytest.mark.parametrize("payload", ROUND_TRIPS, ids=lambda p: type(p).__name__)
def test_decode_inverts_encode_for_each_payload(payload: Any) -> None:
    assert type(payload).decode(payload.encode()) == payload


def test_ke_layout_has_method_and_reserved() -> None:
    wire = KePayload(KeMethod.ML_KEM_768, b"\xaa").encode()
    assert wire == bytes.fromhex("00240000aa")


def test_ke_decode_ignores_reserved_octets() -> None:
    assert KePayload.decode(bytes.fromhex("001fffff01")) == KePayload(31, b"\x01")


def test_id_encode_is_the_maced_id_body() -> None:
    wire = IdiPayload(IdType.ID_FQDN, b"a.pq.test").encode()
    assert wire == b"\x02\x00\x00\x00a.pq.test"


def test_idi_and_idr_with_same_fields_differ() -> None:
    idi: object = IdiPayload(2, b"x")
    assert idi != IdrPayload(2, b"x")
    assert type(IdrPayload.decode(b"\x02\x00\x00\x00x")) is IdrPayload


def test_notify_layout_for_ike_sa_notify() -> None:
    wire = NotifyPayload(NotifyType.INVALID_KE_PAYLOAD, b"\x00\x24").encode()
    assert wire == bytes.fromhex("000000110024")


def test_notify_decode_splits_spi_and_data() -> None:
    decoded = NotifyPayload.decode(bytes.fromhex("03044009c0010203ff"))
    assert decoded == NotifyPayload(16393, b"\xff", 3, bytes.fromhex("c0010203"))


def test_notify_type_is_error_below_16384() -> None:
    assert NotifyType.STATE_NOT_FOUND.is_error
    assert not NotifyType.ADDITIONAL_KEY_EXCHANGE.is_error


def test_delete_layout_for_ike_sa() -> None:
    assert DeletePayload(ProtocolId.IKE).encode() == bytes.fromhex("01000000")


def test_delete_encode_rejects_spi_of_wrong_size() -> None:
    with pytest.raises(ValueError, match="SPI Size is 4"):
        DeletePayload(3, 4, (b"\x01\x02",)).encode()


@pytest.mark.parametrize(
    ("kind", "wire", "message"),
    [
        (KePayload, "0024", "KE payload body needs 4 octets"),
        (IdiPayload, "020000", "ID payload body needs 4 octets"),
        (CertPayload, "", "CERT payload body needs 1"),
        (CertReqPayload, "", "CERT payload body needs 1"),
        (AuthPayload, "02", "AUTH payload body needs 4"),
        (NotifyPayload, "000000", "Notify payload body needs 4"),
        (NotifyPayload, "030440090102", "SPI Size 4 exceeds"),
        (DeletePayload, "0304", "Delete payload body needs 4"),
        (DeletePayload, "0304000201020304", "2 SPIs of 4 octets has 4"),
        (DeletePayload, "0100000101", "1 SPIs of 0 octets has 1"),
        (DeletePayload, "01000001", "SPIs of size 0"),
        (NoncePayload, "00" * 15, "16..256 octets, got 15"),
        (NoncePayload, "00" * 257, "16..256 octets, got 257"),
    ],
)
def test_decode_rejects_short_or_inconsistent_body(
    kind: Any, wire: str, message: str
) -> None:
    with pytest.raises(DecodeError, match=message):
        kind.decode(bytes.fromhex(wire))


@pytest.mark.parametrize("size", [16, 256])
def test_nonce_decode_accepts_limits(size: int) -> None:
    assert NoncePayload.decode(bytes(size)).data == bytes(size)
