# SPDX-License-Identifier: Apache-2.0
"""Just enough IKEv2 parsing to replay the strongSwan captures in tests/vectors.

RFC 7296 §3.1 header (28 octets), §3.2 generic payload headers, RFC 7383 §2.5 SKF.
The SK payload is opened through a Keymat's ``cipher``; this module holds no keys.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pqike.crypto import IkeCipher

SK, SKF = 46, 53
NONCE, KE, SA, IDI, IDR, AUTH = 40, 34, 33, 35, 36, 39


@dataclass(frozen=True)
class Datagram:
    """One captured UDP payload, without the non-ESP marker."""

    src: str
    data: bytes
    is_esp: bool

    @property
    def spi_i(self) -> bytes:
        """IKE SPIi from the header."""
        return self.data[:8]

    @property
    def spi_r(self) -> bytes:
        """IKE SPIr from the header."""
        return self.data[8:16]

    @property
    def exchange(self) -> int:
        """Exchange type."""
        return self.data[18]

    @property
    def message_id(self) -> int:
        """Message ID."""
        return int.from_bytes(self.data[20:24], "big")

    @property
    def is_response(self) -> bool:
        """Response flag."""
        return bool(self.data[19] & 0x20)


def datagram(entry: dict[str, str]) -> Datagram:
    """Decode one ``captures`` entry; port 4500 IKE loses its non-ESP marker."""
    raw = bytes.fromhex(entry["hex"])
    natt = entry["src"].endswith(":4500") or entry["dst"].endswith(":4500")
    if natt and raw[:4] != bytes(4):
        return Datagram(entry["src"], raw, True)
    return Datagram(entry["src"], raw[4:] if natt else raw, False)


def payloads(first: int, data: bytes) -> list[tuple[int, bytes]]:
    """Split a payload chain into ``(type, body)`` pairs."""
    out = []
    kind, pos = first, 0
    while kind and pos < len(data):
        nxt, _flags, length = struct.unpack_from(">BBH", data, pos)
        out.append((kind, data[pos + 4 : pos + length]))
        kind, pos = nxt, pos + length
    return out


def open_message(cipher: IkeCipher, messages: list[Datagram]) -> tuple[bytes, bytes]:
    """Open one SK message or all SKF fragments of one message.

    Returns:
        ``(A, P)`` as RFC 9242 §3.3.2 defines them for IntAuth: A is the IKE header
        and SK header with the lengths adjusted as if the message had been sent
        unfragmented and unencrypted (Next Payload SK, SK Next Payload = the first
        inner payload); P is the reassembled plaintext.
    """
    first = messages[0].data
    if first[16] == SK:
        plain = cipher.open(first[:32], first[32:])
        inner = first[28]
    else:
        assert first[16] == SKF
        parts = {}
        inner = 0
        for m in messages:
            number = int.from_bytes(m.data[32:34], "big")
            parts[number] = cipher.open(m.data[:36], m.data[36:])
            if number == 1:
                inner = m.data[28]
        plain = b"".join(parts[n] for n in sorted(parts))
    a = bytearray(first[:28])
    a[16] = SK
    a[24:28] = (28 + 4 + len(plain)).to_bytes(4, "big")
    a += struct.pack(">BBH", inner, 0, 4 + len(plain))
    return bytes(a), plain


def inner_payloads(messages: list[Datagram], cipher: IkeCipher) -> dict[int, bytes]:
    """Open a (possibly fragmented) message; return its inner payloads by type."""
    a, plain = open_message(cipher, messages)
    return dict(payloads(a[28], plain))


def plain_payloads(message: Datagram) -> dict[int, bytes]:
    """The payloads of an unencrypted message (IKE_SA_INIT) by type."""
    return dict(payloads(message.data[16], message.data[28:]))
