# SPDX-License-Identifier: Apache-2.0
"""A responder on UDP 127.0.0.1 under concurrent initiators in other processes.

The orchestrator (:func:`run_loopback`) starts one responder process (an
``IkeEndpoint`` on ``UdpTransport``, ephemeral ports) and ``processes`` initiator
processes that share ``concurrency`` initiators between them. Each initiator has its
own UDP ports and keeps one handshake in flight: it builds a fresh ``IkeEndpoint``,
initiates, waits for its Child SA, and starts the next one, until the process has
done its share of ``count`` handshakes or ``duration`` seconds have passed.

The responder keeps every SA it established (nobody deletes them), so its resident
memory growth over the run divided by the SAs it holds is the memory per IKE SA with
one Child SA. Its CPU time (``time.process_time``) over the run divided by the
handshakes it completed is the CPU cost per handshake on the responder side.

With ``pin`` (the default on a machine with two or more usable CPUs) the responder
process is pinned to one CPU (``os.sched_setaffinity``) and the initiator processes
to the others, so "the responder on one core" is literal and the two sides never
compete for a core. Both sides report their CPU time (``time.process_time``) and its
share of what they could use over the run: the responder's share near 100 % means its
core was saturated; the initiators' share near 100 % means they were the limit.

Every handshake either completes or is reported with the reason it did not: the
engine's own (``ConnectionFailed``: e.g. its retransmissions ran out) or the bench's
limit of :data:`HANDSHAKE_TIMEOUT` seconds. Beside them the run reports what the
kernel dropped on the responder's and the initiators' sockets (receive buffer full:
those handshakes waited for a retransmission) and the responder's receive buffer.
The responder asks for :data:`RECEIVE_BUFFER_PER_INITIATOR` octets of it per
concurrent initiator, so that the first burst of every initiator at once fits.

Every process is started here and stopped here, by its own handle, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from pqike.bench.stats import percentile, rss_bytes, rss_per_sa
from pqike.bench.suites import CONN_NAME, configs

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "MAX_CONCURRENCY",
    "RECEIVE_BUFFER_PER_INITIATOR",
    "LoopbackResult",
    "Pinning",
    "pinning",
    "retransmission_times",
    "run_loopback",
]

HOST = "127.0.0.1"
MAX_CONCURRENCY = 1000
"""Most concurrent initiators: each keeps one handshake in flight, and beyond the
responder's ``half_open_limit`` (1000, the default) new IKE_SA_INIT requests are
dropped by design, so handshakes would time out rather than measure anything. Each
initiator also holds two UDP ports of the ephemeral range and two descriptors."""
HANDSHAKE_TIMEOUT = 30.0
"""Seconds an initiator waits for its Child SA before the bench gives the handshake
up as timed out (the engine would go on retransmitting). A lost request costs its
retransmission time: the engine's default schedule (``retransmit_timeout`` 4 s,
``retransmit_base`` 1.8) resends it 4, 11.2 and 24.2 s after the first try, so 30 s
lets one request be lost three times, or each request of a handshake once. The limit
was 10 s, shy of the second retransmission: handshakes the engine was about to
complete were counted as failed."""
TIMED_OUT = (
    f"timed out: no Child SA within {HANDSHAKE_TIMEOUT:.0f} s (the bench's limit)"
)
"""The failure reason of a handshake the bench gave up."""
RECEIVE_BUFFER_PER_INITIATOR = 8192
"""Octets of receive buffer (``SO_RCVBUF``) the responder asks for on each of its
two sockets per concurrent initiator. Each initiator has one request in flight, at
most two datagrams (an IKE_INTERMEDIATE with an ML-KEM key comes in two fragments), and
on loopback the kernel charges about 2.3 KiB of buffer for a 1.3 kB datagram. With
the system default (Linux: 212992 octets, about 90 such datagrams) the first burst
at concurrency 1,000 overflowed it: 1,700-1,850 datagrams dropped, and every
handshake that lost one waited 4 s or more for a retransmission."""
_START_TIMEOUT = 30.0


def retransmission_times(conn: Any) -> list[float]:
    """Seconds after its first try at which the engine resends an unanswered
    request of connection ``conn`` (a ``ConnectionConfig``); it gives up one
    interval after the last. Read off the engine's own retransmission timer (a
    request that is never answered, on a clock that jumps to each deadline)."""
    from pqike.ikev2.manager import Encoded, Manager

    manager = Manager(
        os.urandom,
        retransmit_timeout=conn.retransmit_timeout,
        retransmit_tries=conn.retransmit_tries,
        retransmit_base=conn.retransmit_base,
    )
    manager.start_request(0, 0, Encoded((b"",), b""), 0.0)
    times = []
    while (deadline := manager.timer()) is not None and manager.retransmit_due(
        deadline
    ):
        times.append(round(deadline, 2))
    return times


_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the responder and the initiator processes may run on."""

    responder: tuple[int, ...]
    initiators: tuple[int, ...]


def pinning(pin: bool | None = None) -> Pinning | None:
    """The CPU split for a loopback run: the responder gets the lowest CPU this
    process may use, the initiators every other one.

    Args:
        pin: True to pin, False not to, None to pin when two or more CPUs are usable.

    Returns:
        None when not pinning.

    Raises:
        ValueError: ``pin`` is True but fewer than two CPUs are usable, or the
            platform cannot pin processes.
    """
    if pin is False:
        return None
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(usable) < 2:
        if pin:
            raise ValueError(
                "pinning needs two usable CPUs and os.sched_setaffinity; "
                f"this process may use {len(usable) or 'an unknown number of'} CPU(s)"
            )
        return None
    return Pinning((usable[0],), tuple(usable[1:]))


def _affinity() -> list[int] | None:
    """The CPUs this process may run on (None where that cannot be asked)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def _pin(cpus: tuple[int, ...] | None) -> None:
    """Restrict this process to ``cpus`` (called first thing in a child process)."""
    if cpus:
        os.sched_setaffinity(0, cpus)


def cpu_jiffies() -> dict[int, tuple[int, int]]:
    """``{cpu: (busy, total)}`` clock ticks since boot from Linux ``/proc/stat``
    (busy is everything but idle and iowait, whoever ran); empty elsewhere."""
    out: dict[int, tuple[int, int]] = {}
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return out
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(f) for f in fields[:8]]  # user .. steal
            total = sum(ticks)
            out[int(name[3:])] = (total - ticks[3] - ticks[4], total)
    return out


def busy_shares(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[int, float]:
    """The share of each CPU's time that was busy between two samples."""
    out: dict[int, float] = {}
    for cpu, (busy, total) in after.items():
        busy0, total0 = before.get(cpu, (busy, total))
        if total > total0:
            out[cpu] = round((busy - busy0) / (total - total0), 3)
    return out


@dataclass
class LoopbackResult:
    """One responder run at one concurrency."""

    suite: str
    backend: str
    concurrency: int
    processes: int
    handshakes: int = 0
    """Child SAs the initiators saw established."""
    failed: int = 0
    """Handshakes that did not complete: the engine failed them or they timed out."""
    failures: dict[str, int] = field(default_factory=dict)
    """Why handshakes did not complete: the reason -> how many (adds up to
    ``failed``)."""
    timed_out: int = 0
    """Of ``failed``: given up after :data:`HANDSHAKE_TIMEOUT` while the engine was
    still waiting for an answer."""
    initiator_drops: int | None = None
    """Datagrams the kernel dropped on the initiators' sockets (receive buffer
    full); None where the system does not tell."""
    initiator_sent: int = 0
    """Datagrams the initiators sent, retransmissions included."""
    seconds: float = 0.0
    """Wall time from the first initiation to the last Child SA."""
    latencies: list[float] = field(default_factory=list, repr=False)
    responder: dict[str, Any] = field(default_factory=dict)
    pinned: Pinning | None = None
    initiator_cpu: float = 0.0
    """CPU seconds the initiator processes spent from "go" to their last handshake."""
    initiator_cpus: set[int] = field(default_factory=set)
    """The CPUs the initiator processes were allowed to run on."""
    cpu_busy: dict[int, float] = field(default_factory=dict)
    """Share of each CPU busy (with anything, ours or not) over the run."""

    @property
    def rate(self) -> float:
        return self.handshakes / self.seconds if self.seconds > 0 else float("nan")

    @property
    def initiator_cores(self) -> int:
        """Cores the initiator processes could use at most: one per process, and
        no more than they were pinned to (or than the machine has)."""
        cores = len(self.pinned.initiators) if self.pinned else os.cpu_count() or 1
        return max(1, min(self.processes, cores))

    def _busy(self, cpus: tuple[int, ...]) -> float | None:
        """Mean busy share of ``cpus`` (anyone's work), if it was sampled."""
        shares = [self.cpu_busy[c] for c in cpus if c in self.cpu_busy]
        return round(sum(shares) / len(shares), 3) if shares else None

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        established = self.responder.get("children", 0)
        live = self.responder.get("live_sas", 0)
        cpu = self.responder.get("cpu", 0.0)
        return {
            "suite": self.suite,
            "backend": self.backend,
            "concurrency": self.concurrency,
            "processes": self.processes,
            "pinned": self.pinned is not None,
            "responder_cpus": self.responder.get("cpus"),
            "initiator_cpus": sorted(self.initiator_cpus),
            "handshakes": self.handshakes,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "failures": dict(sorted(self.failures.items())),
            "handshake_timeout_s": HANDSHAKE_TIMEOUT,
            "retransmit_after_s": retransmission_times(
                configs(self.suite)[0].connections[CONN_NAME]
            ),
            "seconds": round(self.seconds, 4),
            "rate": round(self.rate, 2),
            "p50_ms": round(percentile(lat, 0.5) * 1000, 3),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 3),
            "responder_children": established,
            "responder_cpu_s": round(cpu, 4),
            "responder_cpu_ms_per_handshake": _per(1000 * cpu, established, 4),
            "responder_cpu_share": _per(cpu, self.seconds, 3),
            "initiator_cpu_s": round(self.initiator_cpu, 4),
            "initiator_cpu_ms_per_handshake": _per(
                1000 * self.initiator_cpu, self.handshakes, 4
            ),
            "initiator_cpu_share": _per(
                self.initiator_cpu, self.seconds * self.initiator_cores, 3
            ),
            "cpu_busy": {str(c): share for c, share in sorted(self.cpu_busy.items())},
            "responder_core_busy": self._busy(self.pinned.responder)
            if self.pinned
            else None,
            "initiator_cores_busy": self._busy(self.pinned.initiators)
            if self.pinned
            else None,
            "responder_receive_buffer_asked": self.responder.get("buffer_asked"),
            "responder_receive_buffer": self.responder.get("buffer"),
            "responder_drops": self.responder.get("drops"),
            "initiator_drops": self.initiator_drops,
            "initiator_sent": self.initiator_sent,
            "responder_received": self.responder.get("received"),
            "responder_sent": self.responder.get("sent"),
            "responder_live_sas": live,
            "responder_rss_bytes_per_sa": _rounded(
                rss_per_sa(self.responder.get("rss", 0), live), 1
            ),
        }


def _per(value: float, over: float, digits: int) -> float | None:
    return round(value / over, digits) if over > 0 else None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- responder process ---------------------------------------------------------------


class _Counter:
    """Counts the responder's events without keeping them."""

    def __init__(self) -> None:
        self.children = 0
        self.failed = 0

    def __call__(self, event: object) -> None:
        kind = type(event).__name__
        if kind == "ChildEstablished":
            self.children += 1
        elif kind == "ConnectionFailed":
            self.failed += 1


PROFILE_ENV = "PQIKE_BENCH_PROFILE_RESPONDER"
"""If set, the responder runs under cProfile and writes pstats to this path."""
INITIATOR_PROFILE_ENV = "PQIKE_BENCH_PROFILE_INITIATORS"
"""If set, each initiator process runs under cProfile and writes pstats to this
path with ``.<process index>`` appended."""


def _profiled(path: str | None, main: Callable[[], None]) -> None:
    """Run ``main()``, under cProfile writing to ``path`` if one is given."""
    if not path:
        main()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        main()
    finally:
        profiler.disable()
        profiler.dump_stats(path)


# -- control of the worker processes ------------------------------------------------
#
# The orchestrator owns every worker: it starts them, talks to each over its own
# pipe, and stops them (by handle) on its way out, also when SIGINT or SIGTERM ends
# the benchmark. A worker ignores SIGINT (Ctrl-C reaches the whole process group:
# the orchestrator decides) and stops quietly once its control pipe is closed, which
# the kernel also does when the orchestrator dies without cleaning up.


class _ControlClosedError(Exception):
    """The orchestrator closed this worker's control pipe, or is gone."""


def _worker_signals() -> None:
    """First thing in a worker: ignore SIGINT, then unblock it (see :func:`_start`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _tell(conn: Connection, message: tuple[str, Any]) -> None:
    """Send ``message`` to the orchestrator, unless it is no longer listening."""
    with contextlib.suppress(OSError):
        conn.send(message)


def _start(proc: Any) -> None:
    """Start a worker with SIGINT blocked: it inherits the mask and ignores SIGINT
    before it unblocks it, so a Ctrl-C while it starts cannot end it with a
    traceback; a SIGINT for this process meanwhile is delivered on return."""
    if not hasattr(signal, "pthread_sigmask"):
        proc.start()
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _responder_main(
    conn: Connection,
    suite: str,
    backend_name: str,
    cpus: tuple[int, ...] | None,
    concurrency: int = 1,
) -> None:
    _worker_signals()
    try:
        _pin(cpus)
        _profiled(
            os.environ.get(PROFILE_ENV),
            lambda: asyncio.run(_serve(conn, suite, backend_name, concurrency)),
        )
    except Exception as exc:  # reported to the orchestrator, which raises it
        _tell(conn, ("error", f"{type(exc).__name__}: {exc}"))


def _own_ports() -> tuple[list[socket.socket], tuple[int, int]]:
    """Two UDP sockets on HOST, bound now to ports the OS chose, for one side's
    (IKE, NAT-T) ports. They stay bound until the transport that takes them over
    closes them: a port found free by binding and closing a probe socket can be
    taken by someone else before it is bound again."""
    from pqike.transport.udp import bind_sockets

    sockets = bind_sockets([(HOST, 0), (HOST, 0)])
    ike, natt = (int(sock.getsockname()[1]) for sock in sockets)
    return sockets, (ike, natt)


def _transport(
    config: Any,
    backend: Any,
    sockets: list[socket.socket],
    on_event: Callable[[object], None],
) -> Any:
    """An ``IkeEndpoint`` for ``config`` on a ``UdpTransport`` that takes over
    ``sockets`` (closed here if the endpoint cannot be built)."""
    from pqike.ikev2.endpoint import IkeEndpoint
    from pqike.transport.udp import UdpTransport

    try:
        endpoint = IkeEndpoint(config, backend, os.urandom)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return UdpTransport(endpoint, sockets=sockets, on_event=on_event)


def _responder(
    suite: str,
    backend_name: str,
    on_event: Callable[[object], None],
    concurrency: int = 1,
) -> tuple[Any, tuple[int, int]]:
    """The responder's transport (not started yet) and its (IKE, NAT-T) ports; its
    sockets' receive buffers hold :data:`RECEIVE_BUFFER_PER_INITIATOR` octets per
    one of ``concurrency`` initiators, or the system default if that is more."""
    from pqike.crypto import get_backend

    sockets, ports = _own_ports()
    _grow_receive_buffers(sockets, receive_buffer_for(concurrency))
    _, config = configs(suite, host=HOST, responder_ports=ports)
    return _transport(config, get_backend(backend_name), sockets, on_event), ports


def receive_buffer_for(concurrency: int) -> int:
    """The receive buffer the responder asks for under ``concurrency`` initiators."""
    return RECEIVE_BUFFER_PER_INITIATOR * concurrency


def _grow_receive_buffers(sockets: list[socket.socket], size: int) -> None:
    """Ask for ``size`` octets of receive buffer on each socket that has less (a
    smaller request would shrink the system default)."""
    from pqike.transport.udp import set_receive_buffer

    for sock in sockets:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < size:
            set_receive_buffer(sock, size)


async def _serve(
    conn: Connection, suite: str, backend_name: str, concurrency: int = 1
) -> None:
    counter = _Counter()
    transport, ports = _responder(suite, backend_name, counter, concurrency)
    endpoint = transport.endpoint
    await transport.start()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    base: dict[str, float] = {}

    def on_control() -> None:
        try:
            control(conn.recv())
        except (EOFError, OSError):  # the orchestrator closed the pipe, or is gone
            control("stop")

    def control(command: object) -> None:
        if command == "begin":
            gc.collect()
            base.update(
                cpu=time.process_time(),
                rss=rss_bytes(),
                live=len(endpoint.sas),
                drops=transport.receive_drops() or 0,
            )
            counter.children = counter.failed = 0
            conn.send(("begun", None))
        elif command == "end":
            cpu = time.process_time() - base["cpu"]
            gc.collect()
            stats = {
                "cpu": cpu,
                "children": counter.children,
                "failed": counter.failed,
                "live_sas": len(endpoint.ike_sas()) - int(base["live"]),
                "rss": rss_bytes() - int(base["rss"]),
                "received": transport.received,
                "sent": transport.sent,
                "cpus": _affinity(),
                "buffer_asked": receive_buffer_for(concurrency),
                "buffer": min(transport.receive_buffers.values()),
                "drops": _since(transport.receive_drops(), base["drops"]),
            }
            conn.send(("stats", stats))
        elif not done.done():
            done.set_result(None)

    loop.add_reader(conn.fileno(), on_control)
    conn.send(("ready", tuple(ports)))
    try:
        await done
    finally:
        loop.remove_reader(conn.fileno())
        await transport.close()


def _since(now: int | None, before: float) -> int | None:
    """A counter's growth since ``before``; None if it cannot be read."""
    return None if now is None else now - int(before)


# -- initiator processes -------------------------------------------------------------


@dataclass
class _Budget:
    """Handshakes one initiator process may still start, and until when."""

    left: int
    deadline: float

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True)
class _Job:
    """What one initiator process is asked to do."""

    suite: str
    backend: str
    target: tuple[int, int]
    """The responder's (IKE, NAT-T) ports on HOST."""
    slots: int
    """Concurrent initiators in this process."""
    count: int
    duration: float
    index: int = 0
    """This process's number among the initiator processes."""
    cpus: tuple[int, ...] | None = None
    """CPUs to pin this process to, if any."""


def _initiator_main(conn: Connection, job: _Job) -> None:
    _worker_signals()
    try:
        _pin(job.cpus)
        path = os.environ.get(INITIATOR_PROFILE_ENV)
        out: dict[str, Any] = {}
        _profiled(
            f"{path}.{job.index}" if path else None,
            lambda: out.update(asyncio.run(_initiate(conn, job))),
        )
        _tell(conn, ("done", out))
    except _ControlClosedError:
        return  # stopped by the orchestrator, which wants no report
    except Exception as exc:
        _tell(conn, ("error", f"{type(exc).__name__}: {exc}"))


_SPARE_DESCRIPTORS = 64
"""Descriptors an initiator process needs besides its sockets (pipes, the event
loop's selector, shared libraries, stdio)."""


def _allow_descriptors(sockets: int) -> None:
    """Let this process open ``sockets`` more descriptors: raise its soft
    RLIMIT_NOFILE as far as the hard limit allows (a soft limit of 1024 is common,
    and each initiator holds two sockets).

    Raises:
        OSError: the hard limit is too low (EMFILE, naming the limit).
    """
    try:
        import resource
    except ImportError:  # not POSIX: binding says so if it runs out
        return
    needed = sockets + _SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(
            errno.EMFILE,
            f"{sockets} initiator sockets need about {needed} file descriptors in "
            f"one process, but its hard limit is {hard} (ulimit -Hn): spread the "
            "initiators over more processes",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def _initiate(conn: Connection, job: _Job) -> dict[str, Any]:
    _allow_descriptors(2 * job.slots)
    initiators = [
        _Initiator(job.suite, job.backend, job.target) for _ in range(job.slots)
    ]
    watchdog: asyncio.Task[None] | None = None
    try:
        for initiator in initiators:
            await initiator.start()
        conn.send(("ready", None))
        try:
            conn.recv()  # "go": every process starts at once
        except EOFError:
            raise _ControlClosedError from None
        cpu = time.process_time()
        budget = _Budget(job.count, time.monotonic() + job.duration)
        result: dict[str, Any] = {
            "latencies": [],
            "failures": Counter(),
            "timed_out": 0,
            "first": None,
            "last": None,
        }
        watchdog = asyncio.ensure_future(_watch(initiators))
        await _until_closed(
            conn, asyncio.gather(*(i.run(budget, result) for i in initiators))
        )
        result["cpu"] = time.process_time() - cpu
        result["cpus"] = _affinity()
        result["sent"] = sum(i.transport.sent for i in initiators)
        result["drops"] = _initiator_drops(initiators)
        return result
    finally:
        if watchdog is not None:
            watchdog.cancel()
        for initiator in initiators:
            await initiator.transport.close()


def _initiator_drops(initiators: list[_Initiator]) -> int | None:
    """What the kernel dropped on every initiator socket of this process (one read
    of the socket tables for all of them)."""
    from pqike.transport.udp import kernel_drops

    drops = kernel_drops([s for i in initiators for s in i.transport.sockets])
    return None if drops is None else sum(drops)


async def _until_closed(conn: Connection, runs: asyncio.Future[Any]) -> None:
    """Await ``runs``, or cancel it when the control pipe becomes readable: the
    orchestrator sends nothing during a run, so that is its end of the pipe closing.

    Raises:
        _ControlClosedError: the pipe was closed first.
    """
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not closed.done():
            closed.set_result(None)

    loop.add_reader(conn.fileno(), readable)
    try:
        await asyncio.wait({runs, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_reader(conn.fileno())
    if not runs.done():
        runs.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runs
        raise _ControlClosedError
    runs.result()


async def _watch(initiators: list[_Initiator]) -> None:
    """Give up handshakes older than ``HANDSHAKE_TIMEOUT``: one wake-up a second for
    the whole process instead of a timeout handle per handshake."""
    while True:
        await asyncio.sleep(1.0)
        now = time.monotonic()
        for initiator in initiators:
            initiator.expire(now)


class _Initiator:
    """One initiator: its own ports, one handshake at a time, a fresh endpoint each
    time (a real client holds one SA, not every SA this process set up so far)."""

    def __init__(self, suite: str, backend_name: str, target: tuple[int, int]) -> None:
        from pqike.crypto import get_backend
        from pqike.ikev2.endpoint import IkeEndpoint

        self.backend = get_backend(backend_name)
        sockets, ports = _own_ports()
        self.config, _ = configs(
            suite, host=HOST, responder_ports=target, initiator_ports=ports
        )
        self.endpoint_class = IkeEndpoint
        self.waiter: asyncio.Future[str | None] | None = None
        """Done with None once the Child SA is up, else with why it is not."""
        self.started = 0.0
        self.transport = _transport(self.config, self.backend, sockets, self._on_event)

    async def start(self) -> None:
        await self.transport.start()

    def _on_event(self, event: object) -> None:
        kind = type(event).__name__
        if self.waiter is not None and not self.waiter.done() and kind in _FINAL:
            if kind == "ChildEstablished":
                self.waiter.set_result(None)
            else:
                reason = getattr(event, "reason", "") or "no reason given"
                self.waiter.set_result(f"{_FINAL[kind]}: {reason}")

    def expire(self, now: float) -> None:
        """Give the handshake in flight up if it is older than the limit."""
        waiter = self.waiter
        late = now - self.started > HANDSHAKE_TIMEOUT
        if late and waiter is not None and not waiter.done():
            waiter.set_result(TIMED_OUT)

    async def run(self, budget: _Budget, result: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        while budget.take():
            endpoint = self.endpoint_class(self.config, self.backend, os.urandom)
            self.transport.endpoint = endpoint
            self.waiter = waiter = loop.create_future()
            started = self.started = time.monotonic()
            result["first"] = min(result["first"] or started, started)
            self.transport.run(partial(_initiate_one, endpoint))
            failure = await waiter
            finished = time.monotonic()
            if failure is None:
                result["latencies"].append(finished - started)
                result["last"] = max(result["last"] or finished, finished)
            else:
                result["failures"][failure] += 1
                result["timed_out"] += failure == TIMED_OUT


def _initiate_one(endpoint: Any, now: float) -> None:
    endpoint.initiate(CONN_NAME, now)


_FINAL = {
    "ChildEstablished": "",
    "ConnectionFailed": "failed",
    "IkeDeleted": "IKE SA deleted",
}
"""The events that end a handshake, and how a failure reason starts."""


# -- orchestrator --------------------------------------------------------------------


def _expect(conn: Connection, what: str, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no {what!r} from a benchmark process in {timeout:.0f} s")
    kind, value = conn.recv()
    if kind == "error":
        raise RuntimeError(f"benchmark process failed: {value}")
    if kind != what:
        raise RuntimeError(f"benchmark process sent {kind!r}, expected {what!r}")
    return value


def _share(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def run_loopback(
    suite: str,
    backend: str,
    concurrency: int,
    count: int,
    duration: float,
    processes: int = 1,
    progress: Callable[[float], None] | None = None,
    pin: Pinning | bool | None = None,
) -> LoopbackResult:
    """Run one responder under ``concurrency`` initiators spread over
    ``processes`` processes; at most ``count`` handshakes or ``duration`` s.

    ``pin``: a CPU split, or True/False/None for :func:`pinning` (None: pin when
    two or more CPUs are usable).

    Raises:
        RuntimeError: a benchmark process failed or stopped answering.
        TimeoutError: a benchmark process did not start or finish in time.
        ValueError: ``pin`` is True but this machine cannot pin, or
            ``concurrency`` is not 1..:data:`MAX_CONCURRENCY`.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    pinned = pin if isinstance(pin, Pinning) else pinning(pin)
    ctx = multiprocessing.get_context("spawn")
    processes = max(1, min(processes, concurrency))
    result = LoopbackResult(suite, backend, concurrency, processes, pinned=pinned)
    r_conn, r_child = ctx.Pipe()
    responder = ctx.Process(
        target=_responder_main,
        args=(
            r_child,
            suite,
            backend,
            pinned.responder if pinned else None,
            concurrency,
        ),
        daemon=True,
    )
    workers: list[tuple[Any, Connection]] = []
    try:
        _start(responder)
        r_child.close()  # the child has its own copy now
        target = _expect(r_conn, "ready", _START_TIMEOUT)
        r_conn.send("begin")
        _expect(r_conn, "begun", _START_TIMEOUT)
        counts = _share(max(count, concurrency), processes)
        slots = _share(concurrency, processes)
        for index, (n, share) in enumerate(zip(slots, counts, strict=True)):
            parent, child = ctx.Pipe()
            job = _Job(suite, backend, tuple(target), n, share, duration, index)
            if pinned:
                job = replace(job, cpus=pinned.initiators)
            proc = ctx.Process(target=_initiator_main, args=(child, job), daemon=True)
            workers.append((proc, parent))
            _start(proc)
            child.close()
        for _, conn in workers:
            _expect(conn, "ready", _START_TIMEOUT)
        jiffies = cpu_jiffies()
        for _, conn in workers:
            conn.send("go")
        _log.info(
            "loopback x%d: responder process %d, initiator processes %s running",
            concurrency,
            responder.pid,
            ", ".join(str(proc.pid) for proc, _ in workers),
        )
        _collect(result, workers, duration, progress)
        result.cpu_busy = busy_shares(jiffies, cpu_jiffies())
        r_conn.send("end")
        result.responder = _expect(r_conn, "stats", _START_TIMEOUT)
        r_conn.send("stop")
        responder.join(_START_TIMEOUT)
    finally:
        # Closed pipes stop the workers still running (a signal, an error); then
        # each is waited for, and terminated or killed if it does not exit.
        for conn in (r_conn, *(conn for _, conn in workers)):
            conn.close()
        for proc, _ in workers:
            _stop(proc)
        _stop(responder)
    return result


def _collect(
    result: LoopbackResult,
    workers: list[tuple[Any, Connection]],
    duration: float,
    progress: Callable[[float], None] | None,
) -> None:
    deadline = time.monotonic() + duration + _START_TIMEOUT + HANDSHAKE_TIMEOUT
    first, last = [], []
    pending = list(workers)
    while pending:
        _, conn = pending[0]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("initiator processes did not finish in time")
        if not conn.poll(min(left, 0.25)):
            if progress is not None:
                progress(time.monotonic())
            continue
        value = _expect(conn, "done", 0)
        pending.pop(0)
        result.latencies += value["latencies"]
        for reason, n in value["failures"].items():
            result.failures[reason] = result.failures.get(reason, 0) + n
        result.timed_out += value["timed_out"]
        result.initiator_sent += value["sent"]
        if value["drops"] is not None:
            result.initiator_drops = (result.initiator_drops or 0) + value["drops"]
        result.initiator_cpu += value["cpu"]
        result.initiator_cpus.update(value["cpus"] or ())
        if value["first"] is not None and value["last"] is not None:
            first.append(value["first"])
            last.append(value["last"])
    result.handshakes = len(result.latencies)
    result.failed = sum(result.failures.values())
    if first:
        result.seconds = max(last) - min(first)


def _stop(proc: Any) -> None:
    """Stop one process we started (by its handle), waiting a little."""
    if proc.pid is None:  # never started
        return
    proc.join(2.0)
    if proc.is_alive():
        proc.terminate()
        proc.join(2.0)
    if proc.is_alive():
        proc.kill()
        proc.join(2.0)
