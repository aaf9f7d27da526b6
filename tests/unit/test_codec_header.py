# SPDX-License-Identifier: Apache-2.0
"""IKE header and non-ESP marker (RFC 7296 §3.1, RFC 3948 §2.2)."""

from __future__ import annotations

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import IkeHeader, decode_header, ike_from_natt_datagram
from pqike.ikev2.constants import ExchangeType, HeaderFlag, NotifyType, PayloadType

SPI_I = bytes.fromhex("0102030405060708")
SPI_R = bytes.fromhex("1112131415161718")
WIRE = (
    SPI_I
    + SPI_R
    + bytes([PayloadType.SA, 0x20, ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR])
    + bytes.fromhex("00000000")
    + bytes.fromhex("0000001c")
)


def test_encode_matches_rfc_layout_for_init_request() -> None:
    header = IkeHeader(
        SPI_I, SPI_R, ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0, 33, 28
    )
    assert header.encode() == WIRE


def test_decode_reads_every_field() -> None:
    header = decode_header(WIRE)
    assert header == IkeHeader(SPI_I, SPI_R, 34, 0x08, 0, 33, 28, 2, 0)
    assert header.is_initiator
    assert not header.is_response


def test_decode_keeps_minor_version_and_reserved_flags() -> None:
    wire = bytearray(WIRE)
    wire[17] = 0x2F
    wire[19] = 0x21 | 0x80
    header = decode_header(bytes(wire))
    assert header.minor_version == 15
    assert header.flags == 0xA1
    assert header.is_response
    assert header.encode() == bytes(wire)


def test_decode_rejects_short_input() -> None:
    with pytest.raises(DecodeError, match="28 octets"):
        decode_header(WIRE[:27])


def test_decode_rejects_major_version_3_with_invalid_major_version() -> None:
    wire = bytearray(WIRE)
    wire[17] = 0x30
    with pytest.raises(DecodeError) as info:
        decode_header(bytes(wire))
    assert info.value.notify == NotifyType.INVALID_MAJOR_VERSION


def test_decode_rejects_length_below_header_size() -> None:
    wire = bytearray(WIRE)
    wire[27] = 27
    with pytest.raises(DecodeError, match="below 28") as info:
        decode_header(bytes(wire))
    assert info.value.notify == NotifyType.INVALID_SYNTAX


@pytest.mark.parametrize(("spi_i", "spi_r"), [(b"\x00" * 7, SPI_R), (SPI_I, b"")])
def test_encode_rejects_spi_not_8_octets(spi_i: bytes, spi_r: bytes) -> None:
    with pytest.raises(ValueError, match="8 octets"):
        IkeHeader(spi_i, spi_r, 34, 0, 0).encode()


def test_encode_rejects_message_id_above_32_bits() -> None:
    with pytest.raises(ValueError, match="out of range"):
        IkeHeader(SPI_I, SPI_R, 34, 0, 1 << 32).encode()


def test_natt_marker_is_stripped_from_ike() -> None:
    assert ike_from_natt_datagram(b"\x00\x00\x00\x00" + WIRE) == WIRE


@pytest.mark.parametrize(
    "datagram",
    [b"\xff", b"\x1d\xc5\x1b\x20\x00\x00\x00\x01" + bytes(20), b"\x00\x00\x00"],
)
def test_natt_non_ike_datagram_is_none(datagram: bytes) -> None:
    assert ike_from_natt_datagram(datagram) is None
