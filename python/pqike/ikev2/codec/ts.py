# SPDX-License-Identifier: Apache-2.0
"""Traffic Selector payloads TSi and TSr (RFC 7296 §3.13)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import methodcaller
from typing import ClassVar, Self

from pqike._memo import IdentityMemo
from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.constants import PayloadType, TsType

__all__ = [
    "TrafficSelector",
    "TsPayload",
    "TsiPayload",
    "TsrPayload",
    "UnknownTrafficSelector",
]

_SELECTOR = struct.Struct(">BBHHH")
_COUNT = struct.Struct(">B3x")
_UNKNOWN = struct.Struct(">BxH")
_ENCODE = methodcaller("encode")
_ADDRESS_LENGTH: dict[int, int] = {
    TsType.TS_IPV4_ADDR_RANGE: 4,
    TsType.TS_IPV6_ADDR_RANGE: 16,
}


@fast_init
@dataclass(frozen=True, slots=True)
class TrafficSelector:
    """An IPv4 (type 7, 16 octets) or IPv6 (type 8, 40 octets) address range.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |   TS Type     |IP Protocol ID*|       Selector Length         |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |           Start Port*         |           End Port*           |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                         Starting Address*                     ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                         Ending Address*                       ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    ts_type: int
    ip_protocol: int
    """0 = any protocol."""
    start_port: int
    end_port: int
    start_addr: bytes
    """4 octets for type 7, 16 for type 8."""
    end_addr: bytes

    def encode(self) -> bytes:
        size = _ADDRESS_LENGTH.get(self.ts_type)
        if size is None or len(self.start_addr) != size or len(self.end_addr) != size:
            raise ValueError(
                f"TS type {self.ts_type} needs matching 4- or 16-octet addresses"
            )
        return (
            _SELECTOR.pack(
                self.ts_type,
                self.ip_protocol,
                8 + 2 * size,
                self.start_port,
                self.end_port,
            )
            + self.start_addr
            + self.end_addr
        )


@fast_init
@dataclass(frozen=True, slots=True)
class UnknownTrafficSelector:
    """A selector of a type other than 7 or 8, kept as the octets after its length."""

    ts_type: int
    data: bytes

    def encode(self) -> bytes:
        return _UNKNOWN.pack(self.ts_type, 4 + len(self.data)) + self.data


Selector = TrafficSelector | UnknownTrafficSelector

_selectors_wire: IdentityMemo[bytes] = IdentityMemo()
"""Encoded TS payload bodies by the identity of their selector tuple: the
initiator sends its configured selectors, the same tuples, every time (see
:mod:`pqike._memo`)."""


def _decode_selector(data: bytes, offset: int) -> tuple[Selector, int]:
    if len(data) - offset < 4:
        raise DecodeError("truncated traffic selector")
    ts_type = data[offset]
    length = (data[offset + 2] << 8) | data[offset + 3]
    if length < 4 or offset + length > len(data):
        raise DecodeError(f"traffic selector length {length} is invalid")
    end = offset + length
    size = _ADDRESS_LENGTH.get(ts_type)
    if size is None:
        return UnknownTrafficSelector(ts_type, data[offset + 4 : end]), end
    if length != 8 + 2 * size:
        raise DecodeError(f"TS type {ts_type} must be {8 + 2 * size} octets")
    _, proto, _, start_port, end_port = _SELECTOR.unpack_from(data, offset)
    start = data[offset + 8 : offset + 8 + size]
    stop = data[offset + 8 + size : end]
    return TrafficSelector(ts_type, proto, start_port, end_port, start, stop), end


@fast_init
@dataclass(frozen=True, slots=True)
class TsPayload:
    """Traffic Selector payload body shared by TSi and TSr (RFC 7296 §3.13).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Number of TSs |                 RESERVED                      |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                       <Traffic Selectors>                     ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.TSI
    selectors: tuple[Selector, ...]

    @classmethod
    def decode(cls, body: bytes) -> Self:
        if len(body) < 4:
            raise DecodeError(f"TS payload body needs 4 octets, got {len(body)}")
        count = body[0]
        selectors: list[Selector] = []
        offset = 4
        for _ in range(count):
            selector, offset = _decode_selector(body, offset)
            selectors.append(selector)
        if offset != len(body):
            raise DecodeError(f"TS payload has octets after its {count} selectors")
        return cls(tuple(selectors))

    def encode(self) -> bytes:
        selectors = self.selectors
        body = _selectors_wire.get(selectors)
        if body is not None:
            return body
        if len(selectors) > 255:
            raise ValueError("a TS payload holds at most 255 selectors")
        body = _COUNT.pack(len(selectors)) + b"".join(map(_ENCODE, selectors))
        if type(selectors) is tuple and all(map(_immutable, selectors)):
            _selectors_wire.put(selectors, body)
        return body


def _immutable(selector: object) -> bool:
    """An exact codec selector whose octets are ``bytes`` (nothing can change it)."""
    if type(selector) is TrafficSelector:
        return type(selector.start_addr) is bytes and type(selector.end_addr) is bytes
    return type(selector) is UnknownTrafficSelector and type(selector.data) is bytes


@fast_init
@dataclass(frozen=True, slots=True)
class TsiPayload(TsPayload):
    """TSi: the initiator's traffic selectors (payload type 44)."""

    payload_type: ClassVar[int] = PayloadType.TSI


@fast_init
@dataclass(frozen=True, slots=True)
class TsrPayload(TsPayload):
    """TSr: the responder's traffic selectors (payload type 45)."""

    payload_type: ClassVar[int] = PayloadType.TSR
