# SPDX-License-Identifier: Apache-2.0
"""Sealing and opening SK-protected messages, and RFC 9242 IntAuth chunks.

The cipher is passed in by the caller (an ``IkeCipher`` from ``pqike.crypto``, see
docs/contracts.md); this module only lays out the octets:

- RFC 7296 §3.14 / RFC 5282 §5.1: the associated data is the IKE header through the
  SK generic header, with the final Length fields; the SK body is
  ``IV | E(inner payloads | Padding | Pad Length) | ICV``.
- RFC 9242 §3.3.2: IntAuth covers ``A | P`` where A is that same span with the
  lengths adjusted as if IV, padding, pad length and ICV were absent, and P is the
  inner plaintext.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.codec.encrypted import SkfPayload, SkPayload
from pqike.ikev2.codec.header import IkeHeader, header_layout, pack_header
from pqike.ikev2.codec.message import (
    EncryptedPayload,
    Payload,
    decode_message,
    decode_payloads,
    encode_payloads,
)
from pqike.ikev2.constants import IKE_HEADER_LENGTH, PayloadType

__all__ = [
    "IkeCipher",
    "OpenedMessage",
    "decode_protected",
    "encode_protected",
    "int_auth_chunks",
    "open_protected",
    "open_sk_only",
    "seal_payloads",
]

_SK_PREFIX = header_layout("BBH")
"""IKE header | SK generic header: the associated data of a whole message, and
IntAuth's A (RFC 9242 §3.3.2)."""
_ENCRYPTED_CLASSES = (SkPayload, SkfPayload)
_SK = int(PayloadType.SK)
_GENERIC = struct.Struct(">BBH")
_SK_AAD_END = IKE_HEADER_LENGTH + 4
"""End of the associated data of an SK-only message: header and SK generic header."""


class IkeCipher(Protocol):
    """One direction of SK payload protection (docs/contracts.md ``IkeCipher``)."""

    @property
    def iv_length(self) -> int:
        """Octets of explicit IV at the start of the body (8 AEAD, 16 AES-CBC)."""
        ...

    def sealed_length(self, plaintext_len: int) -> int:
        """Length of ``IV | ciphertext with padding and pad length | ICV``."""
        ...

    def seal(self, aad: bytes, iv: bytes, plaintext: bytes) -> bytes:
        """Return ``IV | ciphertext | ICV`` over ``plaintext`` with padding added."""
        ...

    def open(self, aad: bytes, body: bytes) -> bytes:
        """Verify and decrypt a body; raises AuthenticationError on failure."""
        ...


@fast_init
@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """A protected message after its SK or SKF payload was verified and decrypted."""

    header: IkeHeader
    """The header as received."""
    encrypted: EncryptedPayload
    """The SK or SKF payload as received (still sealed)."""
    plaintext: bytes
    """The decrypted inner payloads (for SKF: this fragment's part of them)."""
    unprotected: tuple[Payload, ...] = ()
    """Payloads before the encrypted one (none are defined today)."""


def encode_protected(
    header: IkeHeader,
    inner_payloads: Sequence[Payload],
    cipher: IkeCipher,
    iv: bytes,
) -> bytes:
    """Build a complete SK-protected message.

    Args:
        header: the IKE header; Next Payload and Length are computed.
        inner_payloads: the payloads to encrypt, in order.
        cipher: seals the plaintext; see :class:`IkeCipher`.
        iv: the explicit IV, ``cipher.iv_length`` octets, never reused for a key.

    Returns:
        The IKE message (without a non-ESP marker).

    Raises:
        ValueError: wrong IV length, or a payload or the message is too long.
    """
    first, plaintext = encode_payloads(inner_payloads)
    return seal_payloads(header, first, plaintext, cipher, iv)


def seal_payloads(
    header: IkeHeader,
    first_payload: int,
    plaintext: bytes,
    cipher: IkeCipher,
    iv: bytes,
) -> bytes:
    """Like :func:`encode_protected`, for inner payloads already encoded.

    Raises:
        ValueError: wrong IV length, or the message would be too long.
    """
    if len(iv) != cipher.iv_length:
        raise ValueError(f"IV must be {cipher.iv_length} octets, got {len(iv)}")
    sealed = cipher.sealed_length(len(plaintext))
    sk_length = 4 + sealed
    if sk_length > 0xFFFF:
        raise ValueError(f"SK payload would be {sk_length} octets")
    aad = pack_header(
        _SK_PREFIX,
        header,
        _SK,
        IKE_HEADER_LENGTH + sk_length,
        first_payload,
        0,
        sk_length,
    )
    body = cipher.seal(aad, iv, plaintext)
    if len(body) != sealed:
        raise ValueError(f"cipher sealed {len(body)} octets, announced {sealed}")
    return aad + body


def open_sk_only(
    data: bytes, cipher: IkeCipher, header: IkeHeader
) -> tuple[int, bytes] | None:
    """Verify and decrypt the common shape: an SK payload alone, right after the
    header, with consistent lengths. Returns ``(first inner payload type,
    plaintext)``, or None for any other shape (then use :func:`open_protected`,
    which decodes the payload chain and reports what is wrong).

    Raises:
        DecodeError: the body is shorter than the cipher's minimum.
        pqike.errors.AuthenticationError: the ICV or tag does not verify.
    """
    size = len(data)
    if header.next_payload != _SK or header.length != size:
        return None
    if size < _SK_AAD_END:
        return None
    first, _, sk_length = _GENERIC.unpack_from(data, IKE_HEADER_LENGTH)
    if IKE_HEADER_LENGTH + sk_length != size:
        return None
    body_length = sk_length - 4
    if body_length < cipher.sealed_length(0):
        raise DecodeError(f"encrypted body of {body_length} octets is too short")
    return first, cipher.open(data[:_SK_AAD_END], data[_SK_AAD_END:])


def open_protected(
    data: bytes, cipher: IkeCipher, header: IkeHeader | None = None
) -> OpenedMessage:
    """Decode ``data``, then verify and decrypt its SK or SKF payload.

    ``header``: ``decode_header(data)`` when the caller has it already.

    Raises:
        DecodeError: malformed message, no encrypted payload, or a body shorter
            than the cipher's minimum.
        pqike.errors.AuthenticationError: the ICV or tag does not verify.
    """
    if header is not None:
        opened = open_sk_only(data, cipher, header)
        if opened is not None:
            first, plaintext = opened
            sk = SkPayload(first, data[_SK_AAD_END:])
            return OpenedMessage(header, sk, plaintext)
    message = decode_message(data, header)
    if not message.payloads or not isinstance(message.payloads[-1], _ENCRYPTED_CLASSES):
        raise DecodeError("message has no SK or SKF payload")
    encrypted = message.payloads[-1]
    if len(encrypted.body) < cipher.sealed_length(0):
        raise DecodeError(
            f"encrypted body of {len(encrypted.body)} octets is too short"
        )
    aad_end = len(data) - len(encrypted.body)
    plaintext = cipher.open(data[:aad_end], encrypted.body)
    return OpenedMessage(message.header, encrypted, plaintext, message.payloads[:-1])


def decode_protected(
    data: bytes, cipher: IkeCipher
) -> tuple[IkeHeader, tuple[Payload, ...]]:
    """Open an SK-protected (unfragmented) message and decode its inner payloads.

    Returns:
        ``(header, inner payloads)``.

    Raises:
        DecodeError: as :func:`open_protected`, the message is an SKF fragment (use
            :class:`pqike.ikev2.codec.fragment.Reassembler`), or the plaintext is
            not a valid payload chain.
        pqike.errors.AuthenticationError: the ICV or tag does not verify.
    """
    opened = open_protected(data, cipher)
    if not isinstance(opened.encrypted, SkPayload):
        raise DecodeError("message is an SKF fragment; reassemble it first")
    inner = decode_payloads(
        opened.plaintext, opened.encrypted.first_payload, inner=True
    )
    return opened.header, inner


def int_auth_chunks(
    header: IkeHeader,
    encrypted: SkPayload | SkfPayload | int,
    inner_plaintext: bytes,
) -> tuple[bytes, bytes]:
    """Return the RFC 9242 §3.3.2 IntAuth chunks ``(A, P)`` of one message.

    A = IKE header | SK generic header, with the header Length set to
    ``len(A) + len(P)``, the SK Payload Length to ``4 + len(P)``, flags 0. A
    fragmented message is covered as if it had been sent whole: header Next Payload
    SK (46), not SKF (SPEC §3.2), and SK Next Payload = the first inner payload type
    of fragment 1. P is the inner plaintext without padding and pad length.

    No payload type is defined to travel unencrypted before SK, so A is always
    the header and the SK generic header (32 octets).

    Args:
        header: the header of the message (of fragment 1 when reassembled).
        encrypted: the SK payload, fragment 1's SKF payload, or the first inner
            payload type itself.
        inner_plaintext: the complete decrypted (or to-be-encrypted) inner payloads.
    """
    first = encrypted if isinstance(encrypted, int) else encrypted.first_payload
    sk_length = 4 + len(inner_plaintext)
    a = pack_header(
        _SK_PREFIX, header, _SK, IKE_HEADER_LENGTH + sk_length, first, 0, sk_length
    )
    return a, inner_plaintext
