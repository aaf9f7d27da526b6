# SPDX-License-Identifier: Apache-2.0
"""asyncio UDP driver for the sans-IO engine.

The driver owns the sockets and the clock, nothing else. For every received datagram it
calls ``endpoint.receive_datagram(payload, local, remote, loop.time())`` with the UDP
payload exactly as received (on the NAT-T port that is either the non-ESP marker and an
IKE message, or an ESP packet: the engine tells them apart). After every input it
*flushes*: sends each of ``endpoint.datagrams_to_send(now)`` from the socket bound to
the datagram's local address (so the engine picks port 500 or 4500), hands each of
``endpoint.next_event()`` to the event sink, and makes sure its one timer fires by
``endpoint.get_timer()``.

Per-datagram cost matters on a busy responder (and on benchmark initiators), so the
driver is lean:

- Each socket is a non-blocking socket watched with ``loop.add_reader``; one wake-up
  reads up to ``_BATCH`` queued datagrams, so a busy socket costs one poll per batch
  rather than one per datagram.
- Datagrams are sent with ``socket.sendto`` directly. A send that would block (the
  socket's send buffer is full) is dropped like a datagram lost on the way and counted
  in ``dropped``; the engine's retransmissions cover it, as for any UDP loss.
- The timer handle is replaced only when the engine's deadline moves *earlier*. When
  it moves later or goes away, the armed handle stays; when it fires before the
  current deadline it is re-armed instead of calling ``handle_timer``. So
  ``handle_timer`` runs exactly when a deadline is due, without a ``call_at`` and a
  cancellation for every request a client sends.

Failures never stop the driver: an exception from the engine while it handles one
datagram or a timer is logged and the next datagram is handled as usual.

IPv6 sockets are IPv6-only (``IPV6_V6ONLY``), whatever ``net.ipv6.bindv6only`` says:
``::`` and ``0.0.0.0`` on one port are two sockets, one per family, and ``::`` alone
does not receive IPv4 datagrams (as IPv4-mapped ``::ffff:a.b.c.d`` peers).

LIMITATION: sockets bound to a wildcard address (``0.0.0.0``, ``::``) report that
wildcard as the local address, because the driver does not read IP_PKTINFO; bind
concrete addresses when NAT detection must see the real one.

Bursts: the kernel queues datagrams for a socket up to its receive buffer
(``SO_RCVBUF``; Linux's default ``net.core.rmem_default`` is 212992 octets, on
loopback about 90 datagrams of 1.3 kB) and drops the rest. A responder that many
initiators reach at once (1,000 IKE_SA_INIT requests, then their IKE_INTERMEDIATE
or IKE_AUTH requests) loses what does not fit, and those handshakes wait for the
initiators' retransmissions (4 s by default). ``receive_buffer=`` (the config's
``receive_buffer``) asks for a larger buffer; :attr:`UdpTransport.receive_buffers`
tells what the kernel granted and :meth:`UdpTransport.receive_drops` how many
datagrams it dropped.

LIMITATION: the kernel caps ``receive_buffer`` at ``net.core.rmem_max`` (Linux
doubles the value asked for, for its bookkeeping, so the granted size is at most
twice ``rmem_max``); only the administrator can raise that limit.

LIMITATION: ``loop.add_reader`` needs a selector event loop (asyncio's default on Linux
and macOS); Windows' default proactor loop cannot run the driver.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from pqike.errors import PqIkeError

__all__ = [
    "NAT_KEEPALIVE",
    "Addr",
    "EndpointLike",
    "UdpTransport",
    "bind_addresses",
    "bind_sockets",
    "format_addr",
    "kernel_drops",
    "set_receive_buffer",
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


_BATCH = 16
"""Datagrams read from one socket per wake-up at most (fairness with the other
sockets and the timer)."""
_MAX_DATAGRAM = 65536


class _Socket:
    """One bound non-blocking UDP socket; passes datagrams to the driver."""

    def __init__(self, owner: UdpTransport, sock: socket.socket) -> None:
        self.owner = owner
        self.sock = sock
        self.local: Addr = _addr(sock.getsockname())

    def read_ready(self) -> None:
        recvfrom, owner, local = self.sock.recvfrom, self.owner, self.local
        for _ in range(_BATCH):
            if owner._closed:
                return
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # ICMP errors for earlier sends (e.g. port unreachable): retransmission
                # timers in the engine deal with lost messages.
                logger.debug("socket %s:%d: %s", *local, exc)
                continue
            # IPv6 names carry flow info and scope; IPv4 ones are (str, int) already.
            owner._received(data, local, addr if len(addr) == 2 else _addr(addr))

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.sock.fileno())
        self.sock.close()


class UdpTransport:
    """Drives one engine over UDP sockets on an asyncio event loop.

    Typical use::

        transport = UdpTransport(endpoint, bind_addresses(config))
        await transport.start()
        handle = transport.run(lambda now: endpoint.initiate("demo", now))
        event = await transport.next_event(timeout=10)
        ...
        await transport.close()

    When the ports must be known before the endpoint is built (port 0, the OS
    chooses), bind first and hand the sockets over, so that nobody can take a port
    between choosing it and using it::

        sockets = bind_sockets([("127.0.0.1", 0), ("127.0.0.1", 0)])
        ports = [sock.getsockname()[1] for sock in sockets]
        ...  # a config with those ports, its endpoint
        transport = UdpTransport(endpoint, sockets=sockets)

    Args:
        endpoint: the sans-IO engine.
        addresses: ``(host, port)`` pairs to bind; port 0 lets the OS choose.
        sockets: bound UDP sockets (from :func:`bind_sockets`) the transport takes
            over and closes; they come first in :attr:`local_addresses`.
        on_event: called with each engine event; without it events are queued for
            :meth:`next_event`.
        receive_buffer: ``SO_RCVBUF`` in octets to ask for on every socket (those
            bound here and those handed over); None or 0 keeps the system default.
            See :func:`set_receive_buffer`.
    """

    def __init__(
        self,
        endpoint: EndpointLike,
        addresses: Iterable[Addr] = (),
        *,
        sockets: Iterable[socket.socket] = (),
        on_event: Callable[[object], None] | None = None,
        receive_buffer: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.receive_buffer = receive_buffer
        self.addresses = list(addresses)
        self._adopted = list(sockets)
        """Sockets handed over and not yet watched (closed by :meth:`close`)."""
        self.on_event = on_event
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._sockets: dict[Addr, _Socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        """When the armed ``_timer`` fires (meaningful while it is armed)."""
        self._deadline: float | None = None
        """The engine's deadline as read at the last flush."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.received = 0
        """Datagrams received (NAT keepalives excluded)."""
        self.sent = 0
        """Datagrams sent."""
        self.dropped = 0
        """Datagrams not sent because the socket's send buffer was full."""

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Watch the sockets handed over, and bind every address.

        Raises:
            OSError: an address cannot be bound (e.g. the port is in use); the
                message names that address (``cannot bind 127.0.0.1:500: ...``)
                and, for a port in use, says whether a socket of this transport
                holds it; every socket (bound or handed over) is closed again.
        """
        self._loop = loop = asyncio.get_running_loop()
        while self._adopted:
            self._watch(self._adopted.pop(0))
        for addr in self.addresses:
            try:
                sock = await _bind(loop, addr)
            except OSError as exc:
                error = _bind_error(addr, exc, self.local_addresses)
                await self.close()
                raise error from exc
            self._watch(sock)
        logger.debug(
            "listening on %s",
            ", ".join(format_addr(*addr) for addr in self.local_addresses),
        )
        self.flush()

    def _watch(self, sock: socket.socket) -> None:
        assert self._loop is not None
        bound = _Socket(self, sock)
        if self.receive_buffer:
            granted = set_receive_buffer(sock, self.receive_buffer)
            if granted < self.receive_buffer:
                # LIMITATION: the kernel caps SO_RCVBUF at net.core.rmem_max.
                logger.warning(
                    "socket %s: receive buffer of %d octets asked for, the kernel "
                    "granted %d (raise net.core.rmem_max to allow more)",
                    format_addr(*bound.local),
                    self.receive_buffer,
                    granted,
                )
        self._sockets[bound.local] = bound
        self._loop.add_reader(sock.fileno(), bound.read_ready)

    @property
    def local_addresses(self) -> list[Addr]:
        """The bound ``(host, port)`` pairs in bind order, ephemeral ports resolved."""
        return list(self._sockets)

    @property
    def sockets(self) -> list[socket.socket]:
        """The watched sockets in bind order (to read options or counters; the
        transport reads and writes them)."""
        return [sock.sock for sock in self._sockets.values()]

    @property
    def receive_buffers(self) -> dict[Addr, int]:
        """Each socket's receive buffer in octets as the kernel granted it
        (``getsockopt(SO_RCVBUF)``; on Linux twice what was asked for, capped)."""
        return {
            addr: sock.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            for addr, sock in self._sockets.items()
        }

    def receive_drops(self) -> int | None:
        """Datagrams the kernel dropped on this transport's sockets since they were
        opened, because the receive buffer was full (or the checksum was bad): they
        never reached the engine. None where the system does not tell (see
        :func:`kernel_drops`)."""
        drops = kernel_drops(self.sockets)
        return None if drops is None else sum(drops)

    async def close(self) -> None:
        """Stop the timer and close every socket. Idempotent."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = self._loop or asyncio.get_running_loop()
        for sock in self._sockets.values():
            sock.close(loop)
        self._sockets.clear()
        for unwatched in self._adopted:
            unwatched.close()
        self._adopted.clear()
        await asyncio.sleep(0)

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
        self._guard("collecting datagrams", (), self._send_pending)
        self._deliver_events()
        self._guard("reading the timer", (), self._arm_timer)

    async def next_event(self, timeout: float | None = None) -> object:
        """The next queued event (only without ``on_event``).

        Raises:
            TimeoutError: none arrived within ``timeout`` seconds.
        """
        return await asyncio.wait_for(self._events.get(), timeout)

    def _received(self, data: bytes, local: Addr, remote: Addr) -> None:
        if data == NAT_KEEPALIVE:
            return
        self.received += 1
        assert self._loop is not None
        self._guard(
            "a datagram of %d octets from %s:%d",
            (len(data), remote[0], remote[1]),
            self.endpoint.receive_datagram,
            data,
            local,
            remote,
            self._loop.time(),
        )
        self.flush()

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is not None and deadline <= self._timer_at:
            # due (the loop may fire a hair before _timer_at: its clock resolution)
            self._guard("a timer", (), self.endpoint.handle_timer, self.now())
        # else the deadline moved later or went away since this handle was armed
        self.flush()

    # -- internals ---------------------------------------------------------------

    @staticmethod
    def _guard(
        what: str,
        what_args: tuple[object, ...],
        call: Callable[..., object],
        *args: object,
    ) -> None:
        """Run one engine call; log instead of raising, so the loop keeps going.

        ``what % what_args`` names the input in the log; it is only formatted if a
        message is logged.
        """
        try:
            call(*args)
        except PqIkeError as exc:
            logger.warning("engine rejected " + what + ": %s", *what_args, exc)
        except Exception:
            logger.exception("engine failed on " + what, *what_args)

    def _send_pending(self) -> None:
        assert self._loop is not None
        for data, local, remote in self.endpoint.datagrams_to_send(self._loop.time()):
            sock = self._sockets.get(local) or self._wildcard_for(local)
            if sock is None:
                logger.warning(
                    "no socket bound to %s:%d; dropping %d octets to %s:%d",
                    *local,
                    len(data),
                    *remote,
                )
                continue
            try:
                sock.sock.sendto(data, remote)
            except (BlockingIOError, InterruptedError):
                self.dropped += 1
                logger.debug("send buffer full; dropped %d octets", len(data))
                continue
            except Exception:  # e.g. an IPv6 peer on an IPv4 socket
                logger.exception("cannot send %d octets to %r", len(data), remote)
                continue
            self.sent += 1

    def _wildcard_for(self, local: Addr) -> _Socket | None:
        """The wildcard socket of ``local``'s family on its port (no exact match was
        bound)."""
        return self._sockets.get((_WILDCARD[":" in local[0]], local[1]))

    def _deliver_events(self) -> None:
        next_event, on_event = self.endpoint.next_event, self.on_event
        while True:
            try:
                event = next_event()
            except Exception:
                logger.exception("engine failed while handing out an event")
                return
            if event is None:
                return
            if on_event is None:
                self._events.put_nowait(event)
                continue
            try:
                on_event(event)
            except Exception:
                logger.exception("event handler failed on %r", event)

    def _arm_timer(self) -> None:
        """Make sure a handle fires by the engine's deadline; replace the armed one
        only if the deadline moved earlier (see the module docstring)."""
        self._deadline = deadline = self.endpoint.get_timer()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return
            timer.cancel()
        assert self._loop is not None
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)


_WILDCARD = {False: "0.0.0.0", True: "::"}
"""The wildcard address of IPv4 (False) and IPv6 (True)."""


def set_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a receive buffer (``SO_RCVBUF``) of ``size`` octets on ``sock``;
    return what the kernel granted (Linux doubles the request for its bookkeeping
    and caps it at twice ``net.core.rmem_max``; see the module docstring).

    Raises:
        ValueError: ``size`` is not positive.
    """
    if size <= 0:
        raise ValueError(f"receive buffer must be > 0 octets, got {size}")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


_PROC_UDP = ("/proc/net/udp", "/proc/net/udp6")


def kernel_drops(sockets: Sequence[socket.socket]) -> list[int] | None:
    """For each of ``sockets``, the datagrams the kernel dropped on it since it was
    opened (receive buffer full, bad checksum): Linux's ``drops`` column of
    ``/proc/net/udp`` and ``/proc/net/udp6``, found by the socket's inode.

    It reads the tables once, without touching the sockets (no cost per datagram).
    None where there is no such table (not Linux); 0 for a socket not listed.
    """
    inodes = {os.fstat(sock.fileno()).st_ino: i for i, sock in enumerate(sockets)}
    out = [0] * len(sockets)
    found = False
    for path in _PROC_UDP:
        try:
            with open(path, encoding="ascii") as table:
                lines = table.read().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            fields = line.split()
            # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops
            if len(fields) >= 13 and (index := inodes.get(int(fields[9]))) is not None:
                out[index] = int(fields[12])
    return out if found else None


def bind_sockets(
    addresses: Iterable[Addr], *, receive_buffer: int | None = None
) -> list[socket.socket]:
    """Non-blocking UDP sockets bound to ``addresses`` (IP literals; port 0 lets the
    OS choose), now, for a :class:`UdpTransport` to take over with ``sockets=``.
    ``receive_buffer``: ``SO_RCVBUF`` to ask for (:func:`set_receive_buffer`); None
    or 0 keeps the system default.

    Raises:
        OSError: an address is not an IP literal or cannot be bound; the message
            names it as :meth:`UdpTransport.start` does. The sockets bound so far
            are closed again.
    """
    out: list[socket.socket] = []
    try:
        for addr in addresses:
            try:
                infos = socket.getaddrinfo(
                    *addr, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
                )
                out.append(_open(infos[0]))
                if receive_buffer:
                    set_receive_buffer(out[-1], receive_buffer)
            except OSError as exc:
                bound = [_addr(sock.getsockname()) for sock in out]
                raise _bind_error(addr, exc, bound) from exc
    except BaseException:
        for sock in out:
            sock.close()
        raise
    return out


async def _bind(loop: asyncio.AbstractEventLoop, addr: Addr) -> socket.socket:
    """A non-blocking UDP socket bound to ``addr``.

    Raises:
        OSError: the address does not resolve or cannot be bound.
    """
    return _open((await loop.getaddrinfo(*addr, type=socket.SOCK_DGRAM))[0])


def _open(
    info: tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]],
) -> socket.socket:
    """A non-blocking UDP socket bound as one ``getaddrinfo`` result says; IPv6
    sockets IPv6-only (see the module docstring)."""
    family, kind, proto, _, sockaddr = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            # Otherwise, with net.ipv6.bindv6only=0 (Linux's default), "::" takes
            # the IPv4 port too and clashes with a "0.0.0.0" socket on it.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_error(addr: Addr, exc: OSError, bound: Iterable[Addr]) -> OSError:
    """The OSError that names the address that cannot be bound, and for a port in
    use who may hold it: one of ``bound`` (this transport's own sockets) if one
    overlaps ``addr``, else another socket or process (a port taken by another
    socket of this process looks the same as one of another process). Port 0 "in
    use" means that no ephemeral port is left."""
    text = f"cannot bind {format_addr(*addr)}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        own = [b for b in bound if _overlap(b, addr)]
        if addr[1] == 0:
            text += (
                " (no free port left for the OS to choose: the ephemeral range, "
                "net.ipv4.ip_local_port_range on Linux, is used up)"
            )
        elif own:
            text += (
                f" (this endpoint's own socket on {format_addr(*own[0])} holds it: "
                "bind each address once, and per family either the wildcard "
                "address or concrete ones)"
            )
        else:
            text += " (the port is taken by another socket or process)"
    return OSError(exc.errno, text)


def _overlap(a: Addr, b: Addr) -> bool:
    """Whether sockets bound to ``a`` and ``b`` would share a port: same port and
    family, and the same host or a wildcard on either side."""
    try:
        ip_a, ip_b = ipaddress.ip_address(a[0]), ipaddress.ip_address(b[0])
    except ValueError:  # host names: no opinion
        return False
    if a[1] != b[1] or ip_a.version != ip_b.version:
        return False
    return ip_a == ip_b or ip_a.is_unspecified or ip_b.is_unspecified
