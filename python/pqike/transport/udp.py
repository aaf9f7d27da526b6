# SPDX-License-Identifier: Apache-2.0
"""asyncio UDP driver for the sans-IO engine.

The driver owns the sockets and the clock, nothing else. For every received datagram it
calls ``endpoint.receive_datagram(payload, local, remote, loop.time())`` with the UDP
payload exactly as received (on the NAT-T port that is either the non-ESP marker and an
IKE message, or an ESP packet: the engine tells them apart). After every input it
*flushes*: sends each of ``endpoint.datagrams_to_send(now)`` from the socket bound to
the datagram's local address (so the engine picks port 500 or 4500), hands each of
``endpoint.next_event()`` to the event sink, and re-arms its one timer at
``endpoint.get_timer()``.

Failures never stop the driver: an exception from the engine while it handles one
datagram or a timer is logged and the next datagram is handled as usual.

LIMITATION: sockets bound to a wildcard address (``0.0.0.0``) report that wildcard as
the local address, because the driver does not read IP_PKTINFO; bind concrete
addresses when NAT detection must see the real one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar, cast

from pqike.errors import PqIkeError

__all__ = [
    "NAT_KEEPALIVE",
    "Addr",
    "EndpointLike",
    "UdpTransport",
    "bind_addresses",
    "format_addr",
]

logger = logging.getLogger(__name__)

Addr = tuple[str, int]

NAT_KEEPALIVE = b"\xff"
"""RFC 3948 §2.3: a NAT-keepalive is a UDP payload of the single octet 0xFF."""

_T = TypeVar("_T")


class EndpointLike(Protocol):
    """What the driver needs from ``pqike.ikev2.endpoint.IkeEndpoint``."""

    def receive_datagram(
        self, data: bytes, local: Addr, remote: Addr, now: float
    ) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr, Addr]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def next_event(self) -> object | None: ...


class _ListenerLike(Protocol):
    """The endpoint-config parts :func:`bind_addresses` reads."""

    @property
    def listen(self) -> Sequence[Addr]: ...
    @property
    def natt_port(self) -> int: ...


def bind_addresses(config: _ListenerLike) -> list[Addr]:
    """The sockets an endpoint config asks for: each ``listen`` address, and the
    same host on ``natt_port``."""
    out: list[Addr] = []
    for host, port in config.listen:
        for addr in ((host, port), (host, config.natt_port)):
            if addr not in out:
                out.append(addr)
    return out


def format_addr(host: str, port: int) -> str:
    """``127.0.0.1:500``, or ``[::1]:500`` for IPv6 (RFC 3986 §3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _addr(sockname: object) -> Addr:
    """(host, port) from a socket name (IPv6 names carry flow info and scope)."""
    assert isinstance(sockname, tuple)
    return (str(sockname[0]), int(sockname[1]))


class _Socket(asyncio.DatagramProtocol):
    """One bound UDP socket; passes datagrams to the driver."""

    def __init__(self, owner: UdpTransport) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None
        self.local: Addr = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.local = _addr(transport.get_extra_info("sockname"))

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.owner._received(data, self.local, _addr(addr))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for earlier sends (e.g. port unreachable): retransmission
        # timers in the engine deal with lost messages.
        logger.debug("socket %s:%d: %s", *self.local, exc)


class UdpTransport:
    """Drives one engine over UDP sockets on an asyncio event loop.

    Typical use::

        transport = UdpTransport(endpoint, bind_addresses(config))
        await transport.start()
        handle = transport.run(lambda now: endpoint.initiate("demo", now))
        event = await transport.next_event(timeout=10)
        ...
        await transport.close()

    Args:
        endpoint: the sans-IO engine.
        addresses: ``(host, port)`` pairs to bind; port 0 lets the OS choose.
        on_event: called with each engine event; without it events are queued for
            :meth:`next_event`.
    """

    def __init__(
        self,
        endpoint: EndpointLike,
        addresses: Iterable[Addr],
        *,
        on_event: Callable[[object], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.addresses = list(addresses)
        self.on_event = on_event
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._sockets: dict[Addr, _Socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.received = 0
        """Datagrams received (NAT keepalives excluded)."""
        self.sent = 0
        """Datagrams sent."""

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Bind every address.

        Raises:
            OSError: an address cannot be bound (e.g. the port is in use); the
                message names that address (``cannot bind 127.0.0.1:500: ...``);
                sockets bound so far are closed again.
        """
        self._loop = asyncio.get_running_loop()
        for addr in self.addresses:
            try:
                _, protocol = await self._loop.create_datagram_endpoint(
                    lambda: _Socket(self), local_addr=addr
                )
            except OSError as exc:
                await self.close()
                raise OSError(
                    exc.errno, f"cannot bind {format_addr(*addr)}: {exc.strerror}"
                ) from exc
            self._sockets[protocol.local] = protocol
        logger.debug(
            "listening on %s",
            ", ".join(format_addr(*addr) for addr in self.local_addresses),
        )
        self.flush()

    @property
    def local_addresses(self) -> list[Addr]:
        """The bound ``(host, port)`` pairs in bind order, ephemeral ports resolved."""
        return list(self._sockets)

    async def close(self) -> None:
        """Stop the timer and close every socket. Idempotent."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        await asyncio.sleep(0)  # let connection_lost callbacks run

    async def __aenter__(self) -> UdpTransport:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- driving the engine ----------------------------------------------------

    def now(self) -> float:
        """The engine's clock: the event loop's monotonic time."""
        assert self._loop is not None, "start() first"
        return self._loop.time()

    def run(self, action: Callable[[float], _T]) -> _T:
        """Call ``action(now)`` (e.g. ``lambda now: ep.initiate(name, now)``), then
        flush. Exceptions from ``action`` propagate to the caller."""
        try:
            return action(self.now())
        finally:
            self.flush()

    def flush(self) -> None:
        """Send queued datagrams, deliver events and re-arm the timer.

        Call it after using the endpoint directly (``send_esp``, ``delete_ike``).
        """
        if self._closed:
            return
        self._guard("collecting datagrams", self._send_pending)
        self._deliver_events()
        self._guard("reading the timer", self._arm_timer)

    async def next_event(self, timeout: float | None = None) -> object:
        """The next queued event (only without ``on_event``).

        Raises:
            TimeoutError: none arrived within ``timeout`` seconds.
        """
        return await asyncio.wait_for(self._events.get(), timeout)

    def _received(self, data: bytes, local: Addr, remote: Addr) -> None:
        if self._closed or data == NAT_KEEPALIVE:
            return
        self.received += 1
        now = self.now()
        self._guard(
            f"a datagram of {len(data)} octets from {remote[0]}:{remote[1]}",
            lambda: self.endpoint.receive_datagram(data, local, remote, now),
        )
        self.flush()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.now()
        self._guard("a timer", lambda: self.endpoint.handle_timer(now))
        self.flush()

    # -- internals ---------------------------------------------------------------

    @staticmethod
    def _guard(what: str, call: Callable[[], object]) -> None:
        """Run one engine call; log instead of raising, so the loop keeps going."""
        try:
            call()
        except PqIkeError as exc:
            logger.warning("engine rejected %s: %s", what, exc)
        except Exception:
            logger.exception("engine failed on %s", what)

    def _send_pending(self) -> None:
        for data, local, remote in self.endpoint.datagrams_to_send(self.now()):
            sock = self._socket_for(local)
            if sock is None or sock.transport is None:
                logger.warning(
                    "no socket bound to %s:%d; dropping %d octets to %s:%d",
                    *local,
                    len(data),
                    *remote,
                )
                continue
            try:
                sock.transport.sendto(data, remote)
            except Exception:  # e.g. an IPv6 peer on an IPv4 socket
                logger.exception("cannot send %d octets to %r", len(data), remote)
                continue
            self.sent += 1

    def _socket_for(self, local: Addr) -> _Socket | None:
        """The socket bound to ``local``, else a wildcard socket on the same port."""
        if local in self._sockets:
            return self._sockets[local]
        for (host, port), sock in self._sockets.items():
            if port == local[1] and host in ("0.0.0.0", "::"):
                return sock
        return None

    def _deliver_events(self) -> None:
        while True:
            try:
                event = self.endpoint.next_event()
            except Exception:
                logger.exception("engine failed while handing out an event")
                return
            if event is None:
                return
            if self.on_event is None:
                self._events.put_nowait(event)
                continue
            try:
                self.on_event(event)
            except Exception:
                logger.exception("event handler failed on %r", event)

    def _arm_timer(self) -> None:
        deadline = self.endpoint.get_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, deadline
        if deadline is not None:
            assert self._loop is not None
            self._timer = self._loop.call_at(deadline, self._on_timer)
