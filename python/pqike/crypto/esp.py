# SPDX-License-Identifier: Apache-2.0
"""The EspSa protocol: one direction of an ESP SA (RFC 4303, RFC 4106, RFC 7634).

Packet layout::

    SPI(4) | Seq(4) | IV(8) = 64-bit sequence number |
    E(payload | Padding 1, 2, 3.. | Pad Length | Next Header) | ICV(16)

Associated data is ``SPI | Seq`` (8 octets) or, with ESN, ``SPI | Seq high | Seq low``
(12 octets). The anti-replay window (RFC 4303 §3.4.3) is checked before decryption and
advanced only after the ICV verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pqike.crypto._args import BytesLike
from pqike.errors import PqIkeError

__all__ = ["EspSa"]


@runtime_checkable
class EspSa(Protocol):
    """One direction of an ESP SA: ``seal`` for outbound SAs, ``open`` for inbound."""

    @property
    def spi(self) -> int:
        """The SPI as an unsigned 32-bit integer."""
        ...

    @property
    def esn(self) -> bool:
        """True if the SA uses 64-bit extended sequence numbers."""
        ...

    @property
    def next_seq(self) -> int:
        """The sequence number the next ``seal`` will use (max + 1 once exhausted)."""
        ...

    @property
    def highest_received(self) -> int:
        """Highest authenticated inbound sequence number (initial_seq - 1 at first)."""
        ...

    def seal(self, payload: BytesLike, next_header: int) -> bytes:
        """Build one ESP packet.

        Raises:
            SequenceExhausted: the counter would wrap (past 2^32-1, or 2^64-1 with
                ESN); the SA must be rekeyed.
        """
        ...

    def seal_batch(
        self, payloads: Sequence[BytesLike], next_header: int
    ) -> list[bytes]:
        """Seal several payloads in one call (the Rust backend releases the GIL).

        Raises:
            SequenceExhausted: as ``seal``; no packet of the batch is returned then.
        """
        ...

    def open(self, packet: BytesLike) -> tuple[bytes, int]:
        """Verify, decrypt and replay-check one packet.

        Returns:
            ``(payload, next_header)``; next header 59 marks a dummy packet.

        Raises:
            DecodeError: too short, wrong SPI, or a malformed trailer.
            ReplayError: duplicate or left of the anti-replay window.
            AuthenticationError: the ICV did not verify.
        """
        ...

    def open_batch(
        self, packets: Sequence[BytesLike]
    ) -> list[tuple[bytes, int] | PqIkeError]:
        """Open several packets in order; failures are returned, not raised."""
        ...
