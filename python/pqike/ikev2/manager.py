# SPDX-License-Identifier: Apache-2.0
"""Message IDs, retransmission, the response cache and RFC 7383 fragmentation.

Theory of operation (one instance per IKE SA):

* Requests we send (RFC 7296 §2.1, §2.3): window size 1. ``next_mid`` starts at 0
  and grows by one per exchange we start; a request stays *outstanding* until the
  response with its Message ID arrives. Only the requester retransmits: the same
  datagrams, at ``timeout * base**n`` seconds after the previous send, ``tries``
  times; after that the SA fails with "peer not responding".
* Requests we receive: ``peer_mid`` is the next Message ID the peer may use.
  ``mid == peer_mid`` is a new request (processed, its response cached);
  ``mid == peer_mid - 1`` is a retransmission, answered from the cache without
  redoing any work (for a fragmented request only its fragment 1 triggers the
  resend, RFC 7383 §2.6.1); anything else is dropped (RFC 7296 §2.3).
* Responses are accepted only for the outstanding request; late duplicates drop.
* Protected messages whose IP datagram would exceed ``fragment_size`` are sent as
  SKF fragments once both peers announced IKEV2_FRAGMENTATION_SUPPORTED; received
  fragments are verified one by one and reassembled with limits (codec Reassembler).
* IVs: a per-SA counter for AEADs (unique per key, RFC 5282 §3.1), random for CBC.

Invariant: a retransmission is byte-identical to the first transmission, so the
IntAuth chains and the AUTH octets never depend on which copy arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pqike.errors import DecodeError
from pqike.ikev2.codec.encrypted import SkfPayload, SkPayload
from pqike.ikev2.codec.fragment import Reassembler, fragment_protected
from pqike.ikev2.codec.header import IkeHeader
from pqike.ikev2.codec.message import (
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from pqike.ikev2.codec.protected import (
    IkeCipher,
    int_auth_chunks,
    open_protected,
    open_sk_only,
    seal_payloads,
)
from pqike.ikev2.constants import IKE_HEADER_LENGTH
from pqike.ikev2.tasks.base import Received

__all__ = ["Cached", "Encoded", "Manager", "Outstanding", "ip_overhead"]

_ENCRYPTED_CLASSES = (SkPayload, SkfPayload)
_IPV4_UDP = 20 + 8
_IPV6_UDP = 40 + 8


def ip_overhead(remote_host: str, natt: bool) -> int:
    """Octets in front of the IKE message in an IP datagram (RFC 7383 §2.5.1)."""
    base = _IPV6_UDP if ":" in remote_host else _IPV4_UDP
    return base + (4 if natt else 0)


class Encoded:
    """A message ready to send: its datagrams and its RFC 9242 A | P chunk.

    ``int_auth_chunk`` is empty unless :meth:`Manager.encode` was asked for it
    (only IKE_INTERMEDIATE messages are covered by IntAuth).
    """

    __slots__ = ("datagrams", "int_auth_chunk", "size")

    def __init__(self, datagrams: tuple[bytes, ...], int_auth_chunk: bytes) -> None:
        self.datagrams = datagrams
        self.int_auth_chunk = int_auth_chunk
        self.size = sum(map(len, datagrams))
        """Octets on the wire, all fragments together."""


@dataclass(slots=True)
class Outstanding:
    """Our request waiting for its response."""

    mid: int
    exchange: int
    encoded: Encoded
    deadline: float
    sent_at: float
    tries: int = 0
    detail: str = ""
    """What the request was for (ExchangeCompleted.detail)."""


@dataclass(slots=True)
class Cached:
    """Our response to the peer's last request (resent on retransmissions)."""

    mid: int
    encoded: Encoded


@dataclass
class Manager:
    """Per-SA message bookkeeping; see the module docstring."""

    # LIMITATION: window size 1 both ways; SET_WINDOW_SIZE is neither sent nor
    # honoured (RFC 7296 §2.3), and retransmission back-off has no jitter.

    rng: Callable[[int], bytes]
    fragment_size: int = 1280
    retransmit_timeout: float = 4.0
    retransmit_tries: int = 5
    retransmit_base: float = 1.8
    next_mid: int = 0
    peer_mid: int = 0
    outstanding: Outstanding | None = None
    cached: Cached | None = None
    reassembler: Reassembler = field(default_factory=Reassembler)
    _iv_counter: int = 0
    _rx_sizes: dict[tuple[int, bool], tuple[int, int]] = field(default_factory=dict)

    def release(self) -> None:
        """Forget fragments held for reassembly (verified and decrypted plaintext)
        and their sizes; the SA is dead and will open no further message."""
        self.reassembler.clear()
        self._rx_sizes.clear()

    # -- outbound ---------------------------------------------------------------

    def _ivs(self, cipher: IkeCipher) -> Iterator[bytes]:
        """Endless IVs (see :meth:`_next_iv`)."""
        while True:
            yield self._next_iv(cipher)

    def _next_iv(self, cipher: IkeCipher) -> bytes:
        """A counter for 8-octet (AEAD) IVs, random otherwise."""
        if cipher.iv_length == 8:
            self._iv_counter += 1
            return self._iv_counter.to_bytes(8, "big")
        return self.rng(cipher.iv_length)

    def encode(
        self,
        header: IkeHeader,
        payloads: Sequence[Any],
        cipher: IkeCipher | None,
        *,
        may_fragment: bool = False,
        overhead: int = _IPV4_UDP,
        int_auth: bool = True,
    ) -> Encoded:
        """Encode one message; SK-protect it when ``cipher`` is given.

        With ``may_fragment`` a protected message whose datagram would exceed
        ``fragment_size`` is split into SKF fragments (RFC 7383 §2.5).
        ``int_auth``: also build the RFC 9242 A | P chunk of a protected message.
        """
        if cipher is None:
            return Encoded((encode_message(Message(header, tuple(payloads))),), b"")
        first, plain = encode_payloads(payloads)
        chunk = _chunk(header, first, plain) if int_auth else b""
        sk_length = 4 + cipher.sealed_length(len(plain))
        whole_size = IKE_HEADER_LENGTH + sk_length
        if (
            may_fragment
            and whole_size + overhead > self.fragment_size
            and sk_length <= 0xFFFF  # else seal_payloads raises, as it always did
        ):
            # Not sealed whole first: only its size was needed. Its IV is still
            # drawn, so the fragments' IVs (and octets) are what they always were.
            self._next_iv(cipher)
            parts = fragment_protected(
                header,
                plain,
                cipher,
                self._ivs(cipher),
                self.fragment_size,
                overhead,
                first_payload=first,
            )
            return Encoded(tuple(parts), chunk)
        whole = seal_payloads(header, first, plain, cipher, self._next_iv(cipher))
        return Encoded((whole,), chunk)

    def start_request(
        self, mid: int, exchange: int, enc: Encoded, now: float, detail: str = ""
    ) -> None:
        """Record a sent request as outstanding; arms the retransmission timer."""
        self.next_mid = mid + 1
        self.outstanding = Outstanding(
            mid, exchange, enc, now + self.retransmit_timeout, now, 0, detail
        )

    def retransmit_due(self, now: float) -> tuple[bytes, ...] | None:
        """Datagrams to resend now, ``()`` when nothing is due, None when exhausted."""
        out = self.outstanding
        if out is None or now < out.deadline:
            return ()
        out.tries += 1
        if out.tries > self.retransmit_tries:
            return None
        out.deadline = now + self.retransmit_timeout * self.retransmit_base**out.tries
        return out.encoded.datagrams

    def timer(self) -> float | None:
        """Deadline of the next retransmission, if a request is outstanding."""
        return self.outstanding.deadline if self.outstanding else None

    # -- inbound ----------------------------------------------------------------

    def classify_request(self, header: IkeHeader, data: bytes) -> str:
        """``"new"``, ``"retransmit"`` (resend the cached response) or ``"drop"``."""
        if header.message_id == self.peer_mid:
            return "new"
        cached = self.cached
        if cached is None or header.message_id != cached.mid:
            return "drop"
        return "retransmit" if _fragment_number(data) in (None, 1) else "drop"

    def accept_response(self, header: IkeHeader) -> bool:
        """True when ``header`` answers the outstanding request."""
        out = self.outstanding
        return out is not None and header.message_id == out.mid

    def open(
        self,
        data: bytes,
        header: IkeHeader,
        cipher: IkeCipher,
        *,
        int_auth: bool = True,
    ) -> Received | None:
        """Verify and decrypt a protected message; reassemble SKF fragments.

        ``int_auth``: also build the RFC 9242 A | P chunk (IKE_INTERMEDIATE needs
        it; for other exchanges it would be built for nothing).

        Returns:
            The message, or None while fragments are still missing.

        Raises:
            DecodeError: malformed (notify INVALID_SYNTAX) or over the reassembly
                limits (notify None: drop).
            AuthenticationError: the ICV did not verify (drop).
        """
        sk_only = open_sk_only(data, cipher, header)  # the common shape, no records
        if sk_only is not None:
            first, plain = sk_only
            payloads = decode_payloads(plain, first, inner=True)
            chunk = _chunk(header, first, plain) if int_auth else b""
            return Received(header, payloads, data, chunk, len(data), 1)
        opened = open_protected(data, cipher, header)
        enc = opened.encrypted
        if isinstance(enc, SkPayload):
            plain = opened.plaintext
            payloads = decode_payloads(plain, enc.first_payload, inner=True)
            chunk = _chunk(header, enc.first_payload, plain) if int_auth else b""
            return Received(header, payloads, data, chunk, len(data), 1)
        key = (header.message_id, header.is_response)
        size, count = self._rx_sizes.get(key, (0, 0))
        self._rx_sizes[key] = (size + len(data), count + 1)
        whole = self.reassembler.add(header, enc, opened.plaintext)
        if whole is None:
            return None
        size, count = self._rx_sizes.pop(key, (len(data), 1))
        chunk = (
            _chunk(whole.header, whole.first_payload, whole.plaintext)
            if int_auth
            else b""
        )
        return Received(whole.header, whole.payloads, data, chunk, size, count)

    def decode_plain(self, data: bytes, message: Message | None = None) -> Received:
        """Decode an unprotected message (IKE_SA_INIT); ``message``: ``data``
        already decoded by the caller.

        Raises:
            DecodeError: malformed, or it carries an SK/SKF payload.
        """
        msg = decode_message(data) if message is None else message
        for p in msg.payloads:
            if isinstance(p, _ENCRYPTED_CLASSES):
                raise DecodeError("IKE_SA_INIT must not be encrypted", notify=None)
        return Received(msg.header, msg.payloads, data, b"", len(data), 1)

    def finish_request(self, mid: int, response: Encoded) -> None:
        """Cache our response to request ``mid`` and expect ``mid + 1`` next."""
        self.peer_mid = mid + 1
        self.cached = Cached(mid, response)
        self.reassembler.discard(mid, False)


def _chunk(header: IkeHeader, first_payload: int, plaintext: bytes) -> bytes:
    """The RFC 9242 A | P chunk of a message (see ``int_auth_chunks``)."""
    a, p = int_auth_chunks(header, first_payload, plaintext)
    return a + p


def _fragment_number(data: bytes) -> int | None:
    """Fragment Number of an SKF message, None for anything else (no decryption)."""
    try:
        msg = decode_message(data)
    except DecodeError:
        return 0
    last = msg.payloads[-1] if msg.payloads else None
    return last.fragment_number if isinstance(last, SkfPayload) else None
