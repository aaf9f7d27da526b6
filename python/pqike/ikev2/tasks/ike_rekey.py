# SPDX-License-Identifier: Apache-2.0
"""IKE SA rekey with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18; RFC 9370 §2.2.4).

Request:  HDR, SK{SA(IKE, new SPIi), Ni, KEi}
Response: HDR, SK{SA(IKE, new SPIr), Nr, KEr, [N(ADDITIONAL_KEY_EXCHANGE)(link)]}
then one IKE_FOLLOWUP_KE per negotiated ADDKE on the old IKE SA (``ike_multi_ke.py``).

New keys (SPEC §2.6, §7 item 3: the old PRF for SKEYSEED and prf+):
SKEYSEED = prf(SK_d(old), SK(0) | Ni | Nr | SK(1) | ... | SK(n)),
SK_* = prf+(SKEYSEED, Ni | Nr | SPIi(new) | SPIr(new))  (``Keymat.rekey_ike``).
The peer that started the rekey is the initiator of the new IKE SA; the Child SAs
move over to it, and the rekey initiator then deletes the old IKE SA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pqike.errors import InvalidKeyExchangeData, RemoteProtocolError
from pqike.ikev2.codec.payloads import KePayload, NoncePayload, NotifyPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.constants import ExchangeType, NotifyType, ProtocolId
from pqike.ikev2.negotiation import (
    KE,
    Offer,
    Selected,
    local_offers,
    select,
    validate_choice,
)
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import (
    error_notifies,
    find_all,
    initiator_ke,
    notify,
    proposal_to_offer,
    require,
    responder_ke,
    response_sa_payload,
    sa_payload,
)
from pqike.ikev2.tasks.ike_init import NONCE_LENGTH
from pqike.ikev2.tasks.ike_multi_ke import IkeMultiKe
from pqike.ikev2.tasks.informational import DeleteIke

if TYPE_CHECKING:
    from pqike.crypto.kex import KeyExchange
    from pqike.ikev2.sa import IkeSa

__all__ = ["IkeRekey"]

_N = NotifyType


class IkeRekey(Task):
    """Rekeys the IKE SA it runs on; both roles.

    # LIMITATION: no rekey collision handling (RFC 7296 §2.8.2).
    """

    exchange = ExchangeType.CREATE_CHILD_SA

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(sa)
        self.spi = b""
        """Our SPI of the new IKE SA."""
        self.peer_spi = b""
        self.offers: list[Offer] = []
        self.chosen: Selected | None = None
        self.method = 0
        self.kx: KeyExchange | None = None
        self.ni = b""
        self.nr = b""
        self.secrets: list[bytes] = []
        self.followup = IkeMultiKe(
            sa, ExchangeType.IKE_FOLLOWUP_KE, on_secret=self.secrets.append
        )
        self.in_followup = False
        self.done = False

    def pending_exchange(self) -> ExchangeType | None:
        if self.done:
            return None
        return self.followup.exchange if self.in_followup else self.exchange

    def _local_offers(self) -> list[Offer]:
        return list(
            local_offers(
                self.sa.conn.ike_proposals,
                ProtocolId.IKE,
                spi=self.spi,
                supports=self.sa.backend.supports,
            )
        )

    def _spawn(self, initiator: bool) -> None:
        """Create the new IKE SA and move the Child SAs over (RFC 7296 §2.18)."""
        assert self.chosen is not None
        spi_i, spi_r = (
            (self.spi, self.peer_spi) if initiator else (self.peer_spi, self.spi)
        )
        self.sa.spawn_rekeyed(
            self.chosen,
            initiator=initiator,
            spi_i=spi_i,
            spi_r=spi_r,
            ni=self.ni,
            nr=self.nr,
            secrets=list(self.secrets),
        )

    # -- initiator -------------------------------------------------------------

    def _build_i(self, draft: Draft) -> TaskStatus:
        if self.in_followup:
            return self.followup.build(draft)
        self.spi = self.spi or self.sa.new_ike_spi()
        self.offers = self._local_offers()
        if not self.method:
            assert self.sa.suite is not None
            current = self.sa.suite.id_of(KE)
            kes = [m for o in self.offers for m, _ in o.transforms.get(KE, ())]
            self.method = current if current in kes else (kes[0] if kes else current)
        self.ni = self.ni or self.sa.rng(NONCE_LENGTH)
        self.kx = initiator_ke(self.sa, self.method)
        draft.payloads += [
            sa_payload(self.offers),
            NoncePayload(self.ni),
            KePayload(self.method, self.kx.public_key()),
        ]
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        if self.in_followup:
            return self._followup_i(msg)
        self.done = True
        invalid = notify(msg, _N.INVALID_KE_PAYLOAD)
        if invalid is not None and len(invalid.data) == 2:
            method = int.from_bytes(invalid.data, "big")
            offered = {m for o in self.offers for m, _ in o.transforms.get(KE, ())}
            if method in offered and method != self.method:
                self.method, self.done = method, False
                return TaskStatus.NEED_MORE
        errors = error_notifies(msg)
        if errors:
            self.sa.log.info("IKE SA rekey refused (%d)", errors[0].notify_type)
            return TaskStatus.DONE
        if not self._accept_response(msg):
            return TaskStatus.DONE
        if self.followup.rounds:
            self.done, self.in_followup = False, True
            return TaskStatus.NEED_MORE
        return self._finish_i()

    def _accept_response(self, msg: Received) -> bool:
        sa_p = require(msg, SaPayload, "SA")
        nonce = require(msg, NoncePayload, "Nonce")
        chosen = (
            validate_choice(proposal_to_offer(sa_p.proposals[0]), self.offers)
            if len(sa_p.proposals) == 1
            else None
        )
        kes = find_all(msg, KePayload)
        if (
            chosen is None
            or len(chosen.spi) != 8
            or chosen.id_of(KE) != self.method
            or len(kes) != 1
            or kes[0].method != self.method
        ):
            self.sa.log.info("IKE SA rekey: unacceptable response")
            return False
        assert self.kx is not None
        try:
            self.kx.set_peer_public(kes[0].data)
        except InvalidKeyExchangeData as exc:
            # draft-ietf-ipsecme-ikev2-mlkem §2.2: MUST delete the IKE SA
            raise RemoteProtocolError(f"IKE rekey KEr rejected: {exc}") from None
        self.chosen, self.peer_spi, self.nr = chosen, chosen.spi, nonce.data
        self.secrets.insert(0, self.kx.shared_secret())
        self.followup.plan(chosen)
        link = notify(msg, _N.ADDITIONAL_KEY_EXCHANGE)
        self.followup.link = link.data if link is not None else b""
        return True

    def _followup_i(self, msg: Received) -> TaskStatus:
        try:
            self.followup.process(msg)
        except RemoteProtocolError as exc:
            if exc.notify is None:
                raise
            self.done = True
            self.sa.log.info("IKE SA rekey: IKE_FOLLOWUP_KE failed: %s", exc)
            return TaskStatus.DONE
        return self._finish_i() if self.followup.finished else TaskStatus.NEED_MORE

    def _finish_i(self) -> TaskStatus:
        self.done, self.in_followup = True, False
        self._spawn(initiator=True)
        self.sa.queue.append(DeleteIke(self.sa))
        return TaskStatus.DONE

    # -- responder -------------------------------------------------------------

    def _process_r(self, msg: Received) -> TaskStatus:
        if self.in_followup:
            return self.followup.process(msg)
        sa_p = require(msg, SaPayload, "SA")
        nonce = require(msg, NoncePayload, "Nonce")
        ke = require(msg, KePayload, "KE")
        self.spi = self.sa.new_ike_spi()
        offers = [proposal_to_offer(p) for p in sa_p.proposals]
        chosen = select(offers, self._local_offers())
        if chosen is None or len(chosen.spi) != 8:
            raise RemoteProtocolError(
                "no acceptable IKE rekey proposal", _N.NO_PROPOSAL_CHOSEN
            )
        if ke.method != chosen.id_of(KE):
            self.error_data = chosen.id_of(KE).to_bytes(2, "big")
            raise RemoteProtocolError("KEi of another method", _N.INVALID_KE_PAYLOAD)
        self.kx = responder_ke(self.sa, ke.method, ke.data, "IKE rekey KEi")
        self.chosen, self.peer_spi = chosen, chosen.spi
        self.ni, self.nr = nonce.data, self.sa.rng(NONCE_LENGTH)
        self.secrets.insert(0, self.kx.shared_secret())
        self.followup.plan(chosen)
        return TaskStatus.NEED_MORE

    def _build_r(self, draft: Draft) -> TaskStatus:
        if self.in_followup:
            return self.followup.build(draft)
        assert self.chosen is not None
        assert self.kx is not None
        mine = Selected(
            self.chosen.protocol,
            self.chosen.chosen,
            self.chosen.number,
            self.spi,
            self.chosen.response_types,
        )
        draft.payloads += [
            response_sa_payload(mine),
            NoncePayload(self.nr),
            KePayload(self.kx.method, self.kx.public_key()),
        ]
        if self.followup.rounds:
            self.followup.link = self.sa.rng(4)
            draft.payloads.append(
                NotifyPayload(_N.ADDITIONAL_KEY_EXCHANGE, self.followup.link)
            )
            self.in_followup = True
            self.sa.pending_rekey = self
        return TaskStatus.DONE

    def sent(self, draft: Draft) -> None:
        if draft.exchange == ExchangeType.IKE_FOLLOWUP_KE:
            self.followup.sent(draft)
            if not self.followup.finished:
                return
            self.sa.pending_rekey = None
        elif self.in_followup:
            return
        self.done = True
        self._spawn(initiator=False)
