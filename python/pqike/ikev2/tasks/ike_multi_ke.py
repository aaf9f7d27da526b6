# SPDX-License-Identifier: Apache-2.0
"""RFC 9370 additional key exchanges, one exchange per negotiated ADDKE.

Theory of operation:

* The plan is fixed after IKE_SA_INIT: one :class:`Round` per Transform Type 6..12
  whose chosen method is not NONE, in increasing type order (RFC 9370 §2.2.2).
* Round n is one IKE_INTERMEDIATE exchange (RFC 9242) carrying exactly one KE
  payload of that method: the initiator's public value or ML-KEM ek in the request,
  the responder's public value or ML-KEM ciphertext in the response. (For an IKE
  rekey the same rounds run as IKE_FOLLOWUP_KE exchanges, issue #4.)
* Both messages of round n are protected with SK_*(n-1); round n's keys are derived
  after round n's response: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr),
  SK_*(n) = prf+(SKEYSEED(n), Ni | Nr | SPIi | SPIr) (``Keymat.update_after_ke``).
  The initiator updates when it has processed the response, the responder right
  after it has encoded the response (``sent``), so a retransmitted response is the
  cached one under the old keys.
* IntAuth covers rounds 1..n: the SA extends IntAuth_i/IntAuth_r with every
  IKE_INTERMEDIATE message, using the keys that protected it (``IkeSa``).
* IKE_FOLLOWUP_KE mode (``exchange=IKE_FOLLOWUP_KE``, after CREATE_CHILD_SA): each
  request quotes the responder's last ADDITIONAL_KEY_EXCHANGE data, each response but
  the last carries new data; a mismatch is STATE_NOT_FOUND (RFC 9370 §2.2.4). The
  secrets go to ``on_secret`` (the new SA's KEYMAT) instead of updating SK_*.
* ML-KEM recipient tests (draft-ietf-ipsecme-ikev2-mlkem §2.2): a bad ek makes the
  responder answer INVALID_SYNTAX; a bad ciphertext makes the initiator fail the SA
  without sending anything more.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pqike.errors import (
    InvalidKeyExchangeData,
    RemoteProtocolError,
)
from pqike.ikev2.codec.payloads import KePayload, NotifyPayload
from pqike.ikev2.constants import ExchangeType, NotifyType
from pqike.ikev2.negotiation import ADDKE_TYPES, Selected
from pqike.ikev2.suite import ke_name
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import (
    error_notifies,
    find_all,
    initiator_ke,
    notify,
    responder_ke,
)

if TYPE_CHECKING:
    from pqike.crypto.kex import KeyExchange
    from pqike.ikev2.sa import IkeSa

__all__ = ["IkeMultiKe", "Round"]

_ADDKE = NotifyType.ADDITIONAL_KEY_EXCHANGE


@dataclass
class Round:
    """One additional key exchange: ``(transform_type, method, done, derived)``."""

    transform_type: int
    method: int
    done: bool = False
    derived: bool = False


class IkeMultiKe(Task):
    """Drives IKE_INTERMEDIATE rounds, or CREATE_CHILD_SA's IKE_FOLLOWUP_KE rounds."""

    exchange = ExchangeType.IKE_INTERMEDIATE

    def __init__(
        self,
        sa: IkeSa,
        exchange: ExchangeType | None = None,
        on_secret: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__(sa)
        if exchange is not None:
            self.exchange = exchange
        self.rounds: list[Round] = []
        self.kx: KeyExchange | None = None
        self._pending_secret: bytes | None = None
        self._on_secret = on_secret
        """None: RFC 9370 §2.2.2 update of the IKE SA keys; else the secret's sink
        (CREATE_CHILD_SA: SK(1)..SK(n) of the new SA's KEYMAT, §2.2.4)."""
        self.link = b""
        """IKE_FOLLOWUP_KE: the ADDITIONAL_KEY_EXCHANGE data to quote next."""

    @property
    def followup(self) -> bool:
        """True for IKE_FOLLOWUP_KE rounds (they carry the link notify)."""
        return self.exchange == ExchangeType.IKE_FOLLOWUP_KE

    def plan(self, suite: Selected) -> None:
        """Fix the rounds from the negotiated proposal (ADDKE1..7, NONE left out)."""
        get = suite.chosen.get
        self.rounds = [
            Round(t, pair[0]) for t in ADDKE_TYPES if (pair := get(t)) and pair[0]
        ]

    def release(self) -> None:
        """Drop the rounds, the KE object and a secret not yet used (the SA died)."""
        self.rounds, self.kx, self._pending_secret = [], None, None

    @property
    def finished(self) -> bool:
        """True when every round's keys are derived."""
        return all(r.derived for r in self.rounds)

    def _current(self) -> Round | None:
        return next((r for r in self.rounds if not r.done), None)

    def pending_exchange(self) -> ExchangeType | None:
        return self.exchange if self._current() is not None else None

    def _progress(self, rnd: Round) -> str:
        return (
            f"KE round {self.rounds.index(rnd) + 1} of {len(self.rounds)}: "
            f"{ke_name(rnd.method)}"
        )

    # -- initiator -------------------------------------------------------------

    def _build_i(self, draft: Draft) -> TaskStatus:
        rnd = self._current()
        assert rnd is not None
        self.kx = initiator_ke(self.sa, rnd.method)
        draft.detail = self._progress(rnd)
        draft.payloads.append(KePayload(rnd.method, self.kx.public_key()))
        if self.followup:  # RFC 9370 §2.2.4: quote the responder's link data
            draft.payloads.append(NotifyPayload(_ADDKE, self.link))
        if self.sa.log.isEnabledFor(logging.DEBUG):
            self.sa.log.debug("%s: sending KEi", self._progress(rnd))
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        rnd = self._current()
        assert rnd is not None
        assert self.kx is not None
        errors = error_notifies(msg)
        if errors:
            code = errors[0].notify_type
            raise RemoteProtocolError(f"{self._progress(rnd)} refused ({code})", code)
        ke = self._single_ke(msg, rnd)
        if self.followup:
            link = notify(msg, _ADDKE)
            self.link = link.data if link is not None else b""
        try:
            self.kx.set_peer_public(ke.data)
        except InvalidKeyExchangeData as exc:
            # draft-ietf-ipsecme-ikev2-mlkem §2.2: reject, fail, send nothing more
            raise RemoteProtocolError(f"{self._progress(rnd)}: {exc}") from None
        self._update(rnd, self.kx.shared_secret())
        return TaskStatus.DONE if self.finished else TaskStatus.NEED_MORE

    def _single_ke(self, msg: Received, rnd: Round) -> KePayload:
        """The one KE payload of this round, of the negotiated method."""
        kes = find_all(msg, KePayload)
        if len(kes) != 1 or kes[0].method != rnd.method:
            raise RemoteProtocolError(
                f"{self._progress(rnd)}: expected one KE payload of that method",
                NotifyType.INVALID_SYNTAX,
            )
        return kes[0]

    def _update(self, rnd: Round, shared_secret: bytes) -> None:
        """RFC 9370 §2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)."""
        rnd.done = rnd.derived = True
        self.kx = None  # its private key has done its work: let it be zeroised now
        if self._on_secret is not None:
            self._on_secret(shared_secret)
            if self.sa.log.isEnabledFor(logging.DEBUG):
                self.sa.log.debug("%s: done", self._progress(rnd))
            return
        assert self.sa.keymat is not None
        self.sa.keymat = self.sa.keymat.update_after_ke(shared_secret)
        self.sa.intermediate_rounds += 1
        if self.sa.log.isEnabledFor(logging.DEBUG):
            self.sa.log.debug("%s: keys updated", self._progress(rnd))

    # -- responder -------------------------------------------------------------

    def _process_r(self, msg: Received) -> TaskStatus:
        rnd = self._current()
        if rnd is None:
            if find_all(msg, KePayload):
                raise RemoteProtocolError(
                    "KE payload after the last ADDKE round", NotifyType.INVALID_SYNTAX
                )
            return TaskStatus.DONE  # RFC 9242 allows IKE_INTERMEDIATE without KE
        if self.followup:
            self._check_link(msg)
        ke = self._single_ke(msg, rnd)
        what = self._progress(rnd)
        self.kx = kx = responder_ke(self.sa, rnd.method, ke.data, what)
        rnd.done = True
        self._pending_secret = kx.shared_secret()
        return TaskStatus.NEED_MORE

    def _build_r(self, draft: Draft) -> TaskStatus:
        if self._pending_secret is None or self.kx is None:
            return TaskStatus.DONE
        rnd = next((r for r in self.rounds if r.done and not r.derived), None)
        draft.detail = self._progress(rnd) if rnd is not None else ""
        draft.payloads.append(KePayload(self.kx.method, self.kx.public_key()))
        if self.followup and self._current() is not None:
            self.link = self.sa.rng(4)  # opaque to the initiator (RFC 9370 §2.2.4)
            draft.payloads.append(NotifyPayload(_ADDKE, self.link))
        return TaskStatus.NEED_MORE

    def _check_link(self, msg: Received) -> None:
        """RFC 9370 §2.2.4: unknown or missing link data -> STATE_NOT_FOUND."""
        link = notify(msg, _ADDKE)
        if (
            link is None
            or not self.link
            or not hmac.compare_digest(link.data, self.link)
        ):
            raise RemoteProtocolError(
                "IKE_FOLLOWUP_KE with unknown link data", NotifyType.STATE_NOT_FOUND
            )

    def sent(self, draft: Draft) -> None:
        """Responder: derive round n's keys once its response is encoded."""
        secret, self._pending_secret = self._pending_secret, None
        if secret is None:
            return
        rnd = next(r for r in self.rounds if r.done and not r.derived)
        self._update(rnd, secret)
