# SPDX-License-Identifier: Apache-2.0
"""The asyncio UDP driver over real sockets on 127.0.0.1, with a fake echo engine."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from pqike.errors import DecodeError
from pqike.transport.udp import (
    Addr,
    UdpTransport,
    bind_addresses,
    bind_sockets,
    format_addr,
    kernel_drops,
    set_receive_buffer,
)

HOST = "127.0.0.1"
TIMEOUT = 5.0


@dataclass
class EchoEndpoint:
    """A sans-IO stand-in: answers ``ping…`` with ``pong…`` from the receiving
    address, raises on ``boom`` / ``bad``, and emits an event per input."""

    inbox: list[tuple[bytes, Addr, Addr, float]] = field(default_factory=list)
    outbox: list[tuple[bytes, Addr, Addr]] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    timer: float | None = None

    def receive_datagram(
        self, data: bytes, local: Addr, remote: Addr, now: float
    ) -> None:
        self.inbox.append((data, local, remote, now))
        if data == b"boom":
            raise RuntimeError("engine bug")
        if data == b"bad":
            raise DecodeError("garbage")
        if data.startswith(b"ping"):
            self.outbox.append((b"pong" + data[4:], local, remote))
        self.events.append(("got", data, local))

    def send(self, data: bytes, local: Addr, remote: Addr) -> None:
        self.outbox.append((data, local, remote))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr, Addr]]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return self.timer

    def handle_timer(self, now: float) -> None:
        self.timer = None
        self.events.append(("timer", now))

    def next_event(self) -> object | None:
        return self.events.pop(0) if self.events else None


@dataclass(frozen=True)
class _Listen:
    listen: tuple[Addr, ...]
    natt_port: int


def _run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))


async def _pair() -> tuple[EchoEndpoint, UdpTransport, EchoEndpoint, UdpTransport]:
    a, b = EchoEndpoint(), EchoEndpoint()
    ta = UdpTransport(a, [(HOST, 0), (HOST, 0)])
    tb = UdpTransport(b, [(HOST, 0), (HOST, 0)])
    await ta.start()
    await tb.start()
    return a, ta, b, tb


def test_bind_addresses_pairs_ike_and_natt_ports() -> None:
    config = _Listen(listen=((HOST, 500), ("::1", 500)), natt_port=4500)
    assert bind_addresses(config) == [
        (HOST, 500),
        (HOST, 4500),
        ("::1", 500),
        ("::1", 4500),
    ]


def test_datagrams_flow_both_ways_from_the_chosen_socket() -> None:
    async def test() -> None:
        a, ta, b, tb = await _pair()
        a_ike, a_natt = ta.local_addresses
        b_ike, b_natt = tb.local_addresses
        ta.run(lambda now: a.send(b"ping-1", a_natt, b_natt))
        event = await tb.next_event(TIMEOUT)
        assert event == ("got", b"ping-1", b_natt)
        assert b.inbox[0][2] == a_natt  # sent from A's NAT-T socket
        reply = await ta.next_event(TIMEOUT)
        assert reply == ("got", b"pong-1", a_natt)
        assert a.inbox[0][2] == b_natt  # answered from B's NAT-T socket
        ta.run(lambda now: a.send(b"ping-2", a_ike, b_ike))
        assert await tb.next_event(TIMEOUT) == ("got", b"ping-2", b_ike)
        assert await ta.next_event(TIMEOUT) == ("got", b"pong-2", a_ike)
        assert (ta.sent, ta.received, tb.sent, tb.received) == (2, 2, 2, 2)
        await ta.close()
        await tb.close()

    _run(test)


def test_clock_is_the_loop_time() -> None:
    async def test() -> None:
        a, ta, b, tb = await _pair()
        before = asyncio.get_running_loop().time()
        ta.run(lambda now: a.send(b"x", ta.local_addresses[0], tb.local_addresses[0]))
        await tb.next_event(TIMEOUT)
        assert before <= b.inbox[0][3] <= asyncio.get_running_loop().time()
        await ta.close()
        await tb.close()

    _run(test)


def test_survives_engine_exceptions_and_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        b = EchoEndpoint()
        async with UdpTransport(b, [(HOST, 0)]) as tb:
            target = tb.local_addresses[0]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.bind((HOST, 0))
                raw.setblocking(False)
                for junk in (b"boom", b"bad", b"", bytes(range(256)) * 8):
                    raw.sendto(junk, target)
                raw.sendto(b"ping-alive", target)
                loop = asyncio.get_running_loop()
                data, source = await asyncio.wait_for(
                    loop.sock_recvfrom(raw, 4096), TIMEOUT
                )
            assert data == b"pong-alive"
            assert source == target
            assert [d for d, *_ in b.inbox][-1] == b"ping-alive"

    with caplog.at_level(logging.WARNING, logger="pqike.transport.udp"):
        _run(test)
    messages = [r.getMessage() for r in caplog.records]
    assert any("engine failed on a datagram of 4 octets" in m for m in messages)
    assert any("engine rejected" in m and "garbage" in m for m in messages)


def test_nat_keepalive_is_not_given_to_the_engine() -> None:
    async def test() -> None:
        b = EchoEndpoint()
        async with UdpTransport(b, [(HOST, 0)]) as tb:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(b"\xff", tb.local_addresses[0])
                raw.sendto(b"\xff\xff", tb.local_addresses[0])
            event = await tb.next_event(TIMEOUT)
            assert event == ("got", b"\xff\xff", tb.local_addresses[0])
            assert [d for d, *_ in b.inbox] == [b"\xff\xff"]
            assert tb.received == 1

    _run(test)


def test_timer_fires_and_can_be_rearmed_or_cancelled() -> None:
    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)]) as ta:
            ta.run(lambda now: setattr(a, "timer", now + 0.05))
            assert await _timer_event(ta) >= ta.now() - 1
            ta.run(lambda now: setattr(a, "timer", now + 0.05))
            ta.run(lambda now: setattr(a, "timer", None))
            with pytest.raises(TimeoutError):
                await ta.next_event(0.2)

    _run(test)


async def _timer_event(transport: UdpTransport) -> float:
    """The time of the next event, which must be the echo engine's timer event."""
    event = await transport.next_event(TIMEOUT)
    assert isinstance(event, tuple)
    assert event[0] == "timer"
    return float(event[1])


def _set_timer(endpoint: EchoEndpoint, deadline: float) -> float:
    endpoint.timer = deadline
    return deadline


@pytest.mark.parametrize(
    ("first", "then"), [(0.05, 0.3), (30.0, 0.05)], ids=["later", "earlier"]
)
def test_timer_fires_when_the_moved_deadline_is_due(first: float, then: float) -> None:
    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)]) as ta:
            ta.run(lambda now: setattr(a, "timer", now + first))
            due = ta.run(lambda now: _set_timer(a, now + then))
            assert due <= await _timer_event(ta) < due + 5
            assert a.events == []

    _run(test)


def test_a_burst_of_queued_datagrams_is_read_in_order() -> None:
    async def test() -> None:
        a, ta, b, tb = await _pair()
        burst = [b"n%d" % i for i in range(100)]
        local, remote = ta.local_addresses[0], tb.local_addresses[0]
        # all queued on B's socket before B's loop looks at it
        ta.run(lambda now: a.outbox.extend((d, local, remote) for d in burst))
        for _ in range(200):
            if len(b.inbox) == len(burst):
                break
            await asyncio.sleep(0.01)
        assert [d for d, *_ in b.inbox] == burst
        assert (ta.sent, tb.received) == (100, 100)
        await ta.close()
        await tb.close()

    _run(test)


class _FullSocket:
    """A socket whose send buffer is always full."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def sendto(self, data: bytes, addr: Addr) -> int:
        raise BlockingIOError

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def test_a_send_that_would_block_is_dropped_and_counted() -> None:
    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)]) as ta:
            local = ta.local_addresses[0]
            bound = ta._sockets[local]
            bound.sock = _FullSocket(bound.sock)  # type: ignore[assignment]
            ta.run(lambda now: a.send(b"x", local, (HOST, 9)))
            assert (ta.sent, ta.dropped) == (0, 1)

    _run(test)


def test_unknown_local_address_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)]) as ta:
            ta.run(lambda now: a.send(b"x", ("127.0.0.9", 1), (HOST, 9)))
            assert ta.sent == 0

    with caplog.at_level(logging.WARNING, logger="pqike.transport.udp"):
        _run(test)
    assert any(
        "no socket bound to 127.0.0.9:1" in r.getMessage() for r in caplog.records
    )


def test_on_event_callback_and_its_failures(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[object] = []

    def handler(event: object) -> None:
        seen.append(event)
        raise ValueError("handler bug")

    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)], on_event=handler) as ta:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(b"one", ta.local_addresses[0])
                raw.sendto(b"two", ta.local_addresses[0])
            for _ in range(100):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="pqike.transport.udp"):
        _run(test)
    assert [e[1] for e in seen] == [b"one", b"two"]  # type: ignore[index]
    assert sum("event handler failed" in r.getMessage() for r in caplog.records) == 2


def test_bind_failure_raises_and_closes_what_was_bound() -> None:
    async def test() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind((HOST, 0))
            transport = UdpTransport(EchoEndpoint(), [(HOST, 0), taken.getsockname()])
            with pytest.raises(OSError, match="in use") as info:
                await transport.start()
            assert transport.local_addresses == []
            port = taken.getsockname()[1]
            assert info.value.errno == errno.EADDRINUSE
            assert info.value.strerror == (
                f"cannot bind {HOST}:{port}: Address already in use "
                "(the port is taken by another socket or process)"
            )

    _run(test)


def test_bind_failure_on_its_own_socket_says_so() -> None:
    async def test() -> None:
        (own,) = bind_sockets([(HOST, 0)])
        port = own.getsockname()[1]
        transport = UdpTransport(EchoEndpoint(), [(HOST, port)], sockets=[own])
        with pytest.raises(OSError, match="in use") as info:
            await transport.start()
        assert info.value.errno == errno.EADDRINUSE
        assert f"this endpoint's own socket on {HOST}:{port} holds it" in str(
            info.value
        )
        assert "another" not in str(info.value)
        assert own.fileno() == -1  # handed over, so closed with the rest

    _run(test)


def test_sockets_bound_first_hold_their_ports_until_the_transport_closes() -> None:
    async def test() -> None:
        sockets = bind_sockets([(HOST, 0), (HOST, 0)])
        ports = [sock.getsockname()[1] for sock in sockets]
        for port in ports:  # nobody can take them before the transport starts
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
                pytest.raises(OSError, match="in use"),
            ):
                other.bind((HOST, port))
        a, b = EchoEndpoint(), EchoEndpoint()
        async with (
            UdpTransport(a, sockets=sockets) as ta,
            UdpTransport(b, [(HOST, 0)]) as tb,
        ):
            assert ta.local_addresses == [(HOST, port) for port in ports]
            (b_addr,) = tb.local_addresses
            tb.run(lambda now: b.send(b"ping-x", b_addr, (HOST, ports[1])))
            assert await ta.next_event(TIMEOUT) == ("got", b"ping-x", (HOST, ports[1]))
            assert await tb.next_event(TIMEOUT) == ("got", b"pong-x", b_addr)
        assert [sock.fileno() for sock in sockets] == [-1, -1]

    _run(test)


def test_close_without_start_closes_the_sockets_handed_over() -> None:
    async def test() -> None:
        sockets = bind_sockets([(HOST, 0)])
        await UdpTransport(EchoEndpoint(), sockets=sockets).close()
        assert sockets[0].fileno() == -1

    _run(test)


def test_bind_sockets_names_what_cannot_be_bound_and_closes_the_rest() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="another socket or process") as info:
            bind_sockets([(HOST, 0), (HOST, port)])
        assert str(info.value.strerror).startswith(f"cannot bind {HOST}:{port}: ")
    with pytest.raises(OSError, match="cannot bind localhost:0: "):
        bind_sockets([("localhost", 0)])  # IP literals only: no name look-up


def test_close_is_idempotent_and_stops_delivery() -> None:
    async def test() -> None:
        a = EchoEndpoint()
        ta = UdpTransport(a, [(HOST, 0)])
        await ta.start()
        ta.run(lambda now: setattr(a, "timer", now + 0.01))
        await ta.close()
        await ta.close()
        await asyncio.sleep(0.05)
        assert a.events == []
        assert ta.local_addresses == []

    _run(test)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_loopback_and_mixed_families() -> None:
    async def test() -> None:
        a, b = EchoEndpoint(), EchoEndpoint()
        async with (
            UdpTransport(a, [("::1", 0), (HOST, 0)]) as ta,
            UdpTransport(b, [("::1", 0)]) as tb,
        ):
            a6, a4 = ta.local_addresses
            (b6,) = tb.local_addresses
            assert a6[0] == "::1"
            ta.run(lambda now: a.send(b"ping6", a6, b6))
            assert await tb.next_event(TIMEOUT) == ("got", b"ping6", b6)
            assert await ta.next_event(TIMEOUT) == ("got", b"pong6", a6)
            ta.run(lambda now: a.send(b"wrong family", a4, b6))  # logged, not raised
            ta.run(lambda now: a.send(b"ping-again", a6, b6))
            assert await tb.next_event(TIMEOUT) == ("got", b"ping-again", b6)

    _run(test)


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_sockets_are_ipv6_only() -> None:
    # With net.ipv6.bindv6only=0 (Linux's default) a "::" socket would also take
    # the IPv4 port and clash with a "0.0.0.0" socket on it; IPv6-only, it cannot
    # bind an IPv4-mapped address either.
    (sock,) = bind_sockets([("::1", 0)])
    with sock:
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1

    async def test() -> None:
        transport = UdpTransport(EchoEndpoint(), [("::ffff:127.0.0.1", 0)])
        with pytest.raises(OSError, match=r"cannot bind \[::ffff:127.0.0.1\]:0: "):
            await transport.start()
        async with UdpTransport(EchoEndpoint(), [("::1", 0), (HOST, 0)]) as both:
            assert [host for host, _ in both.local_addresses] == ["::1", HOST]

    _run(test)


def test_format_addr_brackets_ipv6() -> None:
    assert format_addr("127.0.0.1", 500) == "127.0.0.1:500"
    assert format_addr("::1", 22600) == "[::1]:22600"
    assert format_addr("2001:db8::1", 4500) == "[2001:db8::1]:4500"


needs_drop_counters = pytest.mark.skipif(
    kernel_drops([]) is None, reason="no /proc/net/udp socket table here"
)


def _rmem_max() -> int | None:
    try:
        with open("/proc/sys/net/core/rmem_max", encoding="ascii") as limit:
            return int(limit.read())
    except OSError:
        return None


@needs_drop_counters
def test_receive_drops_counts_what_a_full_receive_buffer_lost() -> None:
    # A burst larger than the socket's receive buffer, sent while the transport
    # reads nothing (this coroutine does not yield): the kernel keeps what fits
    # and drops the rest, which the engine never sees. Nothing here is timed.
    async def test() -> None:
        a = EchoEndpoint()
        async with UdpTransport(a, [(HOST, 0)], receive_buffer=4096) as ta:
            assert ta.receive_drops() == 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for _ in range(100):
                    sender.sendto(b"x" * 1300, ta.local_addresses[0])
            drops = ta.receive_drops()
            assert drops is not None
            assert 0 < drops < 100
            deadline = asyncio.get_running_loop().time() + 10
            while ta.received + drops < 100:  # the loop reads what was kept
                assert asyncio.get_running_loop().time() < deadline, ta.received
                await asyncio.sleep(0.01)
            assert ta.received + drops == 100
            assert ta.receive_drops() == drops

    _run(test)


@pytest.mark.skipif(
    (_rmem_max() or 0) < 1 << 20, reason="net.core.rmem_max below 1 MiB"
)
def test_receive_buffer_is_asked_for_on_every_socket() -> None:
    async def test() -> None:
        own = bind_sockets([(HOST, 0)], receive_buffer=1 << 20)
        assert own[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20
        transport = UdpTransport(
            EchoEndpoint(), [(HOST, 0)], sockets=own, receive_buffer=1 << 21
        )
        async with transport:
            buffers = transport.receive_buffers
            assert list(buffers) == transport.local_addresses
            assert all(size >= 1 << 21 for size in buffers.values())

    _run(test)


@pytest.mark.skipif(
    not 0 < (_rmem_max() or 0) < 1 << 28, reason="net.core.rmem_max unknown or huge"
)
def test_a_receive_buffer_the_kernel_caps_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        transport = UdpTransport(EchoEndpoint(), [(HOST, 0)], receive_buffer=1 << 30)
        with caplog.at_level(logging.WARNING, logger="pqike.transport.udp"):
            async with transport:
                (granted,) = transport.receive_buffers.values()
        assert granted < 1 << 30
        assert (
            f"receive buffer of {1 << 30} octets asked for, the kernel granted "
            f"{granted} (raise net.core.rmem_max" in caplog.text
        )

    _run(test)


def test_receive_buffer_must_be_positive() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(ValueError, match="must be > 0 octets, got 0"),
    ):
        set_receive_buffer(sock, 0)
