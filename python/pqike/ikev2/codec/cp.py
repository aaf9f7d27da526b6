# SPDX-License-Identifier: Apache-2.0
"""Configuration payload (RFC 7296 §3.15)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import methodcaller
from typing import ClassVar

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.constants import PayloadType

__all__ = ["CpAttribute", "CpPayload"]

_ATTRIBUTE = struct.Struct(">HH")
_CFG = struct.Struct(">B3x")
_ENCODE = methodcaller("encode")


@fast_init
@dataclass(frozen=True, slots=True)
class CpAttribute:
    """Configuration attribute (RFC 7296 §3.15.1).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |R|         Attribute Type      |            Length             |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                             Value                             ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    The reserved R bit is dropped on decode and sent as 0.
    """

    attr_type: int
    """A :class:`ConfigAttributeType` (15 bits)."""
    value: bytes = b""

    def encode(self) -> bytes:
        return _ATTRIBUTE.pack(self.attr_type & 0x7FFF, len(self.value)) + self.value


@fast_init
@dataclass(frozen=True, slots=True)
class CpPayload:
    """Configuration payload (RFC 7296 §3.15).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C| RESERVED    |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |   CFG Type    |                    RESERVED                   |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                   Configuration Attributes                    ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.CP
    cfg_type: int
    """A :class:`CfgType`."""
    attributes: tuple[CpAttribute, ...] = ()

    @classmethod
    def decode(cls, body: bytes) -> CpPayload:
        if len(body) < 4:
            raise DecodeError(f"CP payload body needs 4 octets, got {len(body)}")
        attrs: list[CpAttribute] = []
        offset, end = 4, len(body)
        while offset < end:
            if end - offset < 4:
                raise DecodeError("truncated configuration attribute")
            kind, length = _ATTRIBUTE.unpack_from(body, offset)
            offset += 4
            if offset + length > end:
                raise DecodeError(f"configuration attribute length {length} too big")
            attrs.append(CpAttribute(kind & 0x7FFF, body[offset : offset + length]))
            offset += length
        return cls(body[0], tuple(attrs))

    def encode(self) -> bytes:
        return _CFG.pack(self.cfg_type) + b"".join(map(_ENCODE, self.attributes))
