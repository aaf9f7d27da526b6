# SPDX-License-Identifier: Apache-2.0
"""One IKE SA, sans-IO: datagrams and ``now`` in; datagrams, a deadline, events out.

The initiator runs a queue of tasks (``tasks/``): the first task's
``pending_exchange()`` names the next exchange; only IKE_AUTH is composed of several
tasks (ike_auth + child_create), every other exchange belongs to one task (a
multi-exchange task such as ike_multi_ke or child_rekey stays at the head of the queue
until its last round). The responder picks its tasks from :data:`_RESPONDER_TASKS` by
the request's exchange type (and, for CREATE_CHILD_SA, by the proposal's protocol).
``manager.py`` owns Message IDs, retransmission, the response cache and
fragmentation; tasks never see them.

Error handling (RFC 7296 §2.21): a task raises ``ProtocolError(notify)``. On a
request we answer with that notify (or drop when it is None); on a response the
exchange failed. Before the SA is established a failure removes it (it lingers a
little, "dead", so that retransmitted requests still get the cached error answer);
after that an error in one exchange never disturbs the established SA.

Our own failures are not the peer's: a LocalProtocolError or a non-pqike exception
(ValueError, struct.error, a bug) while building, encoding or installing our side
fails the SA locally with a "local error while building ..." reason, logged at
WARNING. No response left, so the SA is forgotten at once: one still connecting
emits ConnectionFailed (the unfinished exchange's events are taken back), an
established one IkeDeleted after a Delete sent once. A Child SA whose ESP SA we
cannot install is refused alone (NO_PROPOSAL_CHOSEN / a Delete), the IKE SA stays.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pqike.errors import (
    AuthenticationError,
    DecodeError,
    LocalProtocolError,
    PqIkeError,
    ProtocolError,
    RemoteProtocolError,
)
from pqike.ikev2.codec.header import IkeHeader
from pqike.ikev2.codec.message import Message, decode_message
from pqike.ikev2.codec.payloads import DeletePayload, NotifyPayload
from pqike.ikev2.codec.sa import SaPayload
from pqike.ikev2.constants import (
    NON_ESP_MARKER,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    ProtocolId,
)
from pqike.ikev2.events import (
    ChildDeleted,
    ChildId,
    ConnectionFailed,
    Event,
    ExchangeCompleted,
    IkeDeleted,
    IkeRekeyed,
    SaHandle,
)
from pqike.ikev2.manager import Encoded, Manager, ip_overhead
from pqike.ikev2.suite import notify_name as _notify_name
from pqike.ikev2.suite import suite_info as _suite_info
from pqike.ikev2.tasks.base import Draft, Received, Task, TaskStatus
from pqike.ikev2.tasks.child_create import ChildCreate, ChildSa
from pqike.ikev2.tasks.child_rekey import ChildRekey, StateNotFound
from pqike.ikev2.tasks.common import find
from pqike.ikev2.tasks.ike_auth import IkeAuth
from pqike.ikev2.tasks.ike_init import IkeInit
from pqike.ikev2.tasks.ike_multi_ke import IkeMultiKe
from pqike.ikev2.tasks.ike_rekey import IkeRekey
from pqike.ikev2.tasks.informational import Informational, Liveness

if TYPE_CHECKING:
    from pqike.config import ConnectionConfig
    from pqike.crypto import Backend
    from pqike.crypto.keymat import Keymat
    from pqike.ikev2.negotiation import Selected

__all__ = ["Addr", "IkeSa", "SaState", "describe_error"]

Addr = tuple[str, int]

_log = logging.getLogger(__name__)

_INITIATOR = int(HeaderFlag.INITIATOR)
_RESPONSE = int(HeaderFlag.RESPONSE)
_IKE_SA_INIT = int(ExchangeType.IKE_SA_INIT)
_IKE_INTERMEDIATE = int(ExchangeType.IKE_INTERMEDIATE)
_IKE_AUTH = int(ExchangeType.IKE_AUTH)
_EXCHANGES: dict[int, ExchangeType] = {int(e): e for e in ExchangeType}
"""Exchange Type number -> member (a dict look-up, not ``ExchangeType(n)``)."""
_EXCHANGE_NAMES: dict[int, str] = {int(e): e.name for e in ExchangeType}

# LIMITATION: the two timeouts below are constants, not config fields.
DEAD_LINGER = 30.0
"""Seconds a failed SA keeps answering retransmissions with its cached response."""
HALF_OPEN_TIMEOUT = 60.0
"""Seconds a responder SA may stay unauthenticated before it is dropped."""


class SaState(enum.Enum):
    """Lifecycle of an IKE SA."""

    CONNECTING = "connecting"
    ESTABLISHED = "established"
    DEAD = "dead"
    """Failed or deleted; lingers DEAD_LINGER seconds for retransmitted requests."""


# Enum members read through the class cost ~0.1 us each in Python 3.11; the hot
# paths compare against these module-level names instead.
_CONNECTING, _ESTABLISHED, _DEAD = SaState.CONNECTING, SaState.ESTABLISHED, SaState.DEAD


class SaLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes ``[ike SPIi:SPIr]`` (STYLE §7); the SPIs are read at log time."""

    def __init__(self, sa: IkeSa) -> None:
        super().__init__(_log, {})
        self.sa = sa

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return f"[ike {self.sa.spi_i.hex()}:{self.sa.spi_r.hex()}] {msg}", kwargs

    # A handshake logs a few INFO/DEBUG lines per SA that are usually filtered out;
    # LoggerAdapter would make three calls to find that out. These check the level
    # first; ``stacklevel`` skips this frame, so records still name the caller.

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
            self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
            self.log(logging.INFO, msg, *args, **kwargs)


def _responder_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    """Tasks answering a request, or None when the exchange is not allowed now."""
    factory = _RESPONDER_TASKS.get(msg.exchange)
    return None if factory is None else factory(sa, msg)


def _init_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    return [IkeInit(sa)] if sa.manager.peer_mid == 0 else None


def _intermediate_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    ok = sa.keymat is not None and not sa.auth_done
    return [sa.multi_ke] if ok else None


def _auth_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    ok = sa.keymat is not None and not sa.auth_done and sa.multi_ke.finished
    return [IkeAuth(sa), ChildCreate(sa)] if ok else None


def _create_child_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    if sa.state is not _ESTABLISHED:
        return None
    sa_p = find(msg, SaPayload)
    rekeys_ike = sa_p is not None and any(
        p.protocol_id == ProtocolId.IKE for p in sa_p.proposals
    )
    return [IkeRekey(sa) if rekeys_ike else ChildRekey(sa)]


def _followup_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    if sa.state is not _ESTABLISHED:
        return None
    return [sa.pending_rekey] if sa.pending_rekey is not None else [StateNotFound(sa)]


def _informational_tasks(sa: IkeSa, msg: Received) -> list[Task] | None:
    return [Informational(sa)] if sa.keymat is not None else None


_RESPONDER_TASKS: dict[int, Callable[[IkeSa, Received], list[Task] | None]] = {
    ExchangeType.IKE_SA_INIT: _init_tasks,
    ExchangeType.IKE_INTERMEDIATE: _intermediate_tasks,
    ExchangeType.IKE_AUTH: _auth_tasks,
    ExchangeType.INFORMATIONAL: _informational_tasks,
    ExchangeType.CREATE_CHILD_SA: _create_child_tasks,
    ExchangeType.IKE_FOLLOWUP_KE: _followup_tasks,
}
"""Which tasks answer which request."""


@dataclass
class SaContext:
    """Endpoint services an SA needs: ESP SPIs, the ESP index, the event queue."""

    alloc_esp_spi: Callable[[], int]
    natt_port: int = 4500
    port: int = 500
    events: deque[Event] | None = None
    """Shared event queue of the endpoint; None = the SA keeps its own."""
    child_added: Callable[[IkeSa, ChildSa], None] | None = None
    child_removed: Callable[[ChildSa], None] | None = None
    release_esp_spi: Callable[[int], None] = lambda spi: None
    """Give back an allocated inbound SPI that was never installed."""
    alloc_ike_spi: Callable[[], bytes] | None = None
    new_sa: Callable[[IkeSa, bool, bytes, bytes], IkeSa] | None = None
    """Create and index an IKE SA (IKE rekey): (old, is_initiator, spi_i, spi_r)."""
    connections_for: Callable[[Addr], list[ConnectionConfig]] = lambda addr: []
    """Connections that may serve a peer at this address (IDi re-selection)."""
    out: list[tuple[bytes, Addr, Addr]] | None = None
    """Shared outgoing datagram queue of the endpoint; None = the SA's own."""
    peers_of: Callable[[IkeSa], list[IkeSa]] = lambda sa: []
    """Other live IKE SAs with the same connection and peer identity."""

    def on_natt_port(self, local: Addr) -> bool:
        """True when ``local`` is the NAT-T port, where IKE messages carry the
        non-ESP marker (RFC 3948 §2.2); never when both ports are the same."""
        return local[1] == self.natt_port and self.natt_port != self.port


class IkeSa:
    """One IKE SA in either role; driven by :class:`~pqike.ikev2.endpoint.IkeEndpoint`.

    Args:
        handle: the SA's local number.
        conn: the connection config.
        backend: crypto backend (``pqike.crypto.get_backend``).
        rng: ``rng(n) -> bytes`` for SPIs, nonces, KE seeds and CBC IVs.
        is_initiator: True for the original initiator.
        local, remote: the address pair of the IKE_SA_INIT exchange.
        spi_i, spi_r: our SPI and the peer's (zeros until known).
        ctx: endpoint services.
    """

    __slots__ = (
        "_cipher_keymat",
        "_ciphers",
        "_events",
        "_out",
        "active",
        "auth_done",
        "backend",
        "children",
        "conn",
        "created",
        "ctx",
        "dead_until",
        "handle",
        "init_request",
        "init_response",
        "int_auth_i",
        "int_auth_r",
        "intermediate_rounds",
        "is_initiator",
        "keymat",
        "last_rx",
        "local",
        "log",
        "manager",
        "multi_ke",
        "natt",
        "ni",
        "now",
        "nr",
        "peer_fragmentation",
        "peer_intermediate",
        "pending_rekey",
        "queue",
        "remote",
        "rng",
        "spi_i",
        "spi_r",
        "state",
        "suite",
    )

    def __init__(
        self,
        handle: SaHandle,
        conn: ConnectionConfig,
        backend: Backend,
        rng: Callable[[int], bytes],
        *,
        is_initiator: bool,
        local: Addr,
        remote: Addr,
        spi_i: bytes,
        spi_r: bytes,
        ctx: SaContext,
        now: float = 0.0,
    ) -> None:
        self.handle = handle
        self.conn = conn
        self.backend = backend
        self.rng = rng
        self.is_initiator = is_initiator
        self.local, self.remote = local, remote
        self.spi_i, self.spi_r = spi_i, spi_r
        self.ctx = ctx
        self.log = SaLog(self)
        self.state = _CONNECTING
        self.created = now
        self.now = now
        self.last_rx = now
        self.dead_until = 0.0
        self.manager = Manager(
            rng,
            fragment_size=conn.fragment_size,
            retransmit_timeout=conn.retransmit_timeout,
            retransmit_tries=conn.retransmit_tries,
            retransmit_base=conn.retransmit_base,
        )
        # negotiated state, filled by the tasks
        self.ni = b""
        self.nr = b""
        self.suite: Selected | None = None
        self.keymat: Keymat | None = None
        self._cipher_keymat: Keymat | None = None
        self._ciphers: dict[bool, Any] = {}
        self.init_request = b""
        self.init_response = b""
        self.peer_fragmentation = False
        self.peer_intermediate = False
        self.natt = False
        self.int_auth_i = b""
        self.int_auth_r = b""
        self.intermediate_rounds = 0
        self.auth_done = False
        self.children: dict[ChildId, ChildSa] = {}
        self.multi_ke = IkeMultiKe(self)
        self.pending_rekey: Task | None = None
        """Responder: the CREATE_CHILD_SA waiting for its IKE_FOLLOWUP_KE rounds."""
        self.queue: list[Task] = []
        self.active: list[Task] = []
        self._events: deque[Event] = ctx.events if ctx.events is not None else deque()
        self._out: list[tuple[bytes, Addr, Addr]] = (
            ctx.out if ctx.out is not None else []
        )

    # -- small services for tasks -----------------------------------------------

    def is_initiator_of(self, draft: Draft) -> bool:
        """True when ``draft`` is a request we send (tasks' role dispatch)."""
        return not draft.is_response

    def emit(self, event: Event) -> None:
        """Queue an event for ``next_event``."""
        self._events.append(event)

    def cipher_out(self) -> Any:
        """Cipher protecting what we send (SK_e/SK_a of our role)."""
        return self._cipher(self.is_initiator)

    def cipher_in(self) -> Any:
        """Cipher protecting what the peer sends."""
        return self._cipher(not self.is_initiator)

    def _cipher(self, sender_is_initiator: bool) -> Any:
        """One cipher object per direction and key generation (not per message):
        a Keymat never changes, a new generation is a new Keymat object."""
        keymat = self.keymat
        assert keymat is not None
        if self._cipher_keymat is not keymat:
            self._cipher_keymat, self._ciphers = keymat, {}
        cipher = self._ciphers.get(sender_is_initiator)
        if cipher is None:
            cipher = self._ciphers[sender_is_initiator] = keymat.cipher(
                sender_is_initiator
            )
        return cipher

    def float_to_natt(self) -> None:
        """Move IKE to the NAT-T ports after IKE_SA_INIT (RFC 7296 §2.23, RFC 3948)."""
        if not self.is_initiator or self.natt or self.ctx.natt_port == self.ctx.port:
            return  # the responder follows wherever the initiator's requests come from
        self.natt = True
        self.local = (self.local[0], self.ctx.natt_port)
        self.remote = (self.remote[0], self.conn.remote_natt_port)

    # -- driver API ---------------------------------------------------------------

    def initiate(self, now: float) -> None:
        """Start the SA: IKE_SA_INIT, IKE_INTERMEDIATE rounds, IKE_AUTH + child."""
        self.now = now
        self.log.info("initiating to %s:%d", *self.remote)
        children = self.conn.children
        self.queue = [IkeInit(self), self.multi_ke, IkeAuth(self), ChildCreate(self)]
        # RFC 7296 §1.3.1: further children of the connection via CREATE_CHILD_SA
        self.queue += [ChildRekey(self, cfg=c) for c in children[1:]]
        self._kick(now)

    def queue_task(self, task: Task, now: float) -> None:
        """Add an initiator task (delete, liveness) and start it when possible."""
        self.now = max(self.now, now)
        self.queue.append(task)
        self._kick(now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr, Addr]]:
        """Drain the outgoing datagrams ``(udp payload, local, remote)``.

        With a shared endpoint queue the endpoint drains it instead (returns []).
        """
        if self.ctx.out is not None:
            return []
        out, self._out = self._out, []
        return out

    def next_event(self) -> Event | None:
        """Pop the next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The next deadline (retransmission, half-open or linger timeout)."""
        state = self.state
        if state is _DEAD:
            return self.dead_until
        outstanding = self.manager.outstanding  # Manager.timer(), inlined
        if state is _ESTABLISHED:
            if outstanding is not None:
                return outstanding.deadline  # no liveness check meanwhile
            return self._dpd_deadline()
        best = outstanding.deadline if outstanding is not None else None
        if not self.is_initiator:
            half_open = self.created + HALF_OPEN_TIMEOUT
            if best is None or half_open < best:
                best = half_open
        return best

    def _dpd_deadline(self) -> float | None:
        """RFC 7296 §2.4: liveness check after ``dpd_delay`` seconds of silence."""
        # LIMITATION: there are no SA lifetimes, so with dpd_delay = 0 (the default)
        # the SA of a peer that vanished without a Delete is never ended.
        if (
            self.conn.dpd_delay <= 0
            or self.state is not _ESTABLISHED
            or self.manager.outstanding is not None
            or self.queue
        ):
            return None
        return self.last_rx + self.conn.dpd_delay

    def handle_timer(self, now: float) -> None:
        """Retransmit a due request, or fail when the retries are used up."""
        self.now = now
        if self.state is _DEAD:
            return
        if (
            self.state is _CONNECTING
            and not self.is_initiator
            and now >= self.created + HALF_OPEN_TIMEOUT
        ):
            self.fail("half-open SA timed out", None, now, quiet=True)
            return
        dpd = self._dpd_deadline()
        if dpd is not None and now >= dpd:
            self.log.debug("no traffic for %.0f s: liveness check", self.conn.dpd_delay)
            self.queue_task(Liveness(self), now)
            return
        due = self.manager.retransmit_due(now)
        if due is None:
            self.fail("peer not responding (retransmits exhausted)", None, now)
            return
        if due:
            self.log.debug("retransmitting %d datagram(s)", len(due))
            self._queue_datagrams(due)

    # -- sending -------------------------------------------------------------------

    def _queue_datagrams(self, datagrams: tuple[bytes, ...]) -> None:
        local, remote, out = self.local, self.remote, self._out
        if self.natt:
            for d in datagrams:
                out.append((NON_ESP_MARKER + d, local, remote))
        else:
            for d in datagrams:
                out.append((d, local, remote))

    def _header(self, exchange: int, mid: int, response: bool) -> IkeHeader:
        flags = _INITIATOR if self.is_initiator else 0
        if response:
            flags |= _RESPONSE
        return IkeHeader(self.spi_i, self.spi_r, exchange, flags, mid)

    def _encode(self, draft: Draft) -> Encoded:
        header = self._header(draft.exchange, draft.message_id, draft.is_response)
        if draft.exchange == _IKE_SA_INIT:
            return self.manager.encode(header, draft.payloads, None)
        return self.manager.encode(
            header,
            draft.payloads,
            self.cipher_out(),
            may_fragment=self.peer_fragmentation,
            overhead=ip_overhead(self.remote[0], self.natt),
            int_auth=draft.exchange == _IKE_INTERMEDIATE,
        )

    def send_notify_once(self, notify_type: int) -> None:
        """Send an INFORMATIONAL request with one error Notify, not retransmitted.

        Used when the initiator rejects the responder's AUTH (RFC 7296 §2.21.2).
        """
        self._send_once([NotifyPayload(notify_type)])

    def _send_once(self, payloads: list[Any]) -> None:
        """One INFORMATIONAL request that is sent once and never retransmitted."""
        mid = self.manager.next_mid
        draft = Draft(ExchangeType.INFORMATIONAL, payloads, False, mid)
        enc = self._encode(draft)
        self.manager.next_mid = mid + 1
        self._queue_datagrams(enc.datagrams)

    def _kick(self, now: float) -> None:
        """Start the next initiator exchange if none is outstanding."""
        if self.state is _DEAD or self.manager.outstanding is not None:
            return
        queue = self.queue
        exchange = None
        while queue:
            exchange = queue[0].pending_exchange()
            if exchange is not None:
                break
            queue.pop(0)
        if exchange is None:
            return
        # only IKE_AUTH is composed of several tasks (ike_auth + child_create)
        self.active = (
            [t for t in queue if t.pending_exchange() == exchange]
            if exchange == _IKE_AUTH
            else [queue[0]]
        )
        draft = Draft(exchange, None, False, self.manager.next_mid)
        try:
            for task in self.active:
                task._build_i(draft)  # a request: the initiator's side
            enc = self._encode(draft)
        except PqIkeError as exc:
            self.fail(str(exc), getattr(exc, "notify", None), now)
            return
        except Exception as exc:  # ValueError, struct.error, a bug of ours
            reason = (
                f"local error while building {exchange.name} request: "
                f"{describe_error(exc)}"
            )
            self.log.warning("%s", reason)
            self.fail(reason, None, now)
            self.dead_until = now  # nothing was sent: nothing to linger for
            return
        self._after_encode(draft, enc)
        self.manager.start_request(draft.message_id, exchange, enc, now, draft.detail)
        if _log.isEnabledFor(logging.DEBUG):
            self.log.debug("request payloads: %s", _PayloadNames(draft.payloads))
            self.log.debug(
                "sending %s request MID %d (%d octets, %d datagram(s))",
                exchange.name,
                draft.message_id,
                enc.size,
                len(enc.datagrams),
            )
        self._queue_datagrams(enc.datagrams)

    def _after_encode(self, draft: Draft, enc: Encoded) -> None:
        """Record what AUTH and IntAuth need from a message we just encoded."""
        if draft.exchange == _IKE_SA_INIT:
            if draft.is_response:
                self.init_response = enc.datagrams[0]
            else:
                self.init_request = enc.datagrams[0]
        elif draft.exchange == _IKE_INTERMEDIATE:
            self.extend_int_auth(self.is_initiator, enc.int_auth_chunk)

    def extend_int_auth(self, sender_is_initiator: bool, chunk: bytes) -> None:
        """RFC 9242 §3.3.2: IntAuth_*N = prf(SK_p*, IntAuth_*(N-1) | A | P).

        Uses the keys in force when the message was protected (before this round's
        RFC 9370 update).
        """
        assert self.keymat is not None
        header_len = 32  # IKE header + SK generic header: the A chunk
        a, p = chunk[:header_len], chunk[header_len:]
        if sender_is_initiator:
            self.int_auth_i = self.keymat.int_auth(True, self.int_auth_i, a, p)
        else:
            self.int_auth_r = self.keymat.int_auth(False, self.int_auth_r, a, p)

    # -- receiving -----------------------------------------------------------------

    def receive_message(
        self,
        data: bytes,
        header: IkeHeader,
        local: Addr,
        remote: Addr,
        now: float,
        *,
        message: Message | None = None,
    ) -> None:
        """Handle one IKE message for this SA (marker already stripped).

        ``message``: ``data`` already decoded (the endpoint decodes a new
        IKE_SA_INIT request to admit it), so that it is not decoded twice.
        """
        self.now = self.last_rx = now
        if self.state is _DEAD and header.is_response:
            return
        try:
            if header.is_response:
                self._on_response(data, header, now)
            else:
                self._on_request(data, header, local, remote, now, message)
        except AuthenticationError:
            self.log.debug("dropping MID %d: ICV failed", header.message_id)
        except DecodeError as exc:
            self._on_bad_message(exc, header, now)
        except (PqIkeError, ValueError):
            raise  # the peer's input was rejected: the endpoint drops it
        except Exception as exc:  # a bug of ours while handling a valid message
            kind = "response" if header.is_response else "request"
            reason = (
                f"local error while handling {_name(header.exchange_type)} "
                f"{kind}: {describe_error(exc)}"
            )
            self.log.warning("%s", reason)
            self.fail(reason, None, now)
            self.dead_until = now

    def _open(
        self, data: bytes, header: IkeHeader, message: Message | None = None
    ) -> Received | None:
        exchange = header.exchange_type
        if exchange == _IKE_SA_INIT:
            if message is None:
                message = decode_message(data, header)
            return self.manager.decode_plain(data, message)
        if self.keymat is None:
            raise DecodeError("protected message before keys exist", notify=None)
        return self.manager.open(
            data, header, self.cipher_in(), int_auth=exchange == _IKE_INTERMEDIATE
        )

    def _on_bad_message(self, exc: DecodeError, header: IkeHeader, now: float) -> None:
        """Malformed input: §2.21 answer only for an authenticated request."""
        self.log.debug("malformed MID %d: %s", header.message_id, exc)
        if (
            header.is_response
            or exc.notify is None
            or header.exchange_type == _IKE_SA_INIT
            or self.state is _DEAD
            or header.message_id != self.manager.peer_mid
        ):
            return
        # decrypted fine (the ICV verified), but the inner payloads are malformed
        self._answer_error(header, int(exc.notify), b"", now, str(exc))

    def _on_response(self, data: bytes, header: IkeHeader, now: float) -> None:
        if not self.manager.accept_response(header):
            self.log.debug("dropping response MID %d: not expected", header.message_id)
            return
        msg = self._open(data, header)
        if msg is None:
            return
        out = self.manager.outstanding
        assert out is not None
        if header.exchange_type != out.exchange:
            self.log.debug("dropping response of the wrong exchange type")
            return
        self.manager.outstanding = None
        if header.exchange_type == _IKE_SA_INIT:
            self.spi_r = header.spi_r
            self.init_response = data
        if _log.isEnabledFor(logging.DEBUG):
            self.log.debug(
                "received %s response MID %d: %s",
                _name(msg.exchange),
                msg.message_id,
                _PayloadNames(msg.payloads),
            )
        if header.exchange_type == _IKE_INTERMEDIATE:
            self.extend_int_auth(not self.is_initiator, msg.int_auth_chunk)
        self._complete(
            out.exchange,
            out.encoded.size,
            msg.size,
            out.mid,
            True,
            len(out.encoded.datagrams),
            msg.fragments,
            out.detail,
        )
        self._process_response(msg, now)

    def _process_response(self, msg: Received, now: float) -> None:
        critical = msg.unsupported_critical
        try:
            if critical is not None:
                raise RemoteProtocolError(
                    f"response carries unknown critical payload {critical}",
                    NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
                )
            statuses = [(t, t._process_i(msg)) for t in self.active]
        except PqIkeError as exc:
            notify = getattr(exc, "notify", None)
            if self.state is _ESTABLISHED and notify is None:
                # draft-ietf-ipsecme-ikev2-mlkem §2.2: a bad ciphertext in
                # CREATE_CHILD_SA / IKE_FOLLOWUP_KE -> delete the IKE SA (with Delete)
                self._send_once([DeletePayload(ProtocolId.IKE)])
            self.fail(str(exc), notify, now)
            return
        done = {id(t) for t, s in statuses if s is TaskStatus.DONE}
        self.queue = [t for t in self.queue if id(t) not in done]
        self.active = []
        if self.state is not _DEAD:
            self._kick(now)

    def _on_request(
        self,
        data: bytes,
        header: IkeHeader,
        local: Addr,
        remote: Addr,
        now: float,
        message: Message | None = None,
    ) -> None:
        verdict = self.manager.classify_request(header, data)
        if verdict == "retransmit" and self.manager.cached is not None:
            self.log.debug("resending cached response MID %d", header.message_id)
            self._queue_datagrams(self.manager.cached.encoded.datagrams)
            return
        if verdict != "new" or self.state is _DEAD:
            self.log.debug("dropping request MID %d (%s)", header.message_id, verdict)
            return
        msg = self._open(data, header, message)
        if msg is None:
            return
        self.local, self.remote = local, remote
        self.natt = self.ctx.on_natt_port(local)
        if header.exchange_type == _IKE_SA_INIT:
            self.init_request = data
        elif header.exchange_type == _IKE_INTERMEDIATE:
            self.extend_int_auth(True, msg.int_auth_chunk)
        self._process_request(msg, header, now)

    def _process_request(self, msg: Received, header: IkeHeader, now: float) -> None:
        if _log.isEnabledFor(logging.DEBUG):
            self.log.debug(
                "received %s request MID %d: %s",
                _name(msg.exchange),
                msg.message_id,
                _PayloadNames(msg.payloads),
            )
        tasks = _responder_tasks(self, msg)
        if tasks is None:
            if msg.exchange not in _RESPONDER_TASKS:
                return  # an exchange type we do not know: drop
            self._answer_error(
                header,
                NotifyType.INVALID_SYNTAX,
                b"",
                now,
                f"{_name(msg.exchange)} request not acceptable now",
            )
            return
        critical = msg.unsupported_critical
        if critical is not None:
            self._answer_error(
                header,
                NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
                bytes((critical,)),
                now,
                f"unknown critical payload {critical}",
            )
            return
        draft = Draft(
            _EXCHANGES[msg.exchange], is_response=True, message_id=msg.message_id
        )
        was, mark = self.state, len(self._events)
        try:  # the peer's request: its errors are answered or dropped (§2.21)
            for task in tasks:
                task._process_r(msg)  # a request: the responder's side
        except PqIkeError as exc:
            self._refuse(exc, tasks, header, now)
            return
        try:  # our side: a LocalProtocolError or any non-pqike error is ours
            for task in tasks:
                task._build_r(draft)
        except LocalProtocolError as exc:
            self._fail_local(msg.exchange, exc, now, was, mark, tasks)
            return
        except PqIkeError as exc:
            self._refuse(exc, tasks, header, now)
            return
        except Exception as exc:  # ValueError, struct.error, a bug: ours, not peer's
            self._fail_local(msg.exchange, exc, now, was, mark, tasks)
            return
        try:
            self._respond(draft, msg, now)
            for task in tasks:
                task.sent(draft)
        except Exception as exc:
            self._fail_local(msg.exchange, exc, now, was, mark, tasks)

    def _refuse(
        self, exc: PqIkeError, tasks: list[Task], header: IkeHeader, now: float
    ) -> None:
        """A task rejected the request: answer with its notify, or drop it."""
        if isinstance(exc, ProtocolError):
            data = next((t.error_data for t in tasks if t.error_data), b"")
            if exc.notify is None:
                self.fail(str(exc), None, now, quiet=True)
                return
            self._answer_error(header, int(exc.notify), data, now, str(exc))
            return
        # a local crypto failure: no answer
        self.log.info("cannot answer %s: %s", _name(header.exchange_type), exc)
        if self.state is _CONNECTING:
            self.fail(str(exc), None, now, quiet=True)

    def _fail_local(
        self,
        exchange: int,
        exc: Exception,
        now: float,
        was: SaState,
        mark: int,
        tasks: list[Task],
    ) -> None:
        """Our own failure while answering a valid request (encoding the response,
        installing our side): the SA fails locally and is forgotten at once.

        The response was never sent, so the peer does not have what this exchange
        set up: an SA that was still connecting emits ConnectionFailed (the events
        of the unfinished exchange, e.g. IkeEstablished, are taken back), an
        established one is deleted (IkeDeleted, with a Delete sent once). No RFC
        7296 notify means "internal error", so the request itself is not answered.
        """
        reason = (
            f"local error while building {_name(exchange)} response: "
            f"{describe_error(exc)}"
        )
        self.log.warning("%s", reason)
        if was is _CONNECTING:
            while len(self._events) > mark:  # only this SA emitted since `mark`
                self._events.pop()
            for child_id in list(self.children):  # its ChildEstablished is gone too
                child = self.children.pop(child_id)
                if self.ctx.child_removed is not None:
                    self.ctx.child_removed(child)
            if self.state is not _DEAD:
                self.state = _CONNECTING
        elif self.state is _ESTABLISHED:
            try:
                self._send_once([DeletePayload(ProtocolId.IKE)])
            except Exception as again:  # encoding is what failed: say nothing
                self.log.warning("cannot send Delete either: %s", describe_error(again))
        for task in tasks:
            spi = getattr(task, "spi_in", 0)
            if spi and ChildId(spi) not in self.children:
                self.ctx.release_esp_spi(spi)
        self.fail(reason, None, now)
        self.dead_until = now  # no cached answer to linger for

    def _respond(self, draft: Draft, msg: Received, now: float) -> None:
        enc = self._encode(draft)
        self._after_encode(draft, enc)
        self.manager.finish_request(msg.message_id, enc)
        self._queue_datagrams(enc.datagrams)
        self._complete(
            msg.exchange,
            msg.size,
            enc.size,
            msg.message_id,
            False,
            msg.fragments,
            len(enc.datagrams),
            draft.detail,
        )

    def _answer_error(
        self, header: IkeHeader, notify: int, data: bytes, now: float, reason: str
    ) -> None:
        """Answer a request with one error Notify (RFC 7296 §2.21.1, §2.21.2)."""
        exchange = header.exchange_type
        draft = Draft(
            exchange,  # type: ignore[arg-type]
            [NotifyPayload(notify, data)],
            True,
            header.message_id,
        )
        if exchange == _IKE_SA_INIT or self.keymat is not None:
            enc = self._encode(draft)
            self.manager.finish_request(header.message_id, enc)
            self._queue_datagrams(enc.datagrams)
        if self.state is _CONNECTING:
            self.fail(reason, notify, now)
        else:
            self.log.info("rejected %s request: %s", _name(exchange), reason)

    def _complete(
        self,
        exchange: int,
        req: int,
        resp: int,
        mid: int,
        initiator: bool,
        req_frags: int,
        resp_frags: int,
        detail: str = "",
    ) -> None:
        self.emit(
            ExchangeCompleted(
                self.handle,
                _name(exchange),
                req,
                resp,
                mid,
                initiator,
                req_frags,
                resp_frags,
                detail,
            )
        )

    # -- lifecycle -----------------------------------------------------------------

    def established(self) -> None:
        """Called by IkeAuth when both AUTH payloads verified."""
        self.state = _ESTABLISHED
        self.auth_done = True

    def fail(
        self, reason: str, notify: int | None, now: float, *, quiet: bool = False
    ) -> None:
        """Tear the SA down after a failure (it lingers to answer retransmits)."""
        if self.state is _DEAD:
            return
        was = self.state
        self.state = _DEAD
        self.dead_until = now + DEAD_LINGER
        self.manager.outstanding = None
        self.queue, self.active = [], []
        if was is _CONNECTING:
            self.log.info("failed: %s", reason)
            if not quiet or self.is_initiator:
                self.emit(ConnectionFailed(self.handle, reason, notify, self.remote))
        else:
            self.log.info("deleted: %s", reason)
        self._drop_children(reason)
        if was is not _CONNECTING:
            self.emit(IkeDeleted(self.handle, reason))

    def release(self) -> None:
        """Let go of what a DEAD SA no longer needs, secrets first.

        While it lingers (``DEAD_LINGER``) a dead SA only answers retransmitted
        requests from the manager's response cache, and recognises a retransmitted
        IKE_SA_INIT by ``init_request``; its keys, KE objects, nonces, IntAuth and
        decrypted fragments awaiting reassembly would otherwise stay in memory for
        those 30 s. The endpoint calls this once
        the datagram, timer or call that ended the SA has been handled, since a
        Delete response is still encoded with the keys. Idempotent; a no-op while
        the SA is alive.
        """
        if self.state is not _DEAD:
            return
        self.keymat = self._cipher_keymat = None
        self._ciphers.clear()
        self.multi_ke.release()
        self.manager.release()
        self.pending_rekey = None
        self.queue, self.active = [], []
        self.ni = self.nr = self.init_response = b""
        self.int_auth_i = self.int_auth_r = b""

    def _drop_children(self, reason: str) -> None:
        for child_id in list(self.children):
            self.remove_child(child_id, reason)

    def add_child(self, child: ChildSa) -> None:
        """Install a Child SA (its inbound SPI becomes known to the endpoint)."""
        self.children[child.child_id] = child
        if self.ctx.child_added is not None:
            self.ctx.child_added(self, child)

    def remove_child(self, child_id: ChildId, reason: str) -> ChildSa | None:
        """Remove a Child SA and report ChildDeleted; None if it is unknown."""
        child = self.children.pop(child_id, None)
        if child is None:
            return None
        if self.ctx.child_removed is not None:
            self.ctx.child_removed(child)
        self.log.info("CHILD_SA %s deleted: %s", child.name, reason)
        self.emit(ChildDeleted(self.handle, child_id, reason))
        return child

    def new_ike_spi(self) -> bytes:
        """A fresh, unused IKE SPI from the endpoint (for an IKE SA rekey)."""
        assert self.ctx.alloc_ike_spi is not None
        return self.ctx.alloc_ike_spi()

    def spawn_rekeyed(
        self,
        suite: Selected,
        *,
        initiator: bool,
        spi_i: bytes,
        spi_r: bytes,
        ni: bytes,
        nr: bytes,
        secrets: list[bytes],
    ) -> IkeSa:
        """The IKE SA that replaces this one after a rekey (RFC 7296 §2.18).

        SKEYSEED = prf(SK_d(old), SK(0) | Ni | Nr | SK(1)..), SK_* with the new SPIs;
        the Child SAs move to it. ``initiator``: we started the rekey.
        """
        assert self.keymat is not None
        assert self.ctx.new_sa is not None
        encr_id, bits = suite.chosen[1]
        keymat = self.keymat.rekey_ike(
            secrets,
            ni,
            nr,
            spi_i,
            spi_r,
            suite.id_of(2),
            encr_id,
            bits,
            suite.id_of(3),
        )
        new = self.ctx.new_sa(self, initiator, spi_i, spi_r)
        new.keymat, new.suite, new.ni, new.nr = keymat, suite, ni, nr
        new.state, new.auth_done = _ESTABLISHED, True
        new.natt, new.peer_fragmentation = self.natt, self.peer_fragmentation
        new.local, new.remote, new.last_rx = self.local, self.remote, self.now
        for child_id in list(self.children):
            child = self.children.pop(child_id)
            new.children[child_id] = child
            if self.ctx.child_added is not None:
                self.ctx.child_added(new, child)
        self.log.info(
            "IKE SA rekeyed: new SPIs %s:%s, suite %s",
            spi_i.hex(),
            spi_r.hex(),
            _suite_info(suite),
        )
        self.emit(IkeRekeyed(self.handle, new.handle))
        return new

    def deleted(self, reason: str, now: float) -> None:
        """The IKE SA was deleted by an INFORMATIONAL exchange."""
        if self.state is _DEAD:
            return
        self.state = _DEAD
        self.dead_until = now + DEAD_LINGER
        self.manager.outstanding = None
        self.queue, self.active = [], []
        self.log.info("deleted: %s", reason)
        self._drop_children(reason)
        self.emit(IkeDeleted(self.handle, reason))


def describe_error(exc: BaseException) -> str:
    """``struct.error: 'H' format requires ...`` for a log line or event reason.

    pqike's own messages never carry key material (``errors.py``); the text of
    anything else (a bug) is cut short.
    """
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    text = str(exc)
    return f"{name}: {text[:200]}" if text else name


def _name(exchange: int) -> str:
    name = _EXCHANGE_NAMES.get(exchange)
    return name if name is not None else f"EXCHANGE_{exchange}"


class _PayloadNames:
    """``Sa Ke Nonce N(NAT_DETECTION_SOURCE_IP)`` summary, built only if logged."""

    def __init__(self, payloads: tuple[Any, ...] | list[Any]) -> None:
        self.payloads = tuple(payloads)

    def __str__(self) -> str:
        names = []
        for p in self.payloads:
            if isinstance(p, NotifyPayload):
                names.append(f"N({_notify_name(p.notify_type)})")
            else:
                names.append(type(p).__name__.removesuffix("Payload"))
        return " ".join(names) or "(empty)"
