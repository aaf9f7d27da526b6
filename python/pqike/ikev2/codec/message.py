# SPDX-License-Identifier: Apache-2.0
"""IKE messages: the header plus a chain of payloads (RFC 7296 §3.1, §3.2).

Decoding is strict and bounded: every loop consumes at least four octets, every
length is checked against what is left, and any violation raises
:class:`pqike.errors.DecodeError` (notify INVALID_SYNTAX unless stated otherwise).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pqike._memo import remember
from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.codec.cp import CpPayload
from pqike.ikev2.codec.encrypted import SkfPayload, SkPayload
from pqike.ikev2.codec.header import (
    IkeHeader,
    decode_header,
    header_layout,
    pack_header,
)
from pqike.ikev2.codec.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    DeletePayload,
    EapPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    UnknownPayload,
    VendorIdPayload,
)
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.codec.ts import TsiPayload, TsrPayload
from pqike.ikev2.constants import IKE_HEADER_LENGTH, PayloadType

__all__ = [
    "EncryptedPayload",
    "Message",
    "Payload",
    "decode_message",
    "decode_payloads",
    "encode_message",
    "encode_payloads",
]

Payload = (
    SaPayload
    | KePayload
    | IdiPayload
    | IdrPayload
    | CertPayload
    | CertReqPayload
    | AuthPayload
    | NoncePayload
    | NotifyPayload
    | DeletePayload
    | VendorIdPayload
    | TsiPayload
    | TsrPayload
    | SkPayload
    | CpPayload
    | EapPayload
    | SkfPayload
    | UnknownPayload
)
"""Any payload the codec produces."""

EncryptedPayload = SkPayload | SkfPayload

_GENERIC = struct.Struct(">BBH")
_HEADER = header_layout("")
_CRITICAL = 0x80

_DECODERS: dict[int, Callable[[bytes], Payload]] = {
    PayloadType.SA: SaPayload.decode,
    PayloadType.KE: KePayload.decode,
    PayloadType.IDI: IdiPayload.decode,
    PayloadType.IDR: IdrPayload.decode,
    PayloadType.CERT: CertPayload.decode,
    PayloadType.CERTREQ: CertReqPayload.decode,
    PayloadType.AUTH: AuthPayload.decode,
    PayloadType.NONCE: NoncePayload.decode,
    PayloadType.NOTIFY: NotifyPayload.decode,
    PayloadType.DELETE: DeletePayload.decode,
    PayloadType.VENDOR_ID: VendorIdPayload.decode,
    PayloadType.TSI: TsiPayload.decode,
    PayloadType.TSR: TsrPayload.decode,
    PayloadType.CP: CpPayload.decode,
    PayloadType.EAP: EapPayload.decode,
}
_ENCRYPTED: dict[int, Callable[[bytes, int], Payload]] = {
    PayloadType.SK: SkPayload.decode,
    PayloadType.SKF: SkfPayload.decode,
}

_ENCRYPTED_CLASSES = (SkPayload, SkfPayload)
"""For ``isinstance``: a ``SkPayload | SkfPayload`` union is built on every call."""

_memo: dict[tuple[int, bytes], Payload] = {}


_SA_SPI_SIZE_AT = 6
"""Offset of the first proposal's SPI Size in an SA payload body (RFC 7296 §3.3.1:
last-substructure, reserved, length (2), number, protocol ID, SPI size)."""


def _memoised(
    payload_type: int, decoder: Callable[[bytes], Payload], max_body: int
) -> Callable[[bytes], Payload]:
    """``decoder``, reusing an earlier result for the same octets (up to
    ``max_body`` of them; errors are not remembered: a malformed body raises
    every time). An SA payload whose first proposal carries an SPI (a Child SA's
    or an IKE rekey's) is new every time: remembering it would only push out the
    entries that do come back."""
    spi_size_at = _SA_SPI_SIZE_AT if payload_type == PayloadType.SA else None

    def decode(body: bytes) -> Payload:
        if len(body) > max_body or (
            spi_size_at is not None and len(body) > spi_size_at and body[spi_size_at]
        ):
            return decoder(body)
        key = (payload_type, body)
        payload = _memo.get(key)
        if payload is None:
            payload = decoder(body)
            remember(_memo, key, payload)  # bounded: peers cannot grow it
        return payload

    return decode


_MEMO_MAX_BODY: dict[int, int] = {
    PayloadType.SA: 512,
    PayloadType.TSI: 512,
    PayloadType.TSR: 512,
    PayloadType.IDI: 512,
    PayloadType.IDR: 512,
    PayloadType.NOTIFY: 16,
}
"""Payload types whose decoding is memoised by body, with the largest body worth
remembering: pure functions of the octets with immutable results (frozen, ints,
bytes and tuples only) that arrive over and over: the configured proposals,
selectors and identities, and status notifies with no or a few constant octets
of data (FRAGMENTATION_SUPPORTED, SIGNATURE_HASH_ALGORITHMS, ...). NAT detection
hashes (24 octets) and cookies differ every time and stay out."""
_DECODE: dict[int, Callable[[bytes], Payload]] = {
    t: _memoised(t, d, _MEMO_MAX_BODY[t]) if t in _MEMO_MAX_BODY else d
    for t, d in _DECODERS.items()
}
"""What :func:`decode_payloads` calls per payload type."""

_PLAIN_CLASSES = frozenset(
    {
        SaPayload,
        KePayload,
        IdiPayload,
        IdrPayload,
        CertPayload,
        CertReqPayload,
        AuthPayload,
        NoncePayload,
        NotifyPayload,
        DeletePayload,
        VendorIdPayload,
        TsiPayload,
        TsrPayload,
        CpPayload,
        EapPayload,
    }
)
"""Payload classes that are neither encrypted nor carry a Critical bit: their
generic header is ``(next, 0, length)`` (anything else, subclasses too, takes the
``isinstance`` path in :func:`encode_payloads`)."""

P = TypeVar("P")


def decode_payloads(
    data: bytes, first_type: int, offset: int = 0, *, inner: bool = False
) -> tuple[Payload, ...]:
    """Decode the payload chain in ``data[offset:]`` that starts with ``first_type``.

    Args:
        data: the octets holding the chain; it must end exactly with the chain.
        first_type: type of the first payload (0 = no payloads).
        offset: where the chain starts in ``data``.
        inner: the chain is the plaintext of an SK/SKF payload, where another
            encrypted payload is not allowed.

    Raises:
        DecodeError: a length does not fit, a payload body is malformed, octets
            follow the last payload, or SK/SKF is not last (or nested).
    """
    payloads: list[Payload] = []
    append = payloads.append
    end = len(data)
    next_type = first_type
    unpack_from = _GENERIC.unpack_from
    decoders = _DECODE
    while next_type:
        if end - offset < 4:
            raise DecodeError(f"payload type {next_type} truncated at offset {offset}")
        following, flags, length = unpack_from(data, offset)
        stop = offset + length
        if length < 4 or stop > end:
            raise DecodeError(
                f"payload type {next_type} length {length} exceeds the "
                f"{end - offset} octets left"
            )
        decoder = decoders.get(next_type)
        if decoder is not None:
            append(decoder(data[offset + 4 : stop]))
        elif next_type in _ENCRYPTED:
            if inner:
                raise DecodeError("encrypted payload inside an encrypted payload")
            if stop != end:
                raise DecodeError("encrypted payload is not the last payload")
            append(_ENCRYPTED[next_type](data[offset + 4 : stop], following))
            return tuple(payloads)
        else:
            append(
                UnknownPayload(
                    next_type, bool(flags & _CRITICAL), data[offset + 4 : stop]
                )
            )
        offset = stop
        next_type = following
    if offset != end:
        raise DecodeError(f"{end - offset} octets after the last payload")
    return tuple(payloads)


def encode_payloads(payloads: Sequence[Payload]) -> tuple[int, bytes]:
    """Encode a payload chain.

    Returns:
        ``(first payload type, octets)``; the type is 0 for an empty chain. An SK or
        SKF payload must come last; its Next Payload is its ``first_payload``.

    Raises:
        ValueError: a payload is longer than 65535 octets or SK/SKF is not last.
    """
    if not payloads:
        return 0, b""
    parts: list[bytes] = []
    append = parts.append
    pack = _GENERIC.pack
    plain = _PLAIN_CLASSES
    last = len(payloads) - 1
    for index, payload in enumerate(payloads):
        body = payload.encode()
        if index != last:
            flags = 0 if type(payload) in plain else _chained_flags(payload)
            following = payloads[index + 1].payload_type
        elif isinstance(payload, _ENCRYPTED_CLASSES):
            flags = 0
            following = payload.first_payload
        else:
            flags = 0 if type(payload) in plain else _chained_flags(payload)
            following = 0
        length = 4 + len(body)
        if length > 0xFFFF:
            raise ValueError(f"payload type {payload.payload_type} is {length} octets")
        append(pack(following, flags, length))
        append(body)
    return payloads[0].payload_type, b"".join(parts)


def _chained_flags(payload: Payload) -> int:
    """Generic header flags of a payload that is not a plain class: the Critical
    bit of an :class:`UnknownPayload`.

    Raises:
        ValueError: ``payload`` is SK or SKF, and another payload follows it.
    """
    if isinstance(payload, _ENCRYPTED_CLASSES):
        raise ValueError("an SK/SKF payload must be the last payload")
    if isinstance(payload, UnknownPayload) and payload.critical:
        return _CRITICAL
    return 0


@fast_init
@dataclass(frozen=True, slots=True)
class Message:
    """One IKE message: the header and its payloads in wire order.

    For a protected message the last payload is the still-sealed
    :class:`SkPayload` or :class:`SkfPayload`; see :mod:`.protected`.
    """

    header: IkeHeader
    payloads: tuple[Payload, ...] = ()

    def find(self, kind: type[P]) -> P | None:
        """The first payload of exactly class ``kind``, or ``None``.

        The match is exact: ``find(CertPayload)`` does not return a CERTREQ, and
        ``find(IdPayload)`` finds nothing (ask for ``IdiPayload`` or ``IdrPayload``).
        """
        for payload in self.payloads:
            if type(payload) is kind:
                return payload
        return None

    def find_all(self, kind: type[P]) -> list[P]:
        """Every payload of exactly class ``kind``, in order."""
        return [p for p in self.payloads if type(p) is kind]

    def notify(self, notify_type: int) -> NotifyPayload | None:
        """The first Notify payload of ``notify_type``, or ``None``."""
        for payload in self.payloads:
            if (
                isinstance(payload, NotifyPayload)
                and payload.notify_type == notify_type
            ):
                return payload
        return None


def decode_message(data: bytes, header: IkeHeader | None = None) -> Message:
    """Decode one IKE message (no non-ESP marker in front).

    Args:
        data: the message.
        header: ``decode_header(data)`` when the caller has it already.

    Raises:
        DecodeError: the header Length differs from ``len(data)``, or any check of
            :func:`decode_header` or :func:`decode_payloads` fails.
    """
    if type(data) is not bytes:
        data = bytes(data)  # payload fields must be bytes, never views
    if header is None:
        header = decode_header(data)
    if header.length != len(data):
        raise DecodeError(
            f"IKE header Length {header.length} but the datagram has {len(data)} octets"
        )
    return Message(
        header, decode_payloads(data, header.next_payload, IKE_HEADER_LENGTH)
    )


def encode_message(message: Message) -> bytes:
    """Encode ``message``; the header's Next Payload and Length are computed.

    Raises:
        ValueError: see :func:`encode_payloads` and :meth:`IkeHeader.encode`.
    """
    first, body = encode_payloads(message.payloads)
    header = pack_header(_HEADER, message.header, first, IKE_HEADER_LENGTH + len(body))
    return header + body
