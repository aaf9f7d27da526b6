# SPDX-License-Identifier: Apache-2.0
"""Security Association payload: proposals, transforms, attributes (RFC 7296 §3.3).

Transform types 6..12 (ADDKE1..7, RFC 9370 §2.2.1) and Transform ID 0 (NONE) are
ordinary transforms here; what they mean is the negotiation code's business.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from pqike.errors import DecodeError
from pqike.ikev2.constants import KEY_LENGTH_ATTRIBUTE, PayloadType

__all__ = [
    "Proposal",
    "SaPayload",
    "Transform",
    "TransformAttribute",
]

_PROPOSAL = struct.Struct(">BxHBBBB")
_TRANSFORM = struct.Struct(">BxHBxH")
_ATTRIBUTE = struct.Struct(">HH")

_LAST = 0
_MORE_PROPOSALS = 2
_MORE_TRANSFORMS = 3
_TV_BIT = 0x8000


@dataclass(frozen=True, slots=True)
class TransformAttribute:
    """Data Attribute of a transform (RFC 7296 §3.3.5).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |A|       Attribute Type        |    AF=0  Attribute Length     |
        |F|                             |    AF=1  Attribute Value      |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                   AF=0  Attribute Value                       |
        |                   AF=1  Not Transmitted                       |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    An ``int`` value is sent in TV format (AF=1, 16 bits), a ``bytes`` value in TLV
    format. Key Length (type 14) is TV.
    """

    attr_type: int
    """Attribute type, 15 bits (without the AF bit)."""
    value: int | bytes

    def encode(self) -> bytes:
        if isinstance(self.value, int):
            return _ATTRIBUTE.pack(_TV_BIT | self.attr_type, self.value)
        return _ATTRIBUTE.pack(self.attr_type, len(self.value)) + self.value


def _decode_attributes(data: bytes) -> tuple[TransformAttribute, ...]:
    attrs: list[TransformAttribute] = []
    offset, end = 0, len(data)
    while offset < end:
        if end - offset < 4:
            raise DecodeError("truncated transform attribute")
        kind, word = _ATTRIBUTE.unpack_from(data, offset)
        offset += 4
        if kind & _TV_BIT:
            attrs.append(TransformAttribute(kind & 0x7FFF, word))
            continue
        if offset + word > end:
            raise DecodeError(f"transform attribute length {word} exceeds transform")
        attrs.append(TransformAttribute(kind, data[offset : offset + word]))
        offset += word
    return tuple(attrs)


@dataclass(frozen=True, slots=True)
class Transform:
    """Transform substructure (RFC 7296 §3.3.2).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Last Substruc |   RESERVED    |        Transform Length       |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |Transform Type |   RESERVED    |          Transform ID         |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                      Transform Attributes                     ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    Last Substruc is 3 before another transform and 0 on the last one.
    """

    transform_type: int
    """A :class:`TransformType` (1..5, 6..12 for ADDKE1..7)."""
    transform_id: int
    attributes: tuple[TransformAttribute, ...] = ()

    @classmethod
    def of(
        cls, transform_type: int, transform_id: int, key_length: int | None = None
    ) -> Transform:
        """Build a transform, with a Key Length attribute when ``key_length`` is set."""
        if key_length is None:
            return cls(transform_type, transform_id)
        attr = TransformAttribute(KEY_LENGTH_ATTRIBUTE, key_length)
        return cls(transform_type, transform_id, (attr,))

    @property
    def key_length(self) -> int | None:
        """Value of the Key Length attribute (bits), or ``None`` without one."""
        for attr in self.attributes:
            if attr.attr_type == KEY_LENGTH_ATTRIBUTE and isinstance(attr.value, int):
                return attr.value
        return None

    def encode(self, last: bool) -> bytes:
        attrs = b"".join(a.encode() for a in self.attributes)
        return (
            _TRANSFORM.pack(
                _LAST if last else _MORE_TRANSFORMS,
                8 + len(attrs),
                self.transform_type,
                self.transform_id,
            )
            + attrs
        )


@dataclass(frozen=True, slots=True)
class Proposal:
    """Proposal substructure (RFC 7296 §3.3.1).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Last Substruc |   RESERVED    |         Proposal Length       |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                        SPI (variable)                         ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                        <Transforms>                           ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    Last Substruc is 2 before another proposal and 0 on the last one.
    """

    number: int
    """Proposal Num: 1 for the first, then the same or one more."""
    protocol_id: int
    """A :class:`ProtocolId` (1 IKE, 2 AH, 3 ESP)."""
    spi: bytes
    """Empty in IKE_SA_INIT, 8 octets for an IKE rekey, 4 for ESP/AH."""
    transforms: tuple[Transform, ...]

    def transforms_of(self, transform_type: int) -> tuple[Transform, ...]:
        """The transforms of one type, in the order offered."""
        return tuple(t for t in self.transforms if t.transform_type == transform_type)

    def encode(self, last: bool) -> bytes:
        count = len(self.transforms)
        if not 1 <= count <= 255 or len(self.spi) > 255:
            raise ValueError(
                "a proposal holds 1..255 transforms and at most 255 SPI octets"
            )
        body = b"".join(t.encode(i == count - 1) for i, t in enumerate(self.transforms))
        header = _PROPOSAL.pack(
            _LAST if last else _MORE_PROPOSALS,
            8 + len(self.spi) + len(body),
            self.number,
            self.protocol_id,
            len(self.spi),
            count,
        )
        return header + self.spi + body


def _decode_transforms(data: bytes, count: int) -> tuple[Transform, ...]:
    transforms: list[Transform] = []
    offset, end = 0, len(data)
    if not end:
        raise DecodeError("proposal without transforms")
    last = _MORE_TRANSFORMS
    while offset < end:
        if last != _MORE_TRANSFORMS:
            raise DecodeError("data after the last transform of a proposal")
        if end - offset < 8:
            raise DecodeError("truncated transform")
        last, length, ttype, tid = _TRANSFORM.unpack_from(data, offset)
        if last not in (_LAST, _MORE_TRANSFORMS):
            raise DecodeError(f"transform Last Substruc {last} is not 0 or 3")
        if length < 8 or offset + length > end:
            raise DecodeError(f"transform length {length} is invalid")
        attrs = _decode_attributes(data[offset + 8 : offset + length])
        transforms.append(Transform(ttype, tid, attrs))
        offset += length
    if last != _LAST:
        raise DecodeError("last transform is not marked last")
    if len(transforms) != count:
        raise DecodeError(
            f"proposal announces {count} transforms and holds {len(transforms)}"
        )
    return tuple(transforms)


def _decode_proposal(data: bytes) -> Proposal:
    _, _, number, protocol_id, spi_size, count = _PROPOSAL.unpack_from(data)
    if 8 + spi_size > len(data):
        raise DecodeError(f"proposal SPI Size {spi_size} exceeds the proposal")
    spi = data[8 : 8 + spi_size]
    return Proposal(
        number, protocol_id, spi, _decode_transforms(data[8 + spi_size :], count)
    )


@dataclass(frozen=True, slots=True)
class SaPayload:
    """Security Association payload (RFC 7296 §3.3): one or more proposals.

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                          <Proposals>                          ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    payload_type: ClassVar[int] = PayloadType.SA
    proposals: tuple[Proposal, ...]

    @classmethod
    def decode(cls, body: bytes) -> SaPayload:
        proposals: list[Proposal] = []
        offset, end = 0, len(body)
        last = _MORE_PROPOSALS
        while offset < end:
            if last != _MORE_PROPOSALS:
                raise DecodeError("data after the last proposal")
            if end - offset < 8:
                raise DecodeError("truncated proposal")
            last = body[offset]
            length = (body[offset + 2] << 8) | body[offset + 3]
            if last not in (_LAST, _MORE_PROPOSALS):
                raise DecodeError(f"proposal Last Substruc {last} is not 0 or 2")
            if length < 8 or offset + length > end:
                raise DecodeError(f"proposal length {length} is invalid")
            proposals.append(_decode_proposal(body[offset : offset + length]))
            offset += length
        if not proposals:
            raise DecodeError("SA payload without proposals")
        if last != _LAST:
            raise DecodeError("last proposal is not marked last")
        return cls(tuple(proposals))

    def encode(self) -> bytes:
        count = len(self.proposals)
        return b"".join(p.encode(i == count - 1) for i, p in enumerate(self.proposals))
