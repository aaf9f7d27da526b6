# SPDX-License-Identifier: Apache-2.0
"""Encrypted payloads SK (RFC 7296 §3.14) and SKF (RFC 7383 §2.5), still sealed.

They hold the sealed body (IV | ciphertext | ICV) and the type of the first inner
payload; opening and sealing is done by :mod:`pqike.ikev2.codec.protected` through a
cipher object the caller passes in. The codec never holds keys.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.constants import PayloadType

__all__ = ["SkPayload", "SkfPayload"]

_FRAGMENT = struct.Struct(">HH")


@fast_init
@dataclass(frozen=True, slots=True)
class SkPayload:
    """Encrypted and Authenticated payload (RFC 7296 §3.14).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                     Initialization Vector                     |
        |         (length is block size for encryption algorithm)       |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                    Encrypted IKE Payloads                     ~
        +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |               |             Padding (0-255 octets)            |
        +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
        |                                               |  Pad Length   |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                    Integrity Checksum Data                    ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    Its Next Payload field is the type of the first inner payload; it is always the
    last payload of a message.
    """

    payload_type: ClassVar[int] = PayloadType.SK
    first_payload: int
    body: bytes
    """IV | encrypted payloads, padding, pad length | ICV."""

    @classmethod
    def decode(cls, body: bytes, first_payload: int) -> SkPayload:
        return cls(first_payload, body)

    def encode(self) -> bytes:
        return self.body


@fast_init
@dataclass(frozen=True, slots=True)
class SkfPayload:
    """Encrypted Fragment payload (RFC 7383 §2.5).

    ::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        | Next Payload  |C|  RESERVED   |         Payload Length        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |        Fragment Number        |        Total Fragments        |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                     Initialization Vector                     |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                      Encrypted content                        ~
        +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |               |             Padding (0-255 octets)            |
        +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
        |                                               |  Pad Length   |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        ~                    Integrity Checksum Data                    ~
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    Next Payload is the first inner payload type in fragment 1 and 0 in the others
    (kept as received). Fragment Number is 1..Total Fragments.
    """

    payload_type: ClassVar[int] = PayloadType.SKF
    first_payload: int
    fragment_number: int
    total_fragments: int
    body: bytes
    """IV | encrypted content, padding, pad length | ICV."""

    @classmethod
    def decode(cls, body: bytes, first_payload: int) -> SkfPayload:
        if len(body) < 4:
            raise DecodeError(f"SKF payload body needs 4 octets, got {len(body)}")
        number, total = _FRAGMENT.unpack_from(body)
        if not 1 <= number <= total:
            raise DecodeError(f"SKF fragment {number} of {total} is invalid")
        return cls(first_payload, number, total, body[4:])

    def encode(self) -> bytes:
        return _FRAGMENT.pack(self.fragment_number, self.total_fragments) + self.body
