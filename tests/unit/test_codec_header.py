# SPDX-License-Identifier: Apache-2.0
"""IKE header and non-ESP marker (RFC 7296 §3.1, RFC 3948 §2.2)."""

from __future__ import annotations

import struct

import pytest

from pqike.errors import DecodeError
from pqike.ikev2.codec import IkeHeader, decode_header, ike_from_natt_datagram
from pqike.ikev2.codec.header import header_layout, pack_header
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


def _step_by_step(header: IkeHeader, next_payload: int, length: int) -> bytes:
    buf = bytearray(32)
    header.encode_into(buf, next_payload, length)
    struct.pack_into(">BBH", buf, 28, 41, 0, length - 28)
    return bytes(buf)


@pytest.mark.parametrize(
    "header",
    [
        IkeHeader(SPI_I, SPI_R, 37, 0x20, 7),
        IkeHeader(SPI_I, SPI_R, 255, 0xFF, (1 << 32) - 1, 9, 99, 15, 15),
    ],
)
def test_pack_header_equals_encode_into_then_tail(header: IkeHeader) -> None:
    layout = header_layout("BBH")
    assert layout.size == 32
    packed = pack_header(layout, header, PayloadType.SK, 120, 41, 0, 92)
    assert packed == _step_by_step(header, PayloadType.SK, 120)
    bare = pack_header(header_layout(""), header, 33, 28)
    assert bare == packed[:16] + b"\x21" + packed[17:24] + (28).to_bytes(4, "big")
    assert header.encode() == pack_header(
        header_layout(""), header, header.next_payload, header.length
    )


@pytest.mark.parametrize(("spi_i", "spi_r"), [(b"\x00" * 9, SPI_R), (SPI_I, b"")])
def test_pack_header_rejects_spi_not_8_octets(spi_i: bytes, spi_r: bytes) -> None:
    header = IkeHeader(spi_i, spi_r, 34, 0, 0)
    with pytest.raises(ValueError, match="8 octets"):
        pack_header(header_layout("BBH"), header, 46, 32, 0, 0, 4)


def test_pack_header_out_of_range_fails_as_step_by_step() -> None:
    with pytest.raises(ValueError, match="IKE header field out of range"):
        pack_header(header_layout(""), IkeHeader(SPI_I, SPI_R, 256, 0, 0), 0, 28)
    with pytest.raises(struct.error):  # a tail field: what struct.pack_into raises
        pack_header(
            header_layout("BBH"), IkeHeader(SPI_I, SPI_R, 34, 0, 0), 46, 0, 0, 0, 65536
        )
