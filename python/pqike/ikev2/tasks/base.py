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
from typing import TYPE_CHECKING, Any, TypeVar

from pqike.ikev2.codec.payloads import NotifyPayload, UnknownPayload
from pqike.ikev2.constants import ExchangeType, HeaderFlag

if TYPE_CHECKING:
    from pqike.ikev2.codec.header import IkeHeader
    from pqike.ikev2.sa import IkeSa

_RESPONSE = int(HeaderFlag.RESPONSE)
_NotifyPayload, _UnknownPayload = NotifyPayload, UnknownPayload
_P = TypeVar("_P")

__all__ = ["Draft", "Received", "Task", "TaskStatus"]


class TaskStatus(enum.Enum):
    """Result of one build or process step (STYLE §2)."""

    NEED_MORE = "need_more"
    DONE = "done"
    FAILED = "failed"


class Draft:
    """A message being built: exchange type and the inner payloads in order."""

    __slots__ = ("detail", "exchange", "is_response", "message_id", "payloads")

    def __init__(
        self,
        exchange: ExchangeType,
        payloads: list[Any] | None = None,
        is_response: bool = False,
        message_id: int = 0,
        detail: str = "",
    ) -> None:
        self.exchange = exchange
        self.payloads: list[Any] = [] if payloads is None else payloads
        self.is_response = is_response
        self.message_id = message_id
        self.detail = detail
        """Short summary for ExchangeCompleted ("KE round 1 of 2: ML_KEM_768")."""


class Received:
    """A decoded (and, if protected, decrypted and reassembled) message.

    Built once per message by the manager and only read afterwards.
    """

    __slots__ = (
        "by_class",
        "exchange",
        "fragments",
        "header",
        "int_auth_chunk",
        "is_response",
        "message_id",
        "notifies",
        "payloads",
        "raw",
        "size",
        "unsupported_critical",
    )

    def __init__(
        self,
        header: IkeHeader,
        payloads: tuple[Any, ...],
        raw: bytes = b"",
        int_auth_chunk: bytes = b"",
        size: int = 0,
        fragments: int = 1,
    ) -> None:
        self.header = header
        """The IKE header (of fragment 1 when reassembled)."""
        self.exchange: int = header.exchange_type
        self.is_response: bool = bool(header.flags & _RESPONSE)
        self.message_id: int = header.message_id
        self.payloads = payloads
        self.raw = raw
        """The message as received (IKE_SA_INIT: RealMessage for AUTH)."""
        self.int_auth_chunk = int_auth_chunk
        """RFC 9242 §3.3.2 A | P chunk of a protected message; empty unless the
        manager was asked for it (IKE_INTERMEDIATE)."""
        self.size = size
        """Octets on the wire (all fragments)."""
        self.fragments = fragments
        # Tasks look up several payloads per message: one pass answers them all.
        by_class: dict[type, Any] = {}
        notifies: dict[int, NotifyPayload] = {}
        critical = None
        first_of_class, first_notify = by_class.setdefault, notifies.setdefault
        for p in payloads:
            cls = type(p)
            first_of_class(cls, p)
            if cls is _NotifyPayload:
                first_notify(p.notify_type, p)
            elif cls is _UnknownPayload and p.critical and critical is None:
                critical = p.payload_type
        self.by_class = by_class
        """The first payload of each exact class (IDi and IDr stay apart)."""
        self.notifies = notifies
        """The first Notify payload of each type, in message order."""
        self.unsupported_critical: int | None = critical
        """Type of the first unknown payload with the Critical bit (RFC 7296 §2.5)."""

    def all_of(self, cls: type[_P]) -> list[_P]:
        """Every payload of exactly class ``cls``, in message order."""
        return [p for p in self.payloads if type(p) is cls]


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
