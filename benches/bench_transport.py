# SPDX-License-Identifier: Apache-2.0
"""The UDP driver's own cost per datagram, without the IKE engine.

Two ``UdpTransport``s on 127.0.0.1 in this process bounce datagrams through an echo
engine that answers every datagram and moves its timer later each time (as a
retransmission timer does). ``streams`` datagrams are in flight at once: with one,
every datagram costs a wake-up of the event loop; with eight, a wake-up finds several
queued. The figure to read is ``extra_info["cpu_us_per_datagram"]``: process CPU time
per datagram received and answered (a datagram's receive, the engine call, its send);
the UDP kernel work of both ends is in it.

``pytest benches`` runs each case with a few datagrams (``--benchmark-disable``);
``pytest benches/bench_transport.py --benchmark-enable`` measures ``DATAGRAMS``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pqike.transport.udp import Addr, UdpTransport

HOST = "127.0.0.1"
DATAGRAMS = 20_000
SMOKE_DATAGRAMS = 50
SIZE = 600
"""Octets per datagram (a mid-sized IKE message)."""


class _Echo:
    """Answers each datagram with itself until ``limit`` arrived; the timer moves."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.received = 0
        self.out: list[tuple[bytes, Addr, Addr]] = []
        self.timer: float | None = None
        self.done: asyncio.Future[None] | None = None

    def receive_datagram(
        self, data: bytes, local: Addr, remote: Addr, now: float
    ) -> None:
        self.received += 1
        self.timer = now + 1.0
        if self.received < self.limit:
            self.out.append((data, local, remote))
        elif self.done is not None and not self.done.done():
            self.done.set_result(None)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Addr, Addr]]:
        out, self.out = self.out, []
        return out

    def get_timer(self) -> float | None:
        return self.timer

    def handle_timer(self, now: float) -> None:
        self.timer = None

    def next_event(self) -> object | None:
        return None


async def _bounce(streams: int, datagrams: int) -> tuple[int, float]:
    """(datagrams handled by both ends, CPU seconds) for one run."""
    a, b = _Echo(datagrams // 2), _Echo(10**12)
    async with (
        UdpTransport(a, [(HOST, 0)]) as ta,
        UdpTransport(b, [(HOST, 0)]) as tb,
    ):
        a.done = asyncio.get_running_loop().create_future()
        local, remote = ta.local_addresses[0], tb.local_addresses[0]
        cpu = time.process_time()
        ta.run(lambda now: a.out.extend([(b"x" * SIZE, local, remote)] * streams))
        await asyncio.wait_for(a.done, 60)
        cpu = time.process_time() - cpu
    return a.received + b.received, cpu


@pytest.mark.parametrize("streams", [1, 8])
def test_driver_per_datagram(benchmark: Any, streams: int) -> None:
    benchmark.group = "udp driver"
    datagrams = SMOKE_DATAGRAMS if benchmark.disabled else DATAGRAMS
    handled, cpu = benchmark.pedantic(
        lambda: asyncio.run(_bounce(streams, datagrams)), rounds=1, iterations=1
    )
    benchmark.extra_info["cpu_us_per_datagram"] = round(1e6 * cpu / handled, 2)
    assert handled >= datagrams - streams
