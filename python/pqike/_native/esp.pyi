# SPDX-License-Identifier: Apache-2.0
"""ESP packet protection with anti-replay (``pqike_core::esp``; RFC 4303, 4106, 7634).

Packets are ``SPI | Seq | IV(8) | E(payload | 1, 2, 3.. padding | pad length |
next header) | ICV``; the IV is the 64-bit sequence number, so no caller picks a nonce.
"""

from collections.abc import Sequence
from typing import final

from pqike.crypto._args import BytesLike
from pqike.errors import PqIkeError

__all__ = [
    "EspSa",
]

@final
class EspSa:
    """One direction of an ESP SA: ``seal*`` for outbound, ``open*`` for inbound.

    Thread-safe (a lock inside); the batch calls release the GIL.
    """

    def __new__(
        cls,
        spi: int,
        encr_id: int,
        key: BytesLike,
        *,
        esn: bool = False,
        replay_window: int = 64,
        initial_seq: int = 1,
    ) -> EspSa:
        """Create an SA.

        Args:
            spi: the SPI (32 bits).
            encr_id: 20 AES-GCM-16 or 28 ChaCha20-Poly1305 (UnsupportedTransform for
                any other, also AES-GCM-8/12).
            key: cipher key (16/24/32 for AES, 32 for ChaCha20) followed by the
                4-octet salt.
            esn: extended sequence numbers (high half only in the AAD).
            replay_window: 0 (off) or 32..8192.
            initial_seq: first sequence number sealed; an inbound window starts
                just below it.

        Raises:
            UnsupportedTransform, InvalidLength, ValueError (window, initial_seq).
        """

    @property
    def spi(self) -> int:
        """The SPI."""

    @property
    def esn(self) -> bool:
        """Whether extended sequence numbers are used."""

    @property
    def next_seq(self) -> int:
        """The sequence number the next seal uses (2**32 or 2**64 once exhausted)."""

    @property
    def highest_received(self) -> int:
        """Highest authenticated inbound sequence number (initial_seq - 1 at first)."""

    def seal(self, payload: BytesLike, next_header: int) -> bytes:
        """Seal one packet. Raises SequenceExhausted instead of wrapping the counter."""

    def seal_batch(
        self, payloads: Sequence[BytesLike], next_header: int
    ) -> list[bytes]:
        """Seal several packets (GIL released); none if the counter cannot hold all."""

    def open(self, packet: BytesLike) -> tuple[bytes, int]:
        """Open one packet -> ``(payload, next_header)``; next header 59 = dummy packet.

        Raises DecodeError (short, other SPI, bad padding), ReplayError (checked before
        decryption), AuthenticationError (the window moves only after authentication).
        """

    def open_batch(
        self, packets: Sequence[BytesLike]
    ) -> list[tuple[bytes, int] | PqIkeError]:
        """Open several packets in order (GIL released); failures are returned."""
