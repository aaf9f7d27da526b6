# SPDX-License-Identifier: Apache-2.0
"""IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Nonce and the capability notifies.

Request:  HDR, [N(COOKIE)], SAi1, KEi, Ni, N(NAT_DETECTION_*) x2,
          N(IKEV2_FRAGMENTATION_SUPPORTED), N(SIGNATURE_HASH_ALGORITHMS),
          [N(INTERMEDIATE_EXCHANGE_SUPPORTED)]          (RFC 9242 §3, RFC 9370 §2.2)
Response: HDR, SAr1, KEr, Nr, the same notifies          or  HDR, N(error | COOKIE)

Retries (RFC 7296 §1.2, §2.6; SPEC §4.7): COOKIE -> the same request with the cookie
as the first payload; INVALID_KE_PAYLOAD -> a new KE of the named method, if we
offered it. Both keep SPIi and Ni, and go out again as Message ID 0.

Keys: SKEYSEED = prf(Ni | Nr, g^ir), SK_* = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
(RFC 7296 §2.14) via ``backend.keymat_derive``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import struct
from typing import TYPE_CHECKING

from pqike.errors import (
    InvalidKeyExchangeData,
    RemoteProtocolError,
)
from pqike.ikev2.codec.payloads import KePayload, NoncePayload, NotifyPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.constants import ExchangeType, NotifyType
from pqike.ikev2.negotiation import (
    KE,
    Offer,
    local_offers,
    select,
    validate_choice,
)
from pqike.ikev2.suite import ke_name, notify_name
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import (
    error_notifies,
    initiator_ke,
    notify,
    notify_types,
    proposal_to_offer,
    require,
    responder_ke,
    response_sa_payload,
    sa_payload,
)

if TYPE_CHECKING:
    from pqike.crypto.kex import KeyExchange
    from pqike.ikev2.sa import Addr, IkeSa

__all__ = ["IkeInit", "nat_detection_hash"]

MAX_RETRIES = 5
"""COOKIE / INVALID_KE_PAYLOAD retries before giving up (strongSwan uses 5 too)."""
NONCE_LENGTH = 32
SIGNATURE_HASHES = (2, 3, 4, 5)
"""RFC 7427 §4 / RFC 8420: SHA2-256, SHA2-384, SHA2-512, Identity."""

_N = NotifyType


def nat_detection_hash(spi_i: bytes, spi_r: bytes, addr: Addr) -> bytes:
    """RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port)."""
    ip = _packed_ip(addr[0])
    return hashlib.sha1(spi_i + spi_r + ip + struct.pack(">H", addr[1])).digest()


@functools.lru_cache(maxsize=1024)
def _packed_ip(host: str) -> bytes:
    """The address octets of ``host`` (parsing with ipaddress is slow; peers and
    local addresses repeat)."""
    return ipaddress.ip_address(host).packed


def _capability_notifies(sa: IkeSa, *, with_intermediate: bool) -> list[NotifyPayload]:
    """The status notifies both IKE_SA_INIT messages carry."""
    spi_r = sa.spi_r if not sa.is_initiator else bytes(8)
    # LIMITATION: ESP travels only UDP-encapsulated (user-space data plane), so the
    # source hash is deliberately not ours: peers then treat us as NATed and use
    # UDP encapsulation on port 4500 (as strongSwan does with encap=yes).
    fake_source = nat_detection_hash(sa.spi_i, spi_r, ("0.0.0.0", 0))
    out = [
        NotifyPayload(_N.NAT_DETECTION_SOURCE_IP, fake_source),
        NotifyPayload(
            _N.NAT_DETECTION_DESTINATION_IP,
            nat_detection_hash(sa.spi_i, spi_r, sa.remote),
        ),
        _FRAGMENTATION_SUPPORTED,
        _SIGNATURE_HASH_ALGORITHMS,
    ]
    if with_intermediate:
        out.append(_INTERMEDIATE_SUPPORTED)
    return out


# Constant payloads (frozen, so every message can share them).
_FRAGMENTATION_SUPPORTED = NotifyPayload(_N.IKEV2_FRAGMENTATION_SUPPORTED)
_SIGNATURE_HASH_ALGORITHMS = NotifyPayload(
    _N.SIGNATURE_HASH_ALGORITHMS,
    b"".join(struct.pack(">H", h) for h in SIGNATURE_HASHES),
)
_INTERMEDIATE_SUPPORTED = NotifyPayload(_N.INTERMEDIATE_EXCHANGE_SUPPORTED)


class IkeInit(Task):
    """Negotiates the IKE SA suite, the Type 4 key exchange and nonces."""

    exchange = ExchangeType.IKE_SA_INIT

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(sa)
        self.offers: list[Offer] = list(
            local_offers(sa.conn.ike_proposals, 1, supports=sa.backend.supports)
        )
        self.method = self.offers[0].transforms[KE][0][0] if self.offers else 0
        self.kx: KeyExchange | None = None
        self.cookie = b""
        self.retries = 0
        self.tried: set[int] = set()
        """Methods we switched to after INVALID_KE_PAYLOAD."""
        self.done = False

    def pending_exchange(self) -> ExchangeType | None:
        return None if self.done else self.exchange

    # -- initiator ---------------------------------------------------------------

    def _build_i(self, draft: Draft) -> TaskStatus:
        sa = self.sa
        if not sa.ni:
            sa.ni = sa.rng(NONCE_LENGTH)
        if self.kx is None or self.kx.method != self.method:
            self.kx = initiator_ke(sa, self.method)
        if self.cookie:
            draft.payloads.append(NotifyPayload(_N.COOKIE, self.cookie))
        wants_addke = any(t >= 6 for o in self.offers for t in o.transforms)
        draft.payloads += [
            sa_payload(self.offers),
            KePayload(self.method, self.kx.public_key()),
            NoncePayload(sa.ni),
            *_capability_notifies(sa, with_intermediate=wants_addke),
        ]
        return TaskStatus.NEED_MORE

    def _retry(self, reason: str, *, stale: bool = False) -> TaskStatus:
        """Send IKE_SA_INIT again (MID 0, same SPIi and Ni).

        ``stale``: a duplicate of an answer we already acted on (the channel may
        duplicate and reorder); the request goes out again without counting a retry.
        """
        if not stale:
            self.retries += 1
        if self.retries > MAX_RETRIES:
            raise RemoteProtocolError(f"IKE_SA_INIT: too many retries ({reason})")
        self.sa.log.debug("IKE_SA_INIT retry %d: %s", self.retries, reason)
        self.sa.spi_r = bytes(8)
        self.sa.manager.next_mid = 0
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        cookie = notify(msg, _N.COOKIE)
        if cookie is not None and 1 <= len(cookie.data) <= 64:
            stale = cookie.data == self.cookie
            self.cookie = cookie.data
            return self._retry("COOKIE requested", stale=stale)
        invalid_ke = notify(msg, _N.INVALID_KE_PAYLOAD)
        if invalid_ke is not None:
            return self._on_invalid_ke(invalid_ke.data)
        errors = error_notifies(msg)
        if errors:
            # LIMITATION: an unauthenticated error notify ends the attempt at once;
            # RFC 7296 §2.21 suggests waiting a while for a genuine response, since
            # one spoofed datagram can abort us (docs/limitations.md).
            code = errors[0].notify_type
            raise RemoteProtocolError(f"IKE_SA_INIT refused: {notify_name(code)}", code)
        return self._accept_response(msg)

    def _on_invalid_ke(self, data: bytes) -> TaskStatus:
        """RFC 7296 §1.3: retry with the method the responder named."""
        method = int.from_bytes(data[:2], "big") if len(data) == 2 else -1
        offered = {m for o in self.offers for m, _ in o.transforms.get(KE, ())}
        if method == self.method and method in self.tried:
            return self._retry("duplicate INVALID_KE_PAYLOAD", stale=True)
        if method not in offered or method == self.method:
            raise RemoteProtocolError(
                f"INVALID_KE_PAYLOAD names method {method}, which we did not offer",
                _N.INVALID_KE_PAYLOAD,
            )
        self.method = method
        self.tried.add(method)
        return self._retry(f"INVALID_KE_PAYLOAD, responder wants {ke_name(method)}")

    def _accept_response(self, msg: Received) -> TaskStatus:
        sa = self.sa
        sa_p = require(msg, SaPayload, "SA")
        ke = require(msg, KePayload, "KE")
        nonce = require(msg, NoncePayload, "Nonce")
        if len(sa_p.proposals) != 1:
            raise RemoteProtocolError("SAr1 must hold one proposal", _N.INVALID_SYNTAX)
        chosen = validate_choice(proposal_to_offer(sa_p.proposals[0]), self.offers)
        if (
            chosen is None
            or chosen.id_of(KE) != self.method
            or ke.method != self.method
        ):
            raise RemoteProtocolError(
                "responder chose a proposal we did not offer", _N.NO_PROPOSAL_CHOSEN
            )
        self._peer_capabilities(msg, chosen.addke)
        assert self.kx is not None
        try:
            self.kx.set_peer_public(ke.data)
        except InvalidKeyExchangeData as exc:
            # draft-ietf-ipsecme-ikev2-mlkem §2.2: fail, send nothing more
            raise RemoteProtocolError(f"responder KE data rejected: {exc}") from None
        sa.nr = nonce.data
        sa.suite = chosen
        self._derive(self.kx.shared_secret())
        self.done = True
        return TaskStatus.DONE

    def _peer_capabilities(self, msg: Received, addke: tuple[int, ...]) -> None:
        types = notify_types(msg)
        self.sa.peer_fragmentation = _N.IKEV2_FRAGMENTATION_SUPPORTED in types
        self.sa.peer_intermediate = _N.INTERMEDIATE_EXCHANGE_SUPPORTED in types
        if addke and not self.sa.peer_intermediate:
            # RFC 9370 §2.2.2: additional exchanges need IKE_INTERMEDIATE
            raise RemoteProtocolError(
                "ADDKE chosen without INTERMEDIATE_EXCHANGE_SUPPORTED",
                _N.NO_PROPOSAL_CHOSEN,
            )

    def _derive(self, shared_secret: bytes) -> None:
        """RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); SK_* = prf+(...)."""
        sa = self.sa
        assert sa.suite is not None
        encr_id, key_bits = sa.suite.chosen[1]
        sa.keymat = sa.backend.keymat_derive(
            sa.suite.id_of(2),
            encr_id,
            key_bits,
            sa.suite.id_of(3),
            shared_secret,
            sa.ni,
            sa.nr,
            sa.spi_i,
            sa.spi_r,
        )
        sa.multi_ke.plan(sa.suite)
        sa.float_to_natt()
        if sa.log.isEnabledFor(logging.DEBUG):
            sa.log.debug("IKE_SA_INIT done: %s", _suite_text(sa.suite))

    # -- responder ---------------------------------------------------------------

    def _process_r(self, msg: Received) -> TaskStatus:
        sa = self.sa
        sa_p = require(msg, SaPayload, "SA")
        ke = require(msg, KePayload, "KE")
        nonce = require(msg, NoncePayload, "Nonce")
        offers = [proposal_to_offer(p) for p in sa_p.proposals]
        types = notify_types(msg)
        sa.peer_fragmentation = _N.IKEV2_FRAGMENTATION_SUPPORTED in types
        sa.peer_intermediate = _N.INTERMEDIATE_EXCHANGE_SUPPORTED in types
        chosen = select(offers, self.offers)
        if chosen is None or (chosen.addke and not sa.peer_intermediate):
            raise RemoteProtocolError(
                "no acceptable IKE proposal", _N.NO_PROPOSAL_CHOSEN
            )
        if ke.method != chosen.id_of(KE):
            self.error_data = struct.pack(">H", chosen.id_of(KE))
            raise RemoteProtocolError(
                f"KEi is {ke_name(ke.method)}, we chose {ke_name(chosen.id_of(KE))}",
                _N.INVALID_KE_PAYLOAD,
            )
        self.kx = responder_ke(sa, ke.method, ke.data, "KEi")
        sa.ni, sa.nr, sa.suite = nonce.data, sa.rng(NONCE_LENGTH), chosen
        self._derive(self.kx.shared_secret())
        return TaskStatus.DONE

    def _build_r(self, draft: Draft) -> TaskStatus:
        sa = self.sa
        assert sa.suite is not None
        assert self.kx is not None
        draft.payloads += [
            response_sa_payload(sa.suite),
            KePayload(self.kx.method, self.kx.public_key()),
            NoncePayload(sa.nr),
            *_capability_notifies(sa, with_intermediate=sa.peer_intermediate),
        ]
        if not sa.peer_fragmentation:
            draft.payloads = [
                p
                for p in draft.payloads
                if not (
                    isinstance(p, NotifyPayload)
                    and p.notify_type == _N.IKEV2_FRAGMENTATION_SUPPORTED
                )
            ]
        return TaskStatus.DONE


def _suite_text(suite: object) -> str:
    from pqike.ikev2.negotiation import Selected
    from pqike.ikev2.suite import suite_info

    assert isinstance(suite, Selected)
    return str(suite_info(suite))
