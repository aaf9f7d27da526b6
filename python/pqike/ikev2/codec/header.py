# SPDX-License-Identifier: Apache-2.0
"""IKE header (RFC 7296 §3.1) and the UDP 4500 non-ESP marker (RFC 3948 §2.2)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.constants import (
    IKE_HEADER_LENGTH,
    IKE_MAJOR_VERSION,
    NON_ESP_MARKER,
    HeaderFlag,
    NotifyType,
)

__all__ = [
    "IkeHeader",
    "decode_header",
    "header_layout",
    "ike_from_natt_datagram",
    "pack_header",
]

_HEADER_FORMAT = ">8s8sBBBBII"
_HEADER = struct.Struct(_HEADER_FORMAT)
_RESPONSE = int(HeaderFlag.RESPONSE)
_INITIATOR = int(HeaderFlag.INITIATOR)
"""Plain ints: ``int & IntFlag`` goes through the enum machinery on every call."""


@fast_init
@dataclass(frozen=True, slots=True)
class IkeHeader:
    """The fixed 28-octet IKE header.

    ::

                             1                   2                   3
         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                       IKE SA Initiator's SPI                  |
        |                                                               |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                       IKE SA Responder's SPI                  |
        |                                                               |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                          Message ID                           |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                            Length                             |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    ``next_payload`` and ``length`` are filled in by the message encoders; a decoded
    header carries the values read from the wire.
    """

    spi_i: bytes
    """IKE SA initiator's SPI, 8 octets."""
    spi_r: bytes
    """IKE SA responder's SPI, 8 octets (all zero in the first IKE_SA_INIT request)."""
    exchange_type: int
    """An :class:`ExchangeType`."""
    flags: int
    """:class:`HeaderFlag` bits (R 0x20, V 0x10, I 0x08); other bits as received."""
    message_id: int
    next_payload: int = 0
    """Type of the first payload; set by the encoder."""
    length: int = 0
    """Length of the whole message including this header; set by the encoder."""
    major_version: int = IKE_MAJOR_VERSION
    minor_version: int = 0

    @property
    def is_response(self) -> bool:
        """The R flag: this message is a response."""
        return bool(self.flags & _RESPONSE)

    @property
    def is_initiator(self) -> bool:
        """The I flag: sent by the original initiator of the IKE SA."""
        return bool(self.flags & _INITIATOR)

    def encode(self) -> bytes:
        """Return the 28 header octets exactly as the fields say.

        Raises:
            ValueError: an SPI is not 8 octets or a field is out of range.
        """
        return pack_header(_HEADER, self, self.next_payload, self.length)

    def encode_into(self, buf: bytearray, next_payload: int, length: int) -> None:
        """Write this header into ``buf[0:28]`` with the given Next Payload and Length.

        Raises:
            ValueError: an SPI is not 8 octets or a field is out of range.
        """
        if len(self.spi_i) != 8 or len(self.spi_r) != 8:
            raise ValueError(
                f"IKE SPIs are 8 octets, got {len(self.spi_i)} and {len(self.spi_r)}"
            )
        try:
            _HEADER.pack_into(
                buf,
                0,
                self.spi_i,
                self.spi_r,
                next_payload,
                (self.major_version << 4) | self.minor_version,
                self.exchange_type,
                self.flags,
                self.message_id,
                length,
            )
        except struct.error as exc:
            raise ValueError(f"IKE header field out of range: {exc}") from None


def header_layout(tail: str) -> struct.Struct:
    """A struct for the IKE header followed by ``tail`` (a struct format without a
    byte-order prefix, e.g. ``"BBH"`` for a generic payload header); for
    :func:`pack_header`."""
    return struct.Struct(_HEADER_FORMAT + tail)


def pack_header(
    layout: struct.Struct,
    header: IkeHeader,
    next_payload: int,
    length: int,
    *tail: int,
) -> bytes:
    """The header with the given Next Payload and Length, then ``tail`` packed as
    the rest of ``layout`` (see :func:`header_layout`), in one ``pack``.

    Raises:
        ValueError: as :meth:`IkeHeader.encode_into`; a ``tail`` value out of
            range raises what ``struct.pack_into`` raises for it.
    """
    spi_i = header.spi_i
    spi_r = header.spi_r
    if len(spi_i) == 8 and len(spi_r) == 8:
        try:
            return layout.pack(
                spi_i,
                spi_r,
                next_payload,
                (header.major_version << 4) | header.minor_version,
                header.exchange_type,
                header.flags,
                header.message_id,
                length,
                *tail,
            )
        except struct.error:
            pass  # the step-by-step path below says which part is wrong
    buf = bytearray(layout.size)
    header.encode_into(buf, next_payload, length)
    if tail:
        struct.pack_into(
            ">" + layout.format[len(_HEADER_FORMAT) :], buf, IKE_HEADER_LENGTH, *tail
        )
    return bytes(buf)


def decode_header(data: bytes) -> IkeHeader:
    """Decode the IKE header at the start of ``data`` (the rest is not examined).

    Raises:
        DecodeError: fewer than 28 octets, a Length below 28, or a major version other
            than 2 (notify INVALID_MAJOR_VERSION, RFC 7296 §2.5).
    """
    if len(data) < IKE_HEADER_LENGTH:
        raise DecodeError(f"IKE header needs 28 octets, got {len(data)}")
    spi_i, spi_r, next_payload, version, exchange, flags, mid, length = (
        _HEADER.unpack_from(data, 0)
    )
    major = version >> 4
    if major != IKE_MAJOR_VERSION:
        raise DecodeError(
            f"IKE major version {major} is not 2",
            notify=NotifyType.INVALID_MAJOR_VERSION,
        )
    if length < IKE_HEADER_LENGTH:
        raise DecodeError(f"IKE header Length {length} is below 28")
    return IkeHeader(
        spi_i, spi_r, exchange, flags, mid, next_payload, length, major, version & 15
    )


def ike_from_natt_datagram(datagram: bytes) -> bytes | None:
    """Split a UDP port 4500 payload (RFC 3948 §2.2).

    Returns:
        The IKE message after the four-octet non-ESP marker, or ``None`` when the
        datagram is ESP (it starts with a non-zero SPI) or a NAT-keepalive (0xFF).
    """
    if len(datagram) >= 4 and datagram[:4] == NON_ESP_MARKER:
        return datagram[4:]
    return None
