# SPDX-License-Identifier: Apache-2.0
"""IkeEndpoint: many IKE SAs on one pair of local ports, sans-IO.

Demultiplexing (RFC 7296 §2.6, RFC 3948 §2.2):

* on the NAT-T port a datagram starting with the non-ESP marker is IKE, a single
  0xFF octet is a NAT-keepalive, anything else is ESP (looked up by its SPI);
* an IKE message whose I flag is set comes from the original initiator, so it is
  looked up by the responder SPI (ours); without the I flag by the initiator SPI;
* an IKE_SA_INIT request with a zero responder SPI creates a responder SA, unless
  it is a retransmission (same SPIi and source), or the responder is loaded: above
  ``cookie_threshold`` half-open SAs it asks for a COOKIE (RFC 7296 §2.6), above
  ``half_open_limit`` it drops the request; while :attr:`IkeEndpoint.accepting` is
  False (shutting down) it drops every new one.

Nothing here ever raises: undecodable or unknown datagrams are dropped; a failure of
our own fails the one SA it happened in (``sa.py``), which is then forgotten.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import logging
from collections import deque
from collections.abc import Callable, Sequence

from pqike._memo import IdentityMemo
from pqike.config import ConnectionConfig, EndpointConfig, check_backend
from pqike.crypto import Backend
from pqike.errors import DecodeError, LocalProtocolError, PqIkeError
from pqike.ikev2.codec.header import IkeHeader, decode_header
from pqike.ikev2.codec.message import Message, decode_message, encode_message
from pqike.ikev2.codec.payloads import NoncePayload, NotifyPayload
from pqike.ikev2.constants import (
    NON_ESP_MARKER,
    ExchangeType,
    HeaderFlag,
    NotifyType,
)
from pqike.ikev2.events import ChildId, EspReceived, Event, SaHandle
from pqike.ikev2.sa import Addr, IkeSa, SaContext, SaState, describe_error
from pqike.ikev2.tasks.child_create import ChildSa
from pqike.ikev2.tasks.child_rekey import ChildRekey
from pqike.ikev2.tasks.ike_rekey import IkeRekey
from pqike.ikev2.tasks.informational import DeleteChild, DeleteIke, Liveness

__all__ = ["IkeEndpoint"]

_log = logging.getLogger(__name__)

_COOKIE_VERSION = b"\x01"
_ZERO_SPI = bytes(8)
_CONNECTING, _DEAD = SaState.CONNECTING, SaState.DEAD
"""Enum members read through the class cost ~0.1 us each (Python 3.11)."""
_INITIATOR = int(HeaderFlag.INITIATOR)
_RESPONSE = int(HeaderFlag.RESPONSE)
_IKE_SA_INIT = int(ExchangeType.IKE_SA_INIT)
_KEEPALIVE = b"\xff"


class IkeEndpoint:
    """All IKE SAs of one endpoint (docs/contracts.md §3).

    Args:
        config: the endpoint config (connections, ports, COOKIE threshold).
        backend: crypto backend.
        rng: ``rng(n) -> bytes``; every SPI, nonce, KE seed and cookie secret.
    """

    def __init__(
        self,
        config: EndpointConfig,
        backend: Backend,
        rng: Callable[[int], bytes],
    ) -> None:
        """Raises:
        ConfigError: a configured proposal lists, for some transform type, only
            transforms this ``backend`` cannot run (the field and the reason are
            named); the engine would otherwise drop it without a word.
        """
        _check_backend_once(config, backend)
        self.config = config
        self.backend = backend
        self.rng = rng
        self._next_handle = 1
        self.sas: dict[SaHandle, IkeSa] = {}
        self._by_spi: dict[bytes, IkeSa] = {}
        self._by_init: dict[tuple[bytes, str, int], IkeSa] = {}
        self._init_keys: dict[SaHandle, tuple[bytes, str, int]] = {}
        """A responder SA's key in ``_by_init``, noted when it is indexed: its
        ``remote`` moves to the NAT-T port, so the key cannot be derived from it
        later (its key in ``_by_spi`` is our SPI, which never changes). Forgetting
        an SA thus costs the same however many SAs there are."""
        self._esp_in: dict[int, tuple[IkeSa, ChildSa]] = {}
        self._events: deque[Event] = deque()
        self._out: list[tuple[bytes, Addr, Addr]] = []
        self._cookie_secret = rng(32)
        self._reserved_esp: set[int] = set()
        self._ctx = SaContext(
            self._alloc_esp_spi,
            config.natt_port,
            config.port,
            self._events,
            self._child_added,
            self._child_removed,
            self._reserved_esp.discard,
            self._alloc_ike_spi,
            self._rekeyed_sa,
            self._connections_for,
            self._out,
            self._peers_of,
        )
        self._timers: list[tuple[float, int]] = []
        """Heap of (deadline, handle); entries not matching _deadline are stale."""
        self._deadline: dict[int, float | None] = {}
        self._fresh: list[IkeSa] = []
        self._half_open_sas: set[IkeSa] = set()
        """Responder SAs that may still be half-open (see :meth:`_half_open`)."""
        self.accepting = True
        """Whether a new IKE_SA_INIT request may create a responder SA. Set it to
        False before deleting the SAs on shutdown, so that none is set up meanwhile
        (requests are dropped, as above ``half_open_limit``)."""

    # -- identifiers ---------------------------------------------------------------

    def _alloc_ike_spi(self) -> bytes:
        while True:
            spi = self.rng(8)
            if any(spi) and spi not in self._by_spi:
                return spi

    def _alloc_esp_spi(self) -> int:
        """A fresh inbound ESP SPI (>= 256, RFC 4303 §2.1), reserved until freed."""
        while True:
            spi = int.from_bytes(self.rng(4), "big")
            if spi >= 256 and spi not in self._esp_in and spi not in self._reserved_esp:
                self._reserved_esp.add(spi)
                return spi

    def _rekeyed_sa(
        self, old: IkeSa, is_initiator: bool, spi_i: bytes, spi_r: bytes
    ) -> IkeSa:
        """Index the IKE SA that replaces ``old`` (same peer, new SPIs)."""
        return self._new_sa(
            old.conn, is_initiator, old.local, old.remote, spi_i, spi_r, old.now
        )

    def _child_added(self, sa: IkeSa, child: ChildSa) -> None:
        self._esp_in[child.spi_in] = (sa, child)

    def _child_removed(self, child: ChildSa) -> None:
        self._esp_in.pop(child.spi_in, None)
        self._reserved_esp.discard(child.spi_in)

    def _new_sa(
        self,
        conn: ConnectionConfig,
        is_initiator: bool,
        local: Addr,
        remote: Addr,
        spi_i: bytes,
        spi_r: bytes,
        now: float,
    ) -> IkeSa:
        handle = SaHandle(self._next_handle)
        self._next_handle += 1
        sa = IkeSa(
            handle,
            conn,
            self.backend,
            self.rng,
            is_initiator=is_initiator,
            local=local,
            remote=remote,
            spi_i=spi_i,
            spi_r=spi_r,
            ctx=self._ctx,
            now=now,
        )
        self.sas[handle] = sa
        if not is_initiator:
            self._half_open_sas.add(sa)
        self._fresh.append(sa)
        self._by_spi[spi_i if is_initiator else spi_r] = sa
        return sa

    # -- public API (contracts §3) ---------------------------------------------------

    def initiate(self, conn_name: str, now: float) -> SaHandle:
        """Start an IKE SA for connection ``conn_name``.

        Raises:
            LocalProtocolError: no such connection, or it has no remote address.
        """
        conn = self.config.connections.get(conn_name)
        if conn is None or not conn.remote_addrs:
            raise LocalProtocolError(f"connection {conn_name!r} cannot be initiated")
        remote = (conn.remote_addrs[0], conn.remote_port)
        local = (self._local_ip_for(remote[0], conn.local_addrs), self.config.port)
        sa = self._new_sa(
            conn, True, local, remote, self._alloc_ike_spi(), bytes(8), now
        )
        sa.initiate(now)
        self._after(sa)
        return sa.handle

    def receive_datagram(
        self, data: bytes, local: Addr, remote: Addr, now: float
    ) -> None:
        """Feed one UDP payload; never raises on peer input."""
        try:
            self._receive(bytes(data), local, remote, now)
        except (PqIkeError, ValueError) as exc:
            # the peer's input was rejected while decoding or processing it; our own
            # failures (building or installing our side) fail their SA in IkeSa.
            # LIMITATION: a ValueError that is not a pqike error, raised while
            # *processing* a peer message, is still taken for bad peer input
            # (docs/limitations.md).
            _log.debug("dropped datagram from %s:%d: %s", *remote, exc)
        except Exception as exc:  # a bug outside any SA (demultiplexing, admission)
            _log.warning(
                "internal error handling a datagram from %s:%d: %s",
                *remote,
                describe_error(exc),
            )

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr, Addr]]:
        """Every queued datagram ``(udp payload, local, remote)``."""
        out = self._out[:]
        self._out.clear()  # the list object is shared with every SA
        return out

    def _after(self, sa: IkeSa) -> None:
        """Re-read the deadlines of ``sa`` and of SAs created meanwhile (rekeys);
        a dead ``sa`` drops its keys and handshake state (:meth:`IkeSa.release`)."""
        if sa.state is _DEAD:
            sa.release()
        self._touch(sa)
        fresh = self._fresh
        while fresh:
            self._touch(fresh.pop())

    def _touch(self, sa: IkeSa) -> None:
        """Re-read an SA's deadline after it did something (heap, lazy deletion)."""
        deadline = sa.get_timer()
        if self._deadline.get(sa.handle) == deadline:
            return
        self._deadline[sa.handle] = deadline
        if deadline is not None:
            heapq.heappush(self._timers, (deadline, sa.handle))

    def _prune(self) -> None:
        while self._timers:
            deadline, handle = self._timers[0]
            if handle in self.sas and self._deadline.get(handle) == deadline:
                return
            heapq.heappop(self._timers)

    def get_timer(self) -> float | None:
        """The earliest deadline of any SA."""
        self._prune()
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float) -> None:
        """Run the due SA timers; forget SAs whose linger time ended."""
        while True:
            self._prune()
            if not self._timers or self._timers[0][0] > now:
                return
            _, handle = heapq.heappop(self._timers)
            sa = self.sas[SaHandle(handle)]
            self._deadline.pop(handle, None)
            try:
                sa.handle_timer(now)
            except Exception as exc:  # a bug of ours: fail this SA, not the endpoint
                reason = f"local error while handling a timer: {describe_error(exc)}"
                sa.log.warning("%s", reason)
                sa.fail(reason, None, now)
                sa.dead_until = now
            if sa.state is _DEAD and now >= sa.dead_until:
                self._forget(sa)
            else:
                self._after(sa)

    def next_event(self) -> Event | None:
        """Pop the next event, or None."""
        return self._events.popleft() if self._events else None

    def send_esp(self, child_id: int, payload: bytes, next_header: int = 4) -> None:
        """Seal ``payload`` on a Child SA and queue the ESP-in-UDP datagram.

        Raises:
            LocalProtocolError: unknown Child SA.
            SequenceExhausted: the SA must be rekeyed first.
        """
        entry = self._esp_in.get(int(child_id))
        if entry is None:
            raise LocalProtocolError(f"no Child SA {child_id}")
        sa, child = entry
        packet = child.outbound.seal(payload, next_header)
        self._out.append((packet, (sa.local[0], self.config.natt_port), sa.remote))

    def delete_ike(self, sa: SaHandle, now: float = 0.0) -> None:
        """Delete an IKE SA with an INFORMATIONAL exchange."""
        ike = self._sa(sa)
        ike.queue_task(DeleteIke(ike), now)
        self._after(ike)

    def delete_child(self, sa: SaHandle, child: ChildId, now: float = 0.0) -> None:
        """Delete one Child SA with an INFORMATIONAL exchange."""
        ike = self._sa(sa)
        ike.queue_task(DeleteChild(ike, child), now)
        self._after(ike)

    def rekey_child(self, sa: SaHandle, child: ChildId, now: float = 0.0) -> None:
        """Rekey a Child SA with CREATE_CHILD_SA (+ IKE_FOLLOWUP_KE per ADDKE).

        Emits ChildEstablished for the new SA and ChildRekeyed(sa, old, new); the old
        Child SA is then deleted with an INFORMATIONAL exchange.

        Raises:
            LocalProtocolError: unknown IKE SA or Child SA.
        """
        ike = self._sa(sa)
        old = ike.children.get(child)
        if old is None:
            raise LocalProtocolError(f"no Child SA {child} on IKE SA {sa}")
        ike.queue_task(ChildRekey(ike, old), now)
        self._after(ike)

    def rekey_ike(self, sa: SaHandle, now: float = 0.0) -> None:
        """Rekey an IKE SA (CREATE_CHILD_SA + IKE_FOLLOWUP_KE per ADDKE).

        Emits IkeRekeyed(sa, new_sa); the Child SAs move to ``new_sa`` and the old
        IKE SA is deleted (IkeDeleted for ``sa``).

        Raises:
            LocalProtocolError: unknown IKE SA.
        """
        ike = self._sa(sa)
        ike.queue_task(IkeRekey(ike), now)
        self._after(ike)

    def send_liveness(self, sa: SaHandle, now: float = 0.0) -> None:
        """Send an empty INFORMATIONAL (RFC 7296 §2.4 liveness check)."""
        ike = self._sa(sa)
        ike.queue_task(Liveness(ike), now)
        self._after(ike)

    def ike_sas(self) -> list[IkeSa]:
        """Live (not failed or deleted) IKE SAs."""
        return [sa for sa in self.sas.values() if sa.state is not _DEAD]

    # -- internals -------------------------------------------------------------------

    def _sa(self, handle: SaHandle) -> IkeSa:
        sa = self.sas.get(handle)
        if sa is None or sa.state is _DEAD:
            raise LocalProtocolError(f"no IKE SA {handle}")
        return sa

    def _listen_ip(self) -> str:
        return self.config.listen[0][0] if self.config.listen else "0.0.0.0"

    def _local_ip_for(self, remote_ip: str, local_addrs: Sequence[str]) -> str:
        """The address to send to ``remote_ip`` from: the first of the connection's
        ``local_addrs``, else of the listen addresses, of the peer's IP family (a
        datagram for an IPv6 peer cannot leave through an IPv4 socket)."""
        v6 = ":" in remote_ip
        for ip in local_addrs:
            if (":" in ip) is v6:
                return ip
        for ip, _port in self.config.listen:
            if (":" in ip) is v6:
                return ip
        return local_addrs[0] if local_addrs else self._listen_ip()

    def _forget(self, sa: IkeSa) -> None:
        self.sas.pop(sa.handle, None)
        self._half_open_sas.discard(sa)
        self._deadline.pop(sa.handle, None)
        ours = sa.spi_i if sa.is_initiator else sa.spi_r
        if self._by_spi.get(ours) is sa:
            del self._by_spi[ours]
        init = self._init_keys.pop(sa.handle, None)
        if init is not None and self._by_init.get(init) is sa:
            del self._by_init[init]

    def _receive(self, data: bytes, local: Addr, remote: Addr, now: float) -> None:
        if self._ctx.on_natt_port(local):
            if data[:4] != NON_ESP_MARKER:
                if data != _KEEPALIVE:
                    self._receive_esp(data, now)
                return
            data = data[4:]
        header = decode_header(data)
        if header.length != len(data):
            raise DecodeError("IKE Length does not match the datagram")
        sa = self._lookup(header, remote)
        new_init = header.exchange_type == _IKE_SA_INIT and _is_new_init(header)
        if sa is not None and new_init and sa.init_request != data:
            if sa.state is not _DEAD:
                return  # a different IKE_SA_INIT while ours is in progress
            self._forget(sa)  # a retry after INVALID_KE_PAYLOAD
            sa = None
        message: Message | None = None
        if sa is None:
            if new_init:
                message = decode_message(data, header)  # the SA gets it too
                sa = self._new_responder(message, local, remote, now)
            if sa is None:
                # LIMITATION: no INVALID_IKE_SPI notification (RFC 7296 §2.21.4 MAY)
                _log.debug(
                    "no IKE SA for SPIs %s:%s", header.spi_i.hex(), header.spi_r.hex()
                )
                return
        try:
            sa.receive_message(data, header, local, remote, now, message=message)
        finally:
            self._after(sa)
            if sa.state is _DEAD and now >= sa.dead_until:
                self._forget(sa)  # failed locally: no cached answer to linger for

    def _lookup(self, header: IkeHeader, remote: Addr) -> IkeSa | None:
        if header.flags & _INITIATOR:  # sent by the original initiator: responder
            if header.spi_r == _ZERO_SPI:
                return self._by_init.get((header.spi_i, remote[0], remote[1]))
            sa = self._by_spi.get(header.spi_r)
            return sa if sa is not None and not sa.is_initiator else None
        sa = self._by_spi.get(header.spi_i)
        return sa if sa is not None and sa.is_initiator else None

    def _receive_esp(self, packet: bytes, now: float) -> None:
        if len(packet) < 8:
            return
        entry = self._esp_in.get(int.from_bytes(packet[:4], "big"))
        if entry is None:
            return
        sa, child = entry
        payload, next_header = child.inbound.open(packet)
        sa.last_rx = max(sa.last_rx, now)  # authenticated traffic: peer is alive
        if next_header != 59:  # RFC 4303 §2.6: dummy packets are dropped
            self._events.append(EspReceived(child.child_id, payload, next_header))

    # -- responder admission (COOKIE, RFC 7296 §2.6) ---------------------------------

    def _half_open(self) -> int:
        """Responder SAs still CONNECTING. Only the candidates are looked at (every
        responder SA joins at creation and leaves here once it is up, dead or
        forgotten), not every SA: admission ran per new IKE_SA_INIT over all SAs."""
        candidates = self._half_open_sas
        gone = [
            sa
            for sa in candidates
            if sa.state is not _CONNECTING or self.sas.get(sa.handle) is not sa
        ]
        candidates.difference_update(gone)
        return len(candidates)

    def _cookie(self, spi_i: bytes, nonce: bytes, remote: Addr) -> bytes:
        """Cookie = VersionIDofSecret | Hash(Ni | IPi | SPIi | <secret>) (§2.6)."""
        ip = ipaddress.ip_address(remote[0]).packed
        digest = hashlib.sha256(nonce + ip + spi_i + self._cookie_secret).digest()
        return _COOKIE_VERSION + digest[:16]

    def _admit(self, msg: Message, local: Addr, remote: Addr) -> bool:
        """True to accept the IKE_SA_INIT; else answer with a COOKIE (from the
        address the request came to) or drop."""
        half_open = self._half_open()
        if half_open >= self.config.half_open_limit:
            return False
        if half_open < self.config.cookie_threshold:
            return True
        nonce = msg.find(NoncePayload)
        if nonce is None:
            return False
        expected = self._cookie(msg.header.spi_i, nonce.data, remote)
        got = msg.payloads[0] if msg.payloads else None
        if (
            isinstance(got, NotifyPayload)
            and got.notify_type == NotifyType.COOKIE
            and hmac.compare_digest(got.data, expected)
        ):
            return True
        self._send_cookie(msg.header, expected, local, remote)
        return False

    def _send_cookie(
        self, header: IkeHeader, cookie: bytes, local: Addr, remote: Addr
    ) -> None:
        reply = IkeHeader(
            header.spi_i,
            bytes(8),
            ExchangeType.IKE_SA_INIT,
            int(HeaderFlag.RESPONSE),
            0,
        )
        data = encode_message(
            Message(reply, (NotifyPayload(NotifyType.COOKIE, cookie),))
        )
        if self._ctx.on_natt_port(local):
            data = NON_ESP_MARKER + data  # it came to the NAT-T port (RFC 3948 §2.2)
        self._out.append((data, local, remote))

    def _peers_of(self, sa: IkeSa) -> list[IkeSa]:
        """Other live IKE SAs (up or coming up) with the same peer: same connection,
        identity, address and port (whether INITIAL_CONTACT is due, RFC 7296 §2.4)."""
        return [
            other
            for other in self.sas.values()
            if other is not sa
            and other.state is not _DEAD
            and other.conn.name == sa.conn.name
            and other.conn.remote_id == sa.conn.remote_id
            and other.remote == sa.remote
        ]

    def _connections_for(self, remote: Addr) -> list[ConnectionConfig]:
        """Connections for a peer: those naming its address, then the %any ones."""
        conns = list(self.config.connections.values())
        by_addr = [c for c in conns if remote[0] in c.remote_addrs]
        return by_addr + [c for c in conns if not c.remote_addrs]

    def _connection_for(self, remote: Addr) -> ConnectionConfig | None:
        """The connection for a new peer's IKE_SA_INIT (IKE_AUTH may re-select it by
        IDi among :meth:`_connections_for`)."""
        candidates = self._connections_for(remote)
        return candidates[0] if candidates else None

    def _new_responder(
        self, msg: Message, local: Addr, remote: Addr, now: float
    ) -> IkeSa | None:
        if not self.accepting:
            _log.debug("shutting down: IKE_SA_INIT from %s:%d dropped", *remote)
            return None
        conn = self._connection_for(remote)
        if conn is None or not self._admit(msg, local, remote):
            return None
        spi_i = msg.header.spi_i
        sa = self._new_sa(conn, False, local, remote, spi_i, self._alloc_ike_spi(), now)
        init = (spi_i, remote[0], remote[1])
        self._by_init[init] = sa
        self._init_keys[sa.handle] = init
        return sa


_CHECKED: IdentityMemo[bool] = IdentityMemo()
"""(config, backend) pairs already checked: a client builds a fresh endpoint from
the same config for each connection."""


def _check_backend_once(config: EndpointConfig, backend: Backend) -> None:
    if _CHECKED.get2(config, backend) is None:
        check_backend(config, backend)
        _CHECKED.put2(config, backend, True)


def _is_new_init(header: IkeHeader) -> bool:
    return (
        header.exchange_type == _IKE_SA_INIT
        and not header.flags & _RESPONSE
        and header.message_id == 0
        and header.spi_r == _ZERO_SPI
        and header.spi_i != _ZERO_SPI  # RFC 7296 §3.1: never zero
    )
