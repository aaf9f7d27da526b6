# SPDX-License-Identifier: Apache-2.0
"""Task interface: each exchange is composed from the tasks active for it.

The initiator calls ``build`` on every task of the exchange to fill the request, then
``process`` on the response. The responder calls ``process`` on the request, then
``build`` on the response. Role code lives in ``_build_i``, ``_process_i``,
``_process_r`` and ``_build_r``; tasks never touch message IDs, retransmissions or
fragmentation (that is ``manager.py``).

A task signals failure by raising :class:`~pqike.errors.ProtocolError` whose
``notify`` is the error to send back (responder) or to report (initiator).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pqike.ikev2.constants import ExchangeType

if TYPE_CHECKING:
    from pqike.ikev2.sa import IkeSa

__all__ = ["Draft", "Received", "Task", "TaskStatus"]


class TaskStatus(enum.Enum):
    """Result of one build or process step (STYLE §2)."""

    NEED_MORE = "need_more"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Draft:
    """A message being built: exchange type and the inner payloads in order."""

    exchange: ExchangeType
    payloads: list[Any] = field(default_factory=list)
    is_response: bool = False
    message_id: int = 0
    detail: str = ""
    """Short summary for ExchangeCompleted ("KE round 1 of 2: ML_KEM_768")."""


@dataclass(frozen=True)
class Received:
    """A decoded (and, if protected, decrypted and reassembled) message."""

    exchange: int
    is_response: bool
    message_id: int
    payloads: tuple[Any, ...]
    raw: bytes = b""
    """The whole message as received (IKE_SA_INIT: RealMessage for AUTH)."""
    int_auth_chunk: bytes = b""
    """RFC 9242 §3.3.2 A | P chunk of a protected message (empty for IKE_SA_INIT)."""
    size: int = 0
    """Octets on the wire (all fragments)."""
    fragments: int = 1


class Task:
    """Base class: dispatches to the role-specific steps."""

    exchange: ExchangeType = ExchangeType.INFORMATIONAL

    def __init__(self, sa: IkeSa) -> None:
        self.sa = sa
        self.error_data = b""
        """Notification Data for the error notify when this task rejects a request."""

    def sent(self, draft: Draft) -> None:
        """Called after the responder's answer was encoded (deferred key updates)."""

    def pending_exchange(self) -> ExchangeType | None:
        """Exchange this task wants next as initiator; None when it has nothing."""
        return self.exchange

    def build(self, draft: Draft) -> TaskStatus:
        """Add this task's payloads to ``draft`` (request or response)."""
        if self.sa.is_initiator_of(draft):
            return self._build_i(draft)
        return self._build_r(draft)

    def process(self, msg: Received) -> TaskStatus:
        """Consume this task's payloads of ``msg`` (response or request)."""
        if msg.is_response:
            return self._process_i(msg)
        return self._process_r(msg)

    def _build_i(self, draft: Draft) -> TaskStatus:
        return TaskStatus.DONE

    def _process_i(self, msg: Received) -> TaskStatus:
        return TaskStatus.DONE

    def _process_r(self, msg: Received) -> TaskStatus:
        return TaskStatus.DONE

    def _build_r(self, draft: Draft) -> TaskStatus:
        return TaskStatus.DONE
