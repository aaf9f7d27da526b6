# SPDX-License-Identifier: Apache-2.0
"""Security Association payload: proposals, transforms, attributes (RFC 7296 §3.3).

Transform types 6..12 (ADDKE1..7, RFC 9370 §2.2.1) and Transform ID 0 (NONE) are
ordinary transforms here; what they mean is the negotiation code's business.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from operator import methodcaller
from typing import ClassVar

from pqike._memo import IdentityMemo, remember
from pqike._records import fast_init
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
_ENCODE = methodcaller("encode")

_transforms_wire: IdentityMemo[bytes] = IdentityMemo()
"""Encoded transform lists (RFC 7296 §3.3.2, Last Substruc set) by the identity
of their tuple: the engine proposes and answers with the same configured tuples
every time (see :mod:`pqike._memo`)."""

_transforms_decoded: dict[tuple[int, bytes], tuple[Transform, ...]] = {}
"""Decoded transform lists by (Num Transforms, octets): a Child SA proposal
differs from the last one only in its SPI, so the whole-payload memo of
:func:`pqike.ikev2.codec.message.decode_payloads` misses it; the result is
immutable (frozen records, tuples, int and bytes)."""
_DECODED_MAX_OCTETS = 512


@fast_init
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


@fast_init
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
        more = _LAST if last else _MORE_TRANSFORMS
        if not self.attributes:
            return _TRANSFORM.pack(more, 8, self.transform_type, self.transform_id)
        attrs = b"".join(map(_ENCODE, self.attributes))
        return (
            _TRANSFORM.pack(
                more, 8 + len(attrs), self.transform_type, self.transform_id
            )
            + attrs
        )


@fast_init
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
        transforms = self.transforms
        count = len(transforms)
        spi = self.spi
        if not 1 <= count <= 255 or len(spi) > 255:
            raise ValueError(
                "a proposal holds 1..255 transforms and at most 255 SPI octets"
            )
        body = _transforms_wire.get(transforms)
        if body is None:
            body = _encode_transforms(transforms)
        header = _PROPOSAL.pack(
            _LAST if last else _MORE_PROPOSALS,
            8 + len(spi) + len(body),
            self.number,
            self.protocol_id,
            len(spi),
            count,
        )
        return header + spi + body


def _encode_transforms(transforms: tuple[Transform, ...]) -> bytes:
    """Encode a proposal's transforms, remembering the octets when the tuple and
    everything in it is immutable (exact codec classes, int or bytes values)."""
    final = len(transforms) - 1
    body = b"".join([t.encode(i == final) for i, t in enumerate(transforms)])
    if type(transforms) is tuple and all(
        type(t) is Transform
        and type(t.attributes) is tuple
        and all(
            type(a) is TransformAttribute and type(a.value) in (int, bytes)
            for a in t.attributes
        )
        for t in transforms
    ):
        _transforms_wire.put(transforms, body)
    return body


def _split_substructures(data: bytes, more: int, what: str, owner: str) -> list[bytes]:
    """Cut proposals (``more`` = 2) or transforms (3) apart by their lengths.

    Each substructure starts ``Last Substruc(1) | RESERVED(1) | Length(2)``; every
    one but the last must say ``more``, the last one 0, and the lengths must tile
    ``data`` exactly.
    """
    parts: list[bytes] = []
    offset, end = 0, len(data)
    last = more
    while offset < end:
        if last != more:
            raise DecodeError(f"data after the last {what} of the {owner}")
        if end - offset < 8:
            raise DecodeError(f"truncated {what}")
        last = data[offset]
        length = (data[offset + 2] << 8) | data[offset + 3]
        if last not in (_LAST, more):
            raise DecodeError(f"{what} Last Substruc {last} is not 0 or {more}")
        if length < 8 or offset + length > end:
            raise DecodeError(f"{what} length {length} is invalid")
        parts.append(data[offset : offset + length])
        offset += length
    if not parts:
        raise DecodeError(f"{owner} without {what}s")
    if last != _LAST:
        raise DecodeError(f"last {what} is not marked last")
    return parts


def _decode_transforms(data: bytes, count: int) -> tuple[Transform, ...]:
    parts = _split_substructures(data, _MORE_TRANSFORMS, "transform", "proposal")
    if len(parts) != count:
        raise DecodeError(
            f"proposal announces {count} transforms and holds {len(parts)}"
        )
    transforms = []
    unpack_from = _TRANSFORM.unpack_from
    for part in parts:
        _, _, transform_type, transform_id = unpack_from(part)
        attrs = _decode_attributes(part[8:]) if len(part) > 8 else ()
        transforms.append(Transform(transform_type, transform_id, attrs))
    return tuple(transforms)


def _decode_proposal(data: bytes) -> Proposal:
    _, _, number, protocol_id, spi_size, count = _PROPOSAL.unpack_from(data)
    if 8 + spi_size > len(data):
        raise DecodeError(f"proposal SPI Size {spi_size} exceeds the proposal")
    spi = data[8 : 8 + spi_size]
    wire = data[8 + spi_size :]
    key = (count, wire)
    transforms = _transforms_decoded.get(key)
    if transforms is None:
        transforms = _decode_transforms(wire, count)  # errors are not remembered
        if len(wire) <= _DECODED_MAX_OCTETS:
            remember(_transforms_decoded, key, transforms)
    return Proposal(number, protocol_id, spi, transforms)


@fast_init
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
        parts = _split_substructures(body, _MORE_PROPOSALS, "proposal", "SA payload")
        return cls(tuple(map(_decode_proposal, parts)))

    def encode(self) -> bytes:
        proposals = self.proposals
        if len(proposals) == 1:  # the usual case: no list, no join
            return proposals[0].encode(True)
        last = len(proposals) - 1
        return b"".join([p.encode(i == last) for i, p in enumerate(proposals)])
