# SPDX-License-Identifier: Apache-2.0
"""ESP SAs on pyca/cryptography (RFC 4303, RFC 4106 AES-GCM-16, RFC 7634 ChaCha20).

The anti-replay window follows RFC 4303 §3.4.3 and Appendix A: the window is a bitmap
whose bit ``i`` stands for sequence number ``top - i``. With ESN the high 32 bits of a
received number are inferred from the window (Appendix A2.2) and authenticated through
the associated data, never sent.

As the Rust SA, an SA may be shared between threads: a lock makes each seal, open and
batch one step, so that no sequence number (AES-GCM/ChaCha20 nonce) is used twice, no
packet is accepted twice and a batch is never split by another thread's call.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence

from pqike.crypto import suites
from pqike.crypto._args import (
    BytesLike,
    byteslike,
    byteslike_list,
    check_flag,
    integer,
    transform_id,
)
from pqike.errors import (
    AuthenticationError,
    DecodeError,
    InvalidLength,
    PqIkeError,
    ReplayError,
    SequenceExhausted,
    UnsupportedTransform,
)

from ._nocopy import NoCopy
from .aead import KeyedAead

__all__ = ["ReferenceEspSa"]

# LIMITATION: ESP with AES-GCM-16 and ChaCha20-Poly1305 only (as the Rust core).
_ESP_ENCR = frozenset({20, 28})
_HEADER = 8  # SPI | Seq
_IV = 8
_ICV = 16
_ESN_INFER_WINDOW = 64  # used to infer high bits when anti-replay is off


def _next_header(value: int) -> int:
    next_header = integer(value, "next_header")
    if not 0 <= next_header <= 255:
        raise ValueError(f"{next_header} is outside the 8-bit field [0, 255]")
    return next_header


class ReferenceEspSa(NoCopy):
    """One direction of an ESP SA (see ``pqike.crypto.esp.EspSa``)."""

    __slots__ = (
        "_aead",
        "_bitmap",
        "_encr_id",
        "_esn",
        "_exhausted",
        "_lock",
        "_next_seq",
        "_salt",
        "_spi",
        "_spi_bytes",
        "_top",
        "_window",
    )

    def __init__(
        self,
        spi: int,
        encr_id: int,
        key: BytesLike,
        *,
        esn: bool = False,
        replay_window: int = 64,
        initial_seq: int = 1,
    ) -> None:
        """Create the SA; ``key`` is the cipher key followed by the 4-octet salt.

        Raises:
            UnsupportedTransform: ENCR other than AES-GCM-16 (20) or ChaCha20 (28).
            InvalidLength: key of the wrong length.
            ValueError: bad SPI, replay window or initial sequence number.
        """
        # The Rust backend's order: each argument in turn with the range of its own
        # (as PyO3 converts it), then initial_seq's upper end, which depends on esn,
        # then the ENCR and the key.
        spi = integer(spi, "spi")
        if not 1 <= spi < 1 << 32:  # SPI 0 is reserved, never sent (RFC 4303 §2.1)
            raise ValueError(
                "ESP SPI must be 1..=4294967295 (0 is reserved, RFC 4303 §2.1), "
                f"got {spi}"
            )
        encr_id = transform_id(encr_id, "encr_id", suites.ENCR)
        key = byteslike(key, "key")
        check_flag(esn, "esn")
        replay_window = integer(replay_window, "replay_window")
        if replay_window != 0 and not 32 <= replay_window <= 8192:
            raise ValueError(
                f"replay window must be 0 (off) or 32..=8192, got {replay_window}"
            )
        initial_seq = integer(initial_seq, "initial_seq")
        limit = (1 << 64) - 1 if esn else (1 << 32) - 1
        if not 1 <= initial_seq <= limit:
            raise ValueError(
                "initial sequence number must be 1..=2^32-1 (2^64-1 with ESN), "
                f"got {initial_seq}"
            )
        if encr_id not in _ESP_ENCR:
            raise UnsupportedTransform(
                suites.ENCR, encr_id, f"ESP supports ENCR 20 and 28, not {encr_id}"
            )
        if encr_id == 20 and len(key) not in (20, 28, 36):
            raise InvalidLength(
                "AES-GCM-16 ESP key is 16, 24 or 32 bytes plus a 4-byte salt "
                f"(20, 28 or 36), got {len(key)}"
            )
        if encr_id == 28 and len(key) != 36:
            raise InvalidLength(
                "ChaCha20-Poly1305 ESP key is 32 bytes plus a 4-byte salt (36), "
                f"got {len(key)}"
            )
        self._spi = spi
        self._spi_bytes = struct.pack(">I", spi)
        self._encr_id = encr_id
        self._aead = KeyedAead(encr_id, key[:-4])
        self._salt = key[-4:]
        self._esn = esn
        self._window = replay_window
        self._next_seq = initial_seq
        self._exhausted = False
        # An inbound SA expects initial_seq next: the window starts just below it.
        self._top = initial_seq - 1  # highest authenticated sequence number
        self._bitmap = 0  # bit i: top - i was received
        self._lock = threading.Lock()  # guards the counter and the window

    def __repr__(self) -> str:
        return (
            f"ReferenceEspSa(spi=0x{self._spi:08x}, encr_id={self._encr_id}, "
            f"esn={self._esn})"
        )

    @property
    def spi(self) -> int:
        """The SPI."""
        return self._spi

    @property
    def esn(self) -> bool:
        """True with 64-bit extended sequence numbers."""
        return self._esn

    @property
    def next_seq(self) -> int:
        """Sequence number of the next sealed packet (max + 1 once exhausted)."""
        return self._next_seq

    @property
    def highest_received(self) -> int:
        """Highest authenticated inbound sequence number."""
        return self._top

    def _aad(self, seq: int) -> bytes:
        if self._esn:
            return self._spi_bytes + struct.pack(">II", seq >> 32, seq & 0xFFFFFFFF)
        return self._spi_bytes + struct.pack(">I", seq)

    def seal(self, payload: BytesLike, next_header: int) -> bytes:
        """Build one packet; see the protocol.

        Raises:
            SequenceExhausted: the counter would wrap.
        """
        payload = byteslike(payload, "payload")
        next_header = _next_header(next_header)
        with self._lock:
            return self._seal(payload, next_header)

    def _seal(self, payload: bytes, next_header: int) -> bytes:
        if self._exhausted:
            raise SequenceExhausted(
                f"ESP SA 0x{self._spi:08x}: sequence number space exhausted, rekey"
            )
        seq = self._next_seq
        # RFC 4303 §3.3.3: the counter never cycles; the last number is still sent.
        self._exhausted = seq == self._limit()
        self._next_seq = seq + 1
        # RFC 4303 §2.4: pad so the trailer ends on a 4-octet boundary; bytes 1, 2, ..
        pad = -(len(payload) + 2) % 4
        data = payload + bytes(range(1, pad + 1)) + bytes((pad, next_header))
        iv = struct.pack(">Q", seq)
        body = self._aead.seal(self._salt + iv, self._aad(seq), data)
        return self._spi_bytes + struct.pack(">I", seq & 0xFFFFFFFF) + iv + body

    def seal_batch(
        self, payloads: Sequence[BytesLike], next_header: int
    ) -> list[bytes]:
        """Seal several payloads; all or none (SequenceExhausted before any)."""
        payloads = byteslike_list(payloads, "payloads")
        next_header = _next_header(next_header)
        with self._lock:
            left = 0 if self._exhausted else self._limit() - self._next_seq + 1
            if len(payloads) > left:
                raise SequenceExhausted(
                    f"ESP SA 0x{self._spi:08x}: sequence number space exhausted, rekey"
                )
            return [self._seal(p, next_header) for p in payloads]

    def _limit(self) -> int:
        return (1 << 64) - 1 if self._esn else (1 << 32) - 1

    def _infer_seq(self, seq_low: int) -> int:
        """Return the full sequence number (RFC 4303 Appendix A2.2 with ESN).

        Raises:
            ReplayError: the number would lie before 0 or beyond 2^64 - 1.
        """
        if not self._esn:
            return seq_low
        w = self._window or _ESN_INFER_WINDOW
        th, tl = self._top >> 32, self._top & 0xFFFFFFFF
        if tl >= w - 1:  # the window lies within one 2^32 sub-space
            seq_high = th if seq_low >= tl - w + 1 else th + 1
        else:  # the window spans two sub-spaces
            seq_high = th - 1 if seq_low >= tl + (1 << 32) - w + 1 else th
        if not 0 <= seq_high < 1 << 32:
            raise ReplayError(f"ESP SA 0x{self._spi:08x}: outside the sequence space")
        return (seq_high << 32) | seq_low

    def _check_replay(self, seq: int) -> None:
        if seq == 0:
            raise ReplayError(f"ESP SA 0x{self._spi:08x}: sequence number 0")
        if not self._window or seq > self._top:
            return
        diff = self._top - seq
        if diff >= self._window:
            raise ReplayError(f"ESP SA 0x{self._spi:08x}: left of the replay window")
        if (self._bitmap >> diff) & 1:
            raise ReplayError(f"ESP SA 0x{self._spi:08x}: replayed sequence number")

    def _mark(self, seq: int) -> None:
        if seq > self._top:
            shift = seq - self._top
            width = max(self._window, 1)
            if shift >= width:
                self._bitmap = 1
            else:
                self._bitmap = ((self._bitmap << shift) | 1) & ((1 << width) - 1)
            self._top = seq
        else:
            self._bitmap |= 1 << (self._top - seq)

    def open(self, packet: BytesLike) -> tuple[bytes, int]:
        """Verify, replay-check and decrypt one packet; see the protocol.

        Raises:
            DecodeError: too short, wrong SPI, or a bad trailer.
            ReplayError: duplicate or too old.
            AuthenticationError: the ICV did not verify.
        """
        packet = byteslike(packet, "packet")
        with self._lock:
            return self._open(packet)

    def _open(self, packet: bytes) -> tuple[bytes, int]:
        if len(packet) < _HEADER + _IV + 2 + _ICV:
            raise DecodeError(f"ESP packet of {len(packet)} octets is too short")
        spi, seq_low = struct.unpack_from(">II", packet)
        if spi != self._spi:
            raise DecodeError(f"ESP SPI 0x{spi:08x} is not 0x{self._spi:08x}")
        seq = self._infer_seq(seq_low)
        # RFC 4303 §3.4.3: duplicate / left-of-window check before the ICV ...
        self._check_replay(seq)
        iv = packet[_HEADER : _HEADER + _IV]
        data = self._aead.open(self._salt + iv, self._aad(seq), packet[_HEADER + _IV :])
        # ... and the window advances only once the packet authenticated.
        self._mark(seq)
        pad, next_header = data[-2], data[-1]
        end = len(data) - 2 - pad
        if end < 0:
            raise DecodeError("ESP pad length exceeds the payload")
        if data[end:-2] != bytes(range(1, pad + 1)):
            raise DecodeError("ESP padding is not 1, 2, 3, ...")
        return data[:end], next_header

    def open_batch(
        self, packets: Sequence[BytesLike]
    ) -> list[tuple[bytes, int] | PqIkeError]:
        """Open packets in order; each failure is returned in place of its result."""
        out: list[tuple[bytes, int] | PqIkeError] = []
        data = byteslike_list(packets, "packets")
        with self._lock:
            for packet in data:
                try:
                    out.append(self._open(packet))
                except (AuthenticationError, DecodeError, ReplayError) as exc:
                    out.append(exc)
        return out
