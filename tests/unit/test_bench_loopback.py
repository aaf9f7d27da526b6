# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.loopback: the CPU split, the CPU accounting, and a pinned run whose
processes really ran where the split put them. Speed is not checked."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from pqike.bench import loopback
from pqike.bench.loopback import (
    HANDSHAKE_TIMEOUT,
    HOST,
    MAX_CONCURRENCY,
    TIMED_OUT,
    Pinning,
    busy_shares,
    cpu_jiffies,
    receive_buffer_for,
    retransmission_times,
    run_loopback,
)
from pqike.bench.suites import CONN_NAME, configs
from pqike.crypto import Backend
from pqike.ikev2.events import ConnectionFailed, SaHandle
from pqike.transport.udp import bind_addresses, kernel_drops

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="no os.sched_getaffinity here"
)
needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning needs two usable CPUs",
)


def _usable(monkeypatch: pytest.MonkeyPatch, cpus: set[int]) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)


@needs_affinity
def test_pinning_gives_the_lowest_cpu_to_the_responder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _usable(monkeypatch, {3, 1, 2})
    assert loopback.pinning() == Pinning(responder=(1,), initiators=(2, 3))
    assert loopback.pinning(True) == Pinning(responder=(1,), initiators=(2, 3))
    assert loopback.pinning(False) is None


@needs_affinity
def test_pinning_with_one_cpu_is_off_by_default_and_refused_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _usable(monkeypatch, {0})
    assert loopback.pinning() is None
    with pytest.raises(ValueError, match="two usable CPUs"):
        loopback.pinning(True)


def test_busy_shares_per_cpu() -> None:
    before = {0: (100, 1000), 1: (500, 1000)}
    after = {0: (190, 1100), 1: (510, 1100), 2: (7, 9)}
    assert busy_shares(before, after) == {0: 0.9, 1: 0.1}


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat")
def test_cpu_jiffies_has_every_cpu() -> None:
    ticks = cpu_jiffies()
    assert set(ticks) >= set(os.sched_getaffinity(0))
    assert all(0 <= busy <= total for busy, total in ticks.values())


@needs_two_cpus
def test_pinned_run_puts_each_side_on_its_cpus() -> None:
    split = loopback.pinning(True)
    assert split is not None
    row = run_loopback("x25519", "rust", 2, 4, 10.0, pin=split).as_dict()
    assert row["failed"] == row["timed_out"] == 0
    assert row["failures"] == {}
    assert row["responder_drops"] in (0, None)
    assert row["initiator_drops"] in (0, None)
    assert row["responder_received"] <= row["initiator_sent"]
    assert row["handshakes"] == row["responder_children"] == 4
    assert row["pinned"] is True
    assert row["responder_cpus"] == list(split.responder)
    assert row["initiator_cpus"] == list(split.initiators)
    assert row["responder_cpu_ms_per_handshake"] > 0
    assert row["initiator_cpu_ms_per_handshake"] > 0
    assert row["initiator_cpu_share"] > 0
    # a run this short may end within one /proc/stat tick: then no share (None)
    assert all(0 <= share <= 1 for share in row["cpu_busy"].values())
    assert row["responder_core_busy"] is None or 0 <= row["responder_core_busy"] <= 1


@needs_affinity
def test_unpinned_run_reports_no_core_shares() -> None:
    row = run_loopback("x25519", "rust", 1, 2, 10.0, pin=False).as_dict()
    assert row["failed"] == 0
    assert row["pinned"] is False
    assert row["responder_cpus"] == sorted(os.sched_getaffinity(0))
    assert row["responder_core_busy"] is None
    assert row["initiator_cores_busy"] is None
    assert row["responder_rss_bytes_per_sa"] is None  # 2 SAs say nothing about RSS


def _held(transport: Any, ports: list[int]) -> None:
    """``ports`` are bound before ``transport`` starts (nobody else can take them
    in between), and the transport serves on exactly those."""

    async def start_and_close() -> list[tuple[str, int]]:
        await transport.start()
        try:
            return list(transport.local_addresses)
        finally:
            await transport.close()

    for port in ports:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
            pytest.raises(OSError, match="in use"),
        ):
            other.bind((HOST, port))
    assert asyncio.run(start_and_close()) == [(HOST, port) for port in ports]


def test_initiator_holds_its_ports_from_the_moment_they_are_chosen(
    rust_backend: Backend,
) -> None:
    # They used to be found free, released, and bound again at start(): in between
    # another process could take one ("cannot bind 127.0.0.1:45596").
    initiator = loopback._Initiator("x25519", "rust", (500, 4500))
    ports = [port for _, port in bind_addresses(initiator.config)]
    _held(initiator.transport, ports)


def test_responder_holds_its_ports_from_the_moment_they_are_chosen(
    rust_backend: Backend,
) -> None:
    transport, ports = loopback._responder("x25519", "rust", lambda event: None)
    assert transport.endpoint.config.listen == ((HOST, ports[0]),)
    assert transport.endpoint.config.natt_port == ports[1]
    _held(transport, list(ports))


def test_max_concurrency_is_the_bench_responders_half_open_limit() -> None:
    _, responder = configs("x25519")
    assert responder.half_open_limit == MAX_CONCURRENCY


@pytest.mark.parametrize("concurrency", [0, MAX_CONCURRENCY + 1])
def test_concurrency_out_of_range_is_refused_before_any_process_starts(
    concurrency: int,
) -> None:
    with pytest.raises(ValueError, match=f"concurrency must be 1..{MAX_CONCURRENCY}"):
        run_loopback("x25519", "rust", concurrency, 1, 1.0, pin=False)


_LOW_LIMIT = """
import resource, sys
from pqike.bench import loopback
from pqike.transport.udp import bind_sockets

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
loopback._allow_descriptors(200)
sockets = bind_sockets([("127.0.0.1", 0)] * 200)
print(len(sockets), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
if hard != resource.RLIM_INFINITY and hard < 400:
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 300))
try:
    loopback._allow_descriptors(1000)
except OSError as exc:
    print(exc)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
def test_initiator_process_raises_its_descriptor_limit_or_says_why_not() -> None:
    # Each initiator holds two sockets: 1000 of them do not fit a soft limit of 1024
    # descriptors ("Too many open files") unless the process raises it.
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LOW_LIMIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "200 264"
    if len(lines) > 1:
        assert lines[1] == (
            "[Errno 24] 1000 initiator sockets need about 1064 file descriptors in "
            "one process, but its hard limit is 300 (ulimit -Hn): spread the "
            "initiators over more processes"
        )


def test_bench_waits_for_the_engines_retransmissions() -> None:
    # The bench gave a handshake up after 10 s, before the second retransmission
    # (11.2 s): at concurrency 1000, handshakes whose first datagrams the responder's
    # full socket had dropped were counted failed while the engine was completing
    # them (the responder kept 952 SAs, the initiators counted 893).
    initiator, _ = configs("x25519+mlkem768")
    times = retransmission_times(initiator.connections[CONN_NAME])
    assert times[:3] == [4.0, 11.2, 24.16]
    assert times[2] < HANDSHAKE_TIMEOUT


@pytest.mark.skipif(kernel_drops([]) is None, reason="no /proc/net/udp socket table")
def test_responder_sockets_hold_the_first_burst_of_every_initiator(
    rust_backend: Backend,
) -> None:
    # Every initiator sends at once: its request (two fragments at most, 1.3-1.7
    # kB) reaches the responder before it has read anything. The system's default
    # receive buffer (212992 octets) kept 92 of these 2000 datagrams per socket and
    # dropped the rest, which waited for retransmissions: 485-893 of 1000 handshakes
    # completed, p99 4.4-8.2 s. Nothing reads the responder's sockets while the
    # burst is sent (no await), so what the kernel keeps does not depend on timing.
    async def burst() -> list[int] | None:
        transport, ports = loopback._responder(
            "x25519+mlkem768", "rust", lambda event: None, MAX_CONCURRENCY
        )
        await transport.start()
        try:
            granted = min(transport.receive_buffers.values())
            if granted < receive_buffer_for(MAX_CONCURRENCY):
                pytest.skip(
                    f"the kernel grants {granted} octets of receive buffer, less "
                    f"than the {receive_buffer_for(MAX_CONCURRENCY)} the bench "
                    "asks for: net.core.rmem_max is too low"
                )
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for port in ports:
                    for _ in range(2 * MAX_CONCURRENCY):
                        sender.sendto(bytes(1400), (HOST, port))
            return kernel_drops(transport.sockets)
        finally:
            await transport.close()

    assert asyncio.run(burst()) == [0, 0]


def test_a_failed_handshake_says_why(rust_backend: Backend) -> None:
    async def run() -> list[str | None]:
        initiator = loopback._Initiator("x25519", "rust", (500, 4500))
        try:
            loop = asyncio.get_running_loop()
            reasons = []
            initiator.waiter = loop.create_future()
            initiator._on_event(
                ConnectionFailed(
                    SaHandle(1), "peer not responding (retransmits exhausted)"
                )
            )
            reasons.append(await initiator.waiter)
            initiator.waiter = loop.create_future()
            initiator.started = 0.0
            initiator.expire(HANDSHAKE_TIMEOUT / 2)
            assert not initiator.waiter.done()
            initiator.expire(HANDSHAKE_TIMEOUT + 1)
            reasons.append(await initiator.waiter)
            return reasons
        finally:
            await initiator.transport.close()

    assert asyncio.run(run()) == [
        "failed: peer not responding (retransmits exhausted)",
        TIMED_OUT,
    ]
    assert (
        f"timed out: no Child SA within {HANDSHAKE_TIMEOUT:.0f} s (the bench's limit)"
    ) == TIMED_OUT
