# SPDX-License-Identifier: Apache-2.0
"""IKEv2 message fragmentation (RFC 7383): splitting into SKF and reassembly.

Each fragment is a full IKE message whose only payload is an SKF payload, sealed on
its own with the IKE SA keys. The associated data of a fragment is its IKE header
and the first eight octets of the SKF payload (generic header, Fragment Number and
Total Fragments), RFC 7383 §2.5.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pqike._records import fast_init
from pqike.errors import DecodeError
from pqike.ikev2.codec.encrypted import SkfPayload
from pqike.ikev2.codec.header import IkeHeader, header_layout, pack_header
from pqike.ikev2.codec.message import Payload, decode_payloads
from pqike.ikev2.codec.protected import IkeCipher
from pqike.ikev2.constants import PayloadType

__all__ = [
    "ReassembledMessage",
    "Reassembler",
    "fragment_protected",
]

_SKF_PREFIX = header_layout("BBHHH")
"""IKE header | SKF generic header | Fragment Number | Total Fragments: the
associated data of a fragment (RFC 7383 §2.5)."""
_SKF_OVERHEAD = _SKF_PREFIX.size
_SKF = int(PayloadType.SKF)


def _chunk_size(cipher: IkeCipher, space: int) -> int:
    """Largest plaintext length whose sealed form fits in ``space`` octets (0 when
    not even an empty one fits).

    ``sealed_length`` never decreases as the plaintext grows, and is at least the
    plaintext's length, so the answer lies in ``0..space``: a binary search finds it
    whatever the padding rule (AES-GCM pads to no block, CBC to its block size with
    a Pad Length octet, so several lengths seal to the same size).
    """
    if cipher.sealed_length(0) > space:
        return 0
    fits, too_long = 0, space + 1
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if cipher.sealed_length(middle) <= space:
            fits = middle
        else:
            too_long = middle
    return fits


def fragment_protected(
    header: IkeHeader,
    inner_payload_bytes: bytes,
    cipher: IkeCipher,
    ivs: Iterable[bytes],
    max_datagram_size: int,
    ip_overhead: int,
    *,
    first_payload: int,
) -> list[bytes]:
    """Split encoded inner payloads into SKF-protected fragments (RFC 7383 §2.5).

    Args:
        header: the IKE header shared by all fragments (Next Payload and Length are
            set per fragment).
        inner_payload_bytes: the encoded inner payload chain (see
            :func:`pqike.ikev2.codec.message.encode_payloads`).
        cipher: seals each fragment.
        ivs: fresh IVs, one is taken per fragment.
        max_datagram_size: the largest IP datagram to produce (e.g. 1280).
        ip_overhead: octets in front of the IKE message in that datagram: IP and UDP
            headers plus the non-ESP marker on port 4500.
        first_payload: type of the first inner payload (goes into fragment 1).

    Returns:
        The IKE messages of fragments 1..n, in order, without non-ESP marker.

    Raises:
        ValueError: no room for even one plaintext octet, more than 65535
            fragments, or the IVs ran out.
    """
    space = max_datagram_size - ip_overhead - _SKF_OVERHEAD
    chunk = _chunk_size(cipher, space)
    if chunk < 1:
        raise ValueError(
            f"datagram size {max_datagram_size} leaves no room to fragment"
        )
    pieces = [
        inner_payload_bytes[i : i + chunk]
        for i in range(0, len(inner_payload_bytes), chunk)
    ] or [b""]
    total = len(pieces)
    if total > 0xFFFF:
        raise ValueError(f"{total} fragments exceed the 16-bit Total Fragments")
    iv_source = iter(ivs)
    datagrams: list[bytes] = []
    for number, piece in enumerate(pieces, start=1):
        iv = next(iv_source, None)
        if iv is None:
            raise ValueError(f"ran out of IVs at fragment {number} of {total}")
        if len(iv) != cipher.iv_length:
            raise ValueError(f"IV must be {cipher.iv_length} octets, got {len(iv)}")
        sealed = cipher.sealed_length(len(piece))
        aad = pack_header(
            _SKF_PREFIX,
            header,
            _SKF,
            _SKF_OVERHEAD + sealed,
            first_payload if number == 1 else 0,
            0,
            8 + sealed,
            number,
            total,
        )
        datagrams.append(aad + cipher.seal(aad, iv, piece))
    return datagrams


@fast_init
@dataclass(frozen=True, slots=True)
class ReassembledMessage:
    """A fragmented message put back together (RFC 7383 §2.6)."""

    header: IkeHeader
    """Header of fragment 1 as received (Next Payload SKF, that fragment's Length)."""
    first_payload: int
    """First inner payload type, from fragment 1's SKF Next Payload."""
    plaintext: bytes
    """The concatenated decrypted fragments: the inner payload chain (IntAuth P)."""
    payloads: tuple[Payload, ...]
    """The decoded inner payloads."""


@dataclass(slots=True)
class _Collection:
    total: int
    parts: dict[int, bytes]
    size: int = 0
    first_header: IkeHeader | None = None
    first_payload: int = 0


class Reassembler:
    """Collects verified SKF fragments per message until each message is complete.

    One instance serves one IKE SA. Fragments are keyed by Message ID and the R
    flag. Following RFC 7383 §2.6.2: a duplicate fragment is ignored; a fragment
    with a larger Total Fragments restarts collection for that message; one with a
    smaller Total Fragments is ignored.

    Feed only fragments whose ICV verified (see
    :func:`pqike.ikev2.codec.protected.open_protected`).
    """

    def __init__(
        self,
        *,
        max_fragments: int = 64,
        max_total_bytes: int = 65536,
        max_messages: int = 4,
    ) -> None:
        """Set the limits.

        Args:
            max_fragments: largest Total Fragments accepted.
            max_total_bytes: largest reassembled plaintext.
            max_messages: messages collected at once; the oldest is dropped beyond.
        """
        self.max_fragments = max_fragments
        self.max_total_bytes = max_total_bytes
        self.max_messages = max_messages
        self._pending: dict[tuple[int, bool], _Collection] = {}

    def __len__(self) -> int:
        """Number of messages currently being collected."""
        return len(self._pending)

    def discard(self, message_id: int, is_response: bool) -> None:
        """Forget the fragments collected for one message."""
        self._pending.pop((message_id, is_response), None)

    def clear(self) -> None:
        """Forget everything."""
        self._pending.clear()

    def add(
        self, header: IkeHeader, fragment: SkfPayload, plaintext: bytes
    ) -> ReassembledMessage | None:
        """Add one verified fragment.

        Returns:
            The reassembled message once every fragment is in, else ``None``.

        Raises:
            DecodeError: Total Fragments above ``max_fragments`` or the message
                above ``max_total_bytes`` (notify ``None``: drop silently; the
                collection is discarded), or the reassembled plaintext is not a
                valid payload chain (INVALID_SYNTAX).
        """
        total = fragment.total_fragments
        if total > self.max_fragments:
            raise DecodeError(
                f"{total} fragments exceed the limit of {self.max_fragments}",
                notify=None,
            )
        key = (header.message_id, header.is_response)
        state = self._pending.get(key)
        if state is None or total > state.total:
            state = self._start(key, total)
        elif total < state.total or fragment.fragment_number in state.parts:
            return None
        if state.size + len(plaintext) > self.max_total_bytes:
            del self._pending[key]
            raise DecodeError(
                f"fragmented message exceeds {self.max_total_bytes} octets", notify=None
            )
        state.parts[fragment.fragment_number] = plaintext
        state.size += len(plaintext)
        if fragment.fragment_number == 1:
            state.first_header = header
            state.first_payload = fragment.first_payload
        if len(state.parts) < total or state.first_header is None:
            return None
        del self._pending[key]
        joined = b"".join(map(state.parts.__getitem__, range(1, total + 1)))
        payloads = decode_payloads(joined, state.first_payload, inner=True)
        return ReassembledMessage(
            state.first_header, state.first_payload, joined, payloads
        )

    def _start(self, key: tuple[int, bool], total: int) -> _Collection:
        self._pending.pop(key, None)
        while len(self._pending) >= self.max_messages:
            del self._pending[next(iter(self._pending))]
        state = _Collection(total, {})
        self._pending[key] = state
        return state
