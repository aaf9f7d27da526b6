# SPDX-License-Identifier: Apache-2.0
"""CREATE_CHILD_SA for Child SAs: rekey (RFC 7296 §1.3.3) or a new one (§1.3.1),
with additional key exchanges in IKE_FOLLOWUP_KE rounds (RFC 9370 §2.2.4).

Request:  HDR, SK{[N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr}
Response: HDR, SK{SA, Nr, [KEr], TSi, TSr, [N(ADDITIONAL_KEY_EXCHANGE)(link)]}
then per negotiated ADDKE (``ike_multi_ke.py`` in IKE_FOLLOWUP_KE mode):
          HDR, SK{KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link)}
          -> HDR, SK{KEr(n), [N(ADDITIONAL_KEY_EXCHANGE)(link')]}

KEYMAT = prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)) with this exchange's
nonces (RFC 9370 §2.2.4; without KE: prf+(SK_d, Ni | Nr)). The new Child SA is
installed only after the last round; the initiator of a rekey then deletes the old.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pqike.errors import InvalidKeyExchangeData, RemoteProtocolError
from pqike.ikev2.codec.payloads import KePayload, NoncePayload, NotifyPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.constants import ExchangeType, NotifyType, ProtocolId
from pqike.ikev2.events import ChildId, ChildRekeyed
from pqike.ikev2.negotiation import KE
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.child_create import ChildCreate, ChildSa
from pqike.ikev2.tasks.common import (
    find,
    find_all,
    initiator_ke,
    notify,
    require,
    responder_ke,
)
from pqike.ikev2.tasks.ike_init import NONCE_LENGTH
from pqike.ikev2.tasks.ike_multi_ke import IkeMultiKe
from pqike.ikev2.tasks.informational import DeleteChild

if TYPE_CHECKING:
    from pqike.config import ChildConfig
    from pqike.crypto.kex import KeyExchange
    from pqike.ikev2.sa import IkeSa

__all__ = ["ChildRekey", "StateNotFound"]

_N = NotifyType


class ChildRekey(ChildCreate):
    """Creates (or rekeys) an ESP Child SA with CREATE_CHILD_SA.

    # LIMITATION: no rekey collision handling (RFC 7296 §2.8.1).
    """

    exchange = ExchangeType.CREATE_CHILD_SA
    with_ke = True

    def __init__(
        self, sa: IkeSa, old: ChildSa | None = None, cfg: ChildConfig | None = None
    ) -> None:
        if old is not None:
            cfg = next((c for c in sa.conn.children if c.name == old.name), cfg)
        super().__init__(sa, cfg)
        self.old = old
        self.ni_c = b""
        self.nr_c = b""
        self.method = 0
        self.kx: KeyExchange | None = None
        self.followup = IkeMultiKe(
            sa, ExchangeType.IKE_FOLLOWUP_KE, on_secret=self.secrets.append
        )
        self.in_followup = False

    def nonces(self) -> tuple[bytes, bytes]:
        return self.ni_c, self.nr_c

    def pending_exchange(self) -> ExchangeType | None:
        if self.done:
            return None
        return self.followup.exchange if self.in_followup else self.exchange

    def _insert_after_sa(self, draft: Draft, *payloads: object) -> None:
        at = next(n for n, p in enumerate(draft.payloads) if isinstance(p, SaPayload))
        draft.payloads[at + 1 : at + 1] = list(payloads)

    # -- initiator -------------------------------------------------------------

    def _build_i(self, draft: Draft) -> TaskStatus:
        if self.in_followup:
            return self.followup.build(draft)
        super()._build_i(draft)
        self.ni_c = self.ni_c or self.sa.rng(NONCE_LENGTH)
        extra: list[object] = [NoncePayload(self.ni_c)]
        if not self.method:
            kes = self.offers[0].transforms.get(KE, ()) if self.offers else ()
            self.method = next((m for m, _ in kes if m != 0), 0)
        if self.method:
            self.kx = initiator_ke(self.sa, self.method)
            extra.append(KePayload(self.method, self.kx.public_key()))
        self._insert_after_sa(draft, *extra)
        if self.old is not None:
            spi = self.old.spi_in.to_bytes(4, "big")
            draft.payloads.insert(
                0, NotifyPayload(_N.REKEY_SA, b"", ProtocolId.ESP, spi)
            )
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        if self.in_followup:
            try:
                self.followup.process(msg)
            except RemoteProtocolError as exc:
                if exc.notify is None:
                    raise  # a bad ML-KEM ciphertext: the IKE SA goes (draft §2.2)
                self.done, self.in_followup = True, False
                self._child_failed(f"IKE_FOLLOWUP_KE failed: {exc}")
                return TaskStatus.DONE
            if not self.followup.finished:
                return TaskStatus.NEED_MORE
            return self._finish_i()
        invalid = notify(msg, _N.INVALID_KE_PAYLOAD)
        if invalid is not None and len(invalid.data) == 2 and not self.followup.rounds:
            return self._retry_ke(int.from_bytes(invalid.data, "big"))
        self.done = True
        if not self._accept_response(msg):
            return TaskStatus.DONE
        nonce = find(msg, NoncePayload)
        if nonce is None:
            self._child_failed("CREATE_CHILD_SA response without Nr")
            return TaskStatus.DONE
        self.nr_c = nonce.data
        assert self.chosen is not None
        if self.chosen.id_of(KE) != 0 and not self._peer_ke_i(msg):
            return TaskStatus.DONE
        self.followup.plan(self.chosen)
        link = notify(msg, _N.ADDITIONAL_KEY_EXCHANGE)
        self.followup.link = link.data if link is not None else b""
        if self.followup.rounds:
            self.done, self.in_followup = False, True
            return TaskStatus.NEED_MORE
        return self._finish_i()

    def _retry_ke(self, method: int) -> TaskStatus:
        """RFC 7296 §1.3: retry CREATE_CHILD_SA with the method the peer named."""
        offered = {m for o in self.offers for m, _ in o.transforms.get(KE, ())}
        if method not in offered or method == self.method:
            self.done = True
            self._child_failed(f"INVALID_KE_PAYLOAD names method {method}")
            return TaskStatus.DONE
        self.method = method
        self.sa.ctx.release_esp_spi(self.spi_in)
        return TaskStatus.NEED_MORE

    def _peer_ke_i(self, msg: Received) -> bool:
        """Process KEr(0); a bad ML-KEM ciphertext fails the IKE SA (draft §2.2)."""
        assert self.chosen is not None
        assert self.kx is not None
        kes = find_all(msg, KePayload)
        if len(kes) != 1 or kes[0].method != self.chosen.id_of(KE):
            self._child_failed("CREATE_CHILD_SA response without a matching KEr")
            return False
        try:
            self.kx.set_peer_public(kes[0].data)
        except InvalidKeyExchangeData as exc:
            # draft-ietf-ipsecme-ikev2-mlkem §2.2: MUST delete the IKE SA (IkeSa
            # sends the Delete and drops it)
            raise RemoteProtocolError(f"CREATE_CHILD_SA KEr rejected: {exc}") from None
        self.secrets.insert(0, self.kx.shared_secret())
        return True

    def _finish_i(self) -> TaskStatus:
        self.done, self.in_followup = True, False
        assert self.chosen is not None
        child = self._install(int.from_bytes(self.chosen.spi, "big"), initiator=True)
        if self.old is not None:
            self.sa.emit(
                ChildRekeyed(self.sa.handle, self.old.child_id, child.child_id)
            )
            self.sa.queue.append(DeleteChild(self.sa, self.old.child_id))
        return TaskStatus.DONE

    # -- responder -------------------------------------------------------------

    def _process_r(self, msg: Received) -> TaskStatus:
        if self.in_followup:
            return self.followup.process(msg)
        sa_p = require(msg, SaPayload, "SA")
        if any(p.protocol_id == ProtocolId.IKE for p in sa_p.proposals):
            raise RemoteProtocolError(  # IKE proposals go to IkeRekey (sa.py)
                "IKE proposal in a Child SA request", _N.NO_PROPOSAL_CHOSEN
            )
        self._find_old(msg)
        if self.old is not None:
            self.explicit_cfg = self.cfg
        nonce = require(msg, NoncePayload, "Nonce")
        super()._process_r(msg)
        if self.failure is not None or self.chosen is None:
            return TaskStatus.DONE
        self.ni_c, self.nr_c = nonce.data, self.sa.rng(NONCE_LENGTH)
        if self.chosen.id_of(KE) != 0:
            self._respond_ke(msg)
        self.followup.plan(self.chosen)
        self.install_now = not self.followup.rounds
        return TaskStatus.NEED_MORE

    def _find_old(self, msg: Received) -> None:
        """REKEY_SA names the peer's inbound SPI = our outbound SPI of the old SA."""
        rekey = notify(msg, _N.REKEY_SA)
        if rekey is None:
            return
        spi = int.from_bytes(rekey.spi, "big")
        self.old = next(
            (c for c in self.sa.children.values() if c.spi_out == spi), None
        )
        if self.old is None:
            raise RemoteProtocolError(
                "REKEY_SA of an unknown Child SA", _N.CHILD_SA_NOT_FOUND
            )
        self.cfg = next(
            (c for c in self.sa.conn.children if c.name == self.old.name), self.cfg
        )

    def _respond_ke(self, msg: Received) -> None:
        assert self.chosen is not None
        method = self.chosen.id_of(KE)
        ke = find(msg, KePayload)
        if ke is None or ke.method != method:
            self.error_data = method.to_bytes(2, "big")
            self.sa.ctx.release_esp_spi(self.spi_in)
            raise RemoteProtocolError("KEi of another method", _N.INVALID_KE_PAYLOAD)
        self.kx = responder_ke(self.sa, method, ke.data, "CREATE_CHILD_SA KEi")
        self.secrets.insert(0, self.kx.shared_secret())

    def _build_r(self, draft: Draft) -> TaskStatus:
        if self.in_followup:
            return self.followup.build(draft)
        super()._build_r(draft)
        if self.failure is not None or self.chosen is None:
            return TaskStatus.DONE
        extra: list[object] = [NoncePayload(self.nr_c)]
        if self.kx is not None:
            extra.append(KePayload(self.kx.method, self.kx.public_key()))
        self._insert_after_sa(draft, *extra)
        if self.followup.rounds:
            self.followup.link = self.sa.rng(4)
            draft.payloads.append(
                NotifyPayload(_N.ADDITIONAL_KEY_EXCHANGE, self.followup.link)
            )
            self.done, self.in_followup = False, True
            self.sa.pending_rekey = self
        elif self.old is not None:
            self._announce_rekey()
        return TaskStatus.DONE

    def sent(self, draft: Draft) -> None:
        if not self.in_followup or draft.exchange != ExchangeType.IKE_FOLLOWUP_KE:
            return
        self.followup.sent(draft)
        if self.followup.finished:
            assert self.chosen is not None
            self.in_followup, self.done = False, True
            self.sa.pending_rekey = None
            self.install_now = True
            self._install(int.from_bytes(self.chosen.spi, "big"), initiator=False)
            if self.old is not None:
                self._announce_rekey()

    def _announce_rekey(self) -> None:
        assert self.old is not None
        new = self.sa.children.get(ChildId(self.spi_in))
        if new is not None:
            self.sa.emit(ChildRekeyed(self.sa.handle, self.old.child_id, new.child_id))


class StateNotFound(Task):
    """Answers an IKE_FOLLOWUP_KE that matches no pending exchange (RFC 9370 §2.2.4)."""

    exchange = ExchangeType.IKE_FOLLOWUP_KE

    def _process_r(self, msg: Received) -> TaskStatus:
        raise RemoteProtocolError("no pending CREATE_CHILD_SA", _N.STATE_NOT_FOUND)
