# SPDX-License-Identifier: Apache-2.0
"""Payloads with a small fixed part and opaque data (RFC 7296 §3.4-§3.12, §3.16).

Every class holds only the payload body: the generic payload header (Next Payload,
Critical bit, Payload Length) belongs to the message and is written by
:func:`pqike.ikev2.codec.message.encode_payloads`. ``decode(body)`` takes the octets
after the generic header; ``encode()`` returns them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.constants import PayloadType

__all__ = [
    "AuthPayload",
    "CertPayload",
    "CertReqPayload",
    "DeletePayload",
    "EapPayload",
    "IdPayload",
    "IdiPayload",
    "IdrPayload",
    "KePayload",
    "NoncePayload",
    "NotifyPayload",
    "UnknownPayload",
    "VendorIdPayload",
]

_U8_RES3 = struct.Struct(">B3x")
_U16_RES2 = struct.Struct(">H2x")
_NOTIFY = struct.Struct(">BBH")
_DELETE = struct.Struct(">BBH")

NONCE_MIN = 16
NONCE_MAX = 256


def _short(name: str, need: int, got: int) -> DecodeError:
    return DecodeError(f"{name} payload body needs {need} octets, got {got}")


@fast_init
@dataclass(frozen=True, slots=True)
class KePayload:
    """Key Exchange payload (RFC 7296 §3.4; ML-KEM data per SPEC §1.2).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +---------------+---------------+---------------+---------------+
        |   Key Exchange Method Num     |           RESERVED            |
        +---------------+---------------+---------------+---------------+
        ~                       Key Exchange Data                       ~
        +---------------+---------------+---------------+---------------+
    """

    payload_type: ClassVar[int] = PayloadType.KE
    method: int
    """A :class:`KeMethod`."""
    data: bytes
    """DH public value, ML-KEM encapsulation key (initiator) or ciphertext."""

    @classmethod
    def decode(cls, body: bytes) -> KePayload:
        if len(body) < 4:
            raise _short("KE", 4, len(body))
        return cls(_U16_RES2.unpack_from(body)[0], body[4:])

    def encode(self) -> bytes:
        return _U16_RES2.pack(self.method) + self.data


@fast_init
@dataclass(frozen=True, slots=True)
class IdPayload:
    """Identification payload body shared by IDi and IDr (RFC 7296 §3.5).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +---------------+---------------+---------------+---------------+
        |   ID Type     |                 RESERVED                      |
        +---------------+---------------+---------------+---------------+
        ~                   Identification Data                         ~
        +---------------+---------------+---------------+---------------+

    ``encode()`` is exactly the RestOfIDPayload that RFC 7296 §2.15 MACs.
    """

    payload_type: ClassVar[int] = PayloadType.IDI
    id_type: int
    """An :class:`IdType`."""
    data: bytes

    @classmethod
    def decode(cls, body: bytes) -> Self:
        if len(body) < 4:
            raise _short("ID", 4, len(body))
        return cls(body[0], body[4:])

    def encode(self) -> bytes:
        return _U8_RES3.pack(self.id_type) + self.data


@fast_init
@dataclass(frozen=True, slots=True)
class IdiPayload(IdPayload):
    """IDi: the initiator's identity (payload type 35)."""

    payload_type: ClassVar[int] = PayloadType.IDI


@fast_init
@dataclass(frozen=True, slots=True)
class IdrPayload(IdPayload):
    """IDr: the responder's identity (payload type 36)."""

    payload_type: ClassVar[int] = PayloadType.IDR


@fast_init
@dataclass(frozen=True, slots=True)
class CertPayload:
    """Certificate payload (RFC 7296 §3.6); CERTREQ (§3.7) has the same layout.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Cert Encoding |                                               |
        +-+-+-+-+-+-+-+-+                                               |
        ~                       Certificate Data                        ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.CERT
    encoding: int
    """A :class:`CertEncoding`."""
    data: bytes
    """Certificate data, or for CERTREQ the Certification Authority field."""

    @classmethod
    def decode(cls, body: bytes) -> Self:
        if len(body) < 1:
            raise _short("CERT", 1, len(body))
        return cls(body[0], body[1:])

    def encode(self) -> bytes:
        return bytes((self.encoding,)) + self.data


@fast_init
@dataclass(frozen=True, slots=True)
class CertReqPayload(CertPayload):
    """Certificate Request payload (RFC 7296 §3.7, payload type 38)."""

    payload_type: ClassVar[int] = PayloadType.CERTREQ


@fast_init
@dataclass(frozen=True, slots=True)
class AuthPayload:
    """Authentication payload (RFC 7296 §3.8).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +---------------+---------------+---------------+---------------+
        | Auth Method   |                RESERVED                       |
        +---------------+---------------+---------------+---------------+
        ~                      Authentication Data                      ~
        +---------------+---------------+---------------+---------------+
    """

    payload_type: ClassVar[int] = PayloadType.AUTH
    method: int
    """An :class:`AuthMethod`."""
    data: bytes

    @classmethod
    def decode(cls, body: bytes) -> AuthPayload:
        if len(body) < 4:
            raise _short("AUTH", 4, len(body))
        return cls(body[0], body[4:])

    def encode(self) -> bytes:
        return _U8_RES3.pack(self.method) + self.data


@fast_init
@dataclass(frozen=True, slots=True)
class NoncePayload:
    """Nonce payload (RFC 7296 §3.9): 16 to 256 octets of random data.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                            Nonce Data                         ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    The decoder rejects sizes outside 16..256 (RFC 7296 §3.9 "MUST be between").
    """

    payload_type: ClassVar[int] = PayloadType.NONCE
    data: bytes

    @classmethod
    def decode(cls, body: bytes) -> NoncePayload:
        if not NONCE_MIN <= len(body) <= NONCE_MAX:
            raise DecodeError(f"Nonce data must be 16..256 octets, got {len(body)}")
        return cls(body)

    def encode(self) -> bytes:
        return self.data


@fast_init
@dataclass(frozen=True, slots=True)
class NotifyPayload:
    """Notify payload (RFC 7296 §3.10).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |  Protocol ID  |   SPI Size    |      Notify Message Type      |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                Security Parameter Index (SPI)                 ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                       Notification Data                       ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.NOTIFY
    notify_type: int
    """A :class:`NotifyType`; below 16384 is an error."""
    data: bytes = b""
    protocol_id: int = 0
    """0 for notifications about the IKE SA, else a :class:`ProtocolId`."""
    spi: bytes = b""

    @classmethod
    def decode(cls, body: bytes) -> NotifyPayload:
        if len(body) < 4:
            raise _short("Notify", 4, len(body))
        protocol_id, spi_size, notify_type = _NOTIFY.unpack_from(body)
        if 4 + spi_size > len(body):
            raise DecodeError(f"Notify SPI Size {spi_size} exceeds the payload")
        return cls(
            notify_type, body[4 + spi_size :], protocol_id, body[4 : 4 + spi_size]
        )

    def encode(self) -> bytes:
        return (
            _NOTIFY.pack(self.protocol_id, len(self.spi), self.notify_type)
            + self.spi
            + self.data
        )


@fast_init
@dataclass(frozen=True, slots=True)
class DeletePayload:
    """Delete payload (RFC 7296 §3.11); an IKE SA delete has protocol 1 and no SPIs.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Protocol ID   |   SPI Size    |          Num of SPIs          |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~               Security Parameter Index(es) (SPI)              ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.DELETE
    protocol_id: int
    spi_size: int = 0
    spis: tuple[bytes, ...] = ()

    @classmethod
    def decode(cls, body: bytes) -> DeletePayload:
        if len(body) < 4:
            raise _short("Delete", 4, len(body))
        protocol_id, spi_size, count = _DELETE.unpack_from(body)
        if len(body) != 4 + spi_size * count:
            raise DecodeError(
                f"Delete payload with {count} SPIs of {spi_size} octets has "
                f"{len(body) - 4} octets of SPIs"
            )
        if spi_size == 0:
            if count:
                raise DecodeError("Delete payload lists SPIs of size 0")
            return cls(protocol_id)
        spis = tuple(
            body[i : i + spi_size] for i in range(4, 4 + spi_size * count, spi_size)
        )
        return cls(protocol_id, spi_size, spis)

    def encode(self) -> bytes:
        for spi in self.spis:
            if len(spi) != self.spi_size:
                raise ValueError(
                    f"Delete SPI is {len(spi)} octets, SPI Size is {self.spi_size}"
                )
        return _DELETE.pack(self.protocol_id, self.spi_size, len(self.spis)) + b"".join(
            self.spis
        )


@fast_init
@dataclass(frozen=True, slots=True)
class VendorIdPayload:
    """Vendor ID payload (RFC 7296 §3.12): opaque Vendor ID data.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                        Vendor ID (VID)                        ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.VENDOR_ID
    data: bytes

    @classmethod
    def decode(cls, body: bytes) -> VendorIdPayload:
        return cls(body)

    def encode(self) -> bytes:
        return self.data


@fast_init
@dataclass(frozen=True, slots=True)
class EapPayload:
    """EAP payload (RFC 7296 §3.16), kept as the opaque EAP message.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                       EAP Message                             ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.EAP
    data: bytes

    @classmethod
    def decode(cls, body: bytes) -> EapPayload:
        return cls(body)

    def encode(self) -> bytes:
        return self.data


@fast_init
@dataclass(frozen=True, slots=True)
class UnknownPayload:
    """A payload of a type this codec does not parse, kept verbatim.

    With ``critical`` set, RFC 7296 §2.5 requires rejecting the whole message with
    UNSUPPORTED_CRITICAL_PAYLOAD (data = the type octet); that is the engine's call.
    """

    payload_type: int
    critical: bool
    body: bytes

    def encode(self) -> bytes:
        return self.body
