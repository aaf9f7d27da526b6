# SPDX-License-Identifier: Apache-2.0
"""INFORMATIONAL exchanges (RFC 7296 §1.4): Delete, liveness, error reports.

* Delete of the IKE SA: ``SK{D(IKE)}`` -> ``SK{}``; both sides then drop the IKE SA
  and all its Child SAs (RFC 7296 §1.4.1).
* Delete of Child SAs: ``SK{D(ESP, our inbound SPIs)}`` -> ``SK{D(ESP, theirs)}``.
* Liveness: an empty ``SK{}`` request answered by an empty ``SK{}`` (§2.4).
* An AUTHENTICATION_FAILED notify in a request (the initiator rejected our AUTH,
  §2.21.2) removes the SA.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from pqike.ikev2.codec.payloads import DeletePayload, NotifyPayload
from pqike.ikev2.constants import ExchangeType, NotifyType, ProtocolId
from pqike.ikev2.events import ChildId
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.common import find_all, notify

if TYPE_CHECKING:
    from pqike.ikev2.sa import IkeSa

__all__ = ["DeleteChild", "DeleteIke", "Informational", "Liveness", "NotifyError"]


class Informational(Task):
    """Responder side of every INFORMATIONAL request."""

    exchange = ExchangeType.INFORMATIONAL

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(sa)
        self.delete_ike = False
        self.deleted_spis: list[bytes] = []

    def _process_r(self, msg: Received) -> TaskStatus:
        if notify(msg, NotifyType.AUTHENTICATION_FAILED) is not None:
            self.delete_ike = True
        for d in find_all(msg, DeletePayload):
            if d.protocol_id == ProtocolId.IKE:
                self.delete_ike = True
            elif d.protocol_id == ProtocolId.ESP and d.spi_size == 4:
                self.deleted_spis += self._delete_children(d.spis)
        return TaskStatus.DONE

    def _delete_children(self, peer_spis: tuple[bytes, ...]) -> list[bytes]:
        """Remove the children whose outbound SPI the peer deleted; our SPIs back."""
        sa, ours = self.sa, []
        for spi in peer_spis:
            out_spi = int.from_bytes(spi, "big")
            child = next(
                (c for c in sa.children.values() if c.spi_out == out_spi), None
            )
            if child is None:
                continue
            sa.remove_child(child.child_id, "deleted by peer")
            ours.append(struct.pack(">I", child.spi_in))
        return ours

    def _build_r(self, draft: Draft) -> TaskStatus:
        if self.deleted_spis and not self.delete_ike:
            draft.payloads.append(
                DeletePayload(ProtocolId.ESP, 4, tuple(self.deleted_spis))
            )
        return TaskStatus.DONE

    def sent(self, draft: Draft) -> None:
        if self.delete_ike:
            self.sa.deleted("deleted by peer", self.sa.now)


class _Once(Task):
    """An initiator task that runs one INFORMATIONAL exchange."""

    exchange = ExchangeType.INFORMATIONAL

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(sa)
        self.done = False

    def pending_exchange(self) -> ExchangeType | None:
        return None if self.done else self.exchange

    def _payloads(self) -> list[Any]:
        return []

    def _build_i(self, draft: Draft) -> TaskStatus:
        draft.payloads += self._payloads()
        return TaskStatus.NEED_MORE

    def _process_i(self, msg: Received) -> TaskStatus:
        self.done = True
        return TaskStatus.DONE


class Liveness(_Once):
    """RFC 7296 §2.4: an empty INFORMATIONAL request as liveness check."""


class DeleteIke(_Once):
    """Delete the IKE SA (and with it every Child SA)."""

    def _payloads(self) -> list[Any]:
        return [DeletePayload(ProtocolId.IKE)]

    def _process_i(self, msg: Received) -> TaskStatus:
        self.done = True
        self.sa.deleted("deleted locally", self.sa.now)
        return TaskStatus.DONE


class DeleteChild(_Once):
    """Delete one Child SA (Delete payload with our inbound SPI).

    ``spi_in``: delete the peer's half of a Child SA we could not install (there is
    no ``child_id`` in ``sa.children`` then).
    """

    def __init__(self, sa: IkeSa, child_id: ChildId, spi_in: int = 0) -> None:
        super().__init__(sa)
        self.child_id = child_id
        self.spi_in = spi_in

    def _payloads(self) -> list[Any]:
        child = self.sa.children.get(self.child_id)
        spi = child.spi_in if child is not None else self.spi_in
        if not spi:
            return []
        return [DeletePayload(ProtocolId.ESP, 4, (struct.pack(">I", spi),))]

    def _process_i(self, msg: Received) -> TaskStatus:
        self.done = True
        self.sa.remove_child(self.child_id, "deleted locally")
        if self.spi_in:
            self.sa.ctx.release_esp_spi(self.spi_in)
        return TaskStatus.DONE


class NotifyError(_Once):
    """RFC 7296 §2.21.2: tell the responder its AUTH failed (sent once)."""

    def __init__(self, sa: IkeSa, notify_type: int) -> None:
        super().__init__(sa)
        self.notify_type = notify_type

    def _payloads(self) -> list[Any]:
        return [NotifyPayload(self.notify_type)]
