# SPDX-License-Identifier: Apache-2.0
"""Handshakes with both endpoints in one process and no sockets.

:func:`handshake` builds an initiator and a responder ``IkeEndpoint`` and passes each
datagram from one to the other in memory (the clock stands still: nothing is lost, so
no timer is due) until both report the Child SA: IKE_SA_INIT, the IKE_INTERMEDIATE
rounds, IKE_AUTH with the first Child SA.

:func:`measure_handshakes` times many such handshakes; :func:`measure_crypto_only`
times the replay of one handshake's crypto calls (:mod:`pqike.bench.trace`), so that
the two rates can be compared; :func:`measure_memory` keeps established SAs alive in
one responder and reports what each costs.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pqike.bench.stats import Timing, rss_bytes, rss_per_sa
from pqike.bench.suites import CONN_NAME, configs
from pqike.bench.trace import CryptoTrace, RecordingBackend
from pqike.config import EndpointConfig
from pqike.crypto import Backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import ChildEstablished, ConnectionFailed, ExchangeCompleted

__all__ = [
    "HandshakeFailedError",
    "MemoryResult",
    "Pair",
    "handshake",
    "measure_crypto_only",
    "measure_handshakes",
    "measure_loaded_responder",
    "measure_memory",
    "record_trace",
]

_I_PORTS, _R_PORTS = (1500, 14500), (500, 4500)
_MAX_ROUNDS = 64


class HandshakeFailedError(RuntimeError):
    """A benchmark handshake did not establish its Child SA on both ends."""


@dataclass
class Pair:
    """The two configurations of one suite, ready to build endpoints from."""

    suite: str
    initiator: EndpointConfig
    responder: EndpointConfig

    @classmethod
    def for_suite(cls, suite: str) -> Pair:
        i_cfg, r_cfg = configs(
            suite, responder_ports=_R_PORTS, initiator_ports=_I_PORTS
        )
        return cls(suite, i_cfg, r_cfg)


@dataclass
class Outcome:
    """What one in-memory handshake produced."""

    children: int = 0
    """ChildEstablished events on both ends together (2 when it worked)."""
    failures: list[str] = field(default_factory=list)
    exchanges: list[tuple[str, int, int]] = field(default_factory=list)
    """(exchange, request octets, response octets), as the initiator saw them."""


def _drain(ep: IkeEndpoint, outcome: Outcome) -> None:
    while (event := ep.next_event()) is not None:
        if isinstance(event, ChildEstablished):
            outcome.children += 1
        elif isinstance(event, ConnectionFailed):
            outcome.failures.append(event.reason)
        elif isinstance(event, ExchangeCompleted) and event.is_initiator:
            outcome.exchanges.append(
                (event.exchange, event.request_size, event.response_size)
            )


def pump(initiator: IkeEndpoint, responder: IkeEndpoint, now: float = 0.0) -> None:
    """Move datagrams both ways until neither endpoint has anything to send."""
    for _ in range(_MAX_ROUNDS):
        moved = False
        for sender, receiver in ((initiator, responder), (responder, initiator)):
            for data, local, remote in sender.datagrams_to_send(now):
                receiver.receive_datagram(data, remote, local, now)
                moved = True
        if not moved:
            return


def handshake(
    pair: Pair,
    backend: Backend,
    rng: Callable[[int], bytes] = os.urandom,
    responder: IkeEndpoint | None = None,
) -> Outcome:
    """One full handshake between fresh endpoints (or into ``responder``)."""
    initiator = IkeEndpoint(pair.initiator, backend, rng)
    if responder is None:
        responder = IkeEndpoint(pair.responder, backend, rng)
    initiator.initiate(CONN_NAME, 0.0)
    pump(initiator, responder)
    outcome = Outcome()
    _drain(initiator, outcome)
    _drain(responder, outcome)
    return outcome


def _checked(outcome: Outcome, suite: str) -> Outcome:
    if outcome.children != 2 or outcome.failures:
        reasons = "; ".join(outcome.failures) or "no Child SA on both ends"
        raise HandshakeFailedError(f"{suite}: handshake failed: {reasons}")
    return outcome


def _repeat(
    one_round: Callable[[], float],
    count: int,
    duration: float | None,
    progress: Callable[[int], None] | None,
) -> Timing:
    """Call ``one_round`` (it returns the seconds it timed) ``count`` times, or
    fewer once ``duration`` seconds have passed (always at least once)."""
    deadline = None if duration is None else time.perf_counter() + duration
    timing = Timing()
    for n in range(count):
        if n and deadline is not None and time.perf_counter() >= deadline:
            break
        timing.add(one_round())
        if progress is not None:
            progress(n + 1)
    return timing


def _timed_handshake(
    pair: Pair, backend: Backend, responder: IkeEndpoint | None
) -> float:
    """Seconds one handshake takes, endpoints built beforehand (``responder``
    None: a fresh one too); raises HandshakeFailedError if it did not establish."""
    initiator = IkeEndpoint(pair.initiator, backend, os.urandom)
    if responder is None:
        responder = IkeEndpoint(pair.responder, backend, os.urandom)
    start = time.perf_counter()
    initiator.initiate(CONN_NAME, 0.0)
    pump(initiator, responder)
    elapsed = time.perf_counter() - start
    outcome = Outcome()
    _drain(initiator, outcome)
    _drain(responder, outcome)
    _checked(outcome, pair.suite)
    return elapsed


def measure_handshakes(
    pair: Pair,
    backend: Backend,
    count: int,
    duration: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Timing:
    """Time ``count`` handshakes (fewer if ``duration`` runs out), each between
    fresh endpoints; building the endpoints is not timed.

    Raises:
        HandshakeFailedError: any handshake did not establish.
    """
    _checked(handshake(pair, backend), pair.suite)  # warm-up, imports, caches
    return _repeat(
        lambda: _timed_handshake(pair, backend, None), count, duration, progress
    )


def measure_loaded_responder(
    pair: Pair,
    backend: Backend,
    live: int,
    count: int,
    duration: float | None = None,
) -> Timing:
    """Time ``count`` handshakes into one responder that already holds ``live``
    established SAs (filling it is not timed): how the engine scales with SAs.

    Raises:
        HandshakeFailedError: any handshake did not establish.
    """
    responder = IkeEndpoint(pair.responder, backend, os.urandom)
    for _ in range(live):
        _checked(handshake(pair, backend, responder=responder), pair.suite)
    return _repeat(
        lambda: _timed_handshake(pair, backend, responder), count, duration, None
    )


def record_trace(pair: Pair, backend: Backend) -> tuple[CryptoTrace, Outcome]:
    """The crypto calls of one handshake (both ends), and what it produced."""
    recording = RecordingBackend(backend)
    outcome = _checked(handshake(pair, recording), pair.suite)
    return recording.trace, outcome


def measure_crypto_only(
    trace: CryptoTrace,
    backend: Backend,
    count: int,
    duration: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Timing:
    """Time ``count`` replays of ``trace``: the handshake's crypto and nothing else."""

    def one_round() -> float:
        start = time.perf_counter()
        trace.replay(backend)
        return time.perf_counter() - start

    trace.replay(backend)  # warm-up
    return _repeat(one_round, count, duration, progress)


@dataclass(frozen=True)
class MemoryResult:
    """Memory that established IKE SAs (one Child SA each) keep in a responder."""

    sas: int
    python_bytes_per_sa: float
    """tracemalloc: Python-heap octets per SA (Rust allocations are not seen)."""
    rss_bytes_per_sa: float | None
    """Resident-set growth per SA (everything, including Rust; coarse); None when it
    cannot be meaningful (``stats.rss_per_sa``: too few SAs or no growth)."""
    top: list[tuple[str, int]]
    """The largest per-SA allocation sites: (file:line, octets per SA)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "sas": self.sas,
            "python_bytes_per_sa": round(self.python_bytes_per_sa, 1),
            "rss_bytes_per_sa": None
            if self.rss_bytes_per_sa is None
            else round(self.rss_bytes_per_sa, 1),
            "top": [list(t) for t in self.top],
        }


def measure_memory(
    pair: Pair,
    backend: Backend,
    sas: int,
    progress: Callable[[int], None] | None = None,
) -> MemoryResult:
    """Establish ``sas`` IKE SAs into one responder (a fresh initiator each time,
    dropped afterwards) and measure what the responder keeps per SA."""
    responder = IkeEndpoint(pair.responder, backend, os.urandom)
    _checked(handshake(pair, backend, responder=responder), pair.suite)  # warm-up
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    own_before = tracemalloc.get_tracemalloc_memory()
    for n in range(sas):
        _checked(handshake(pair, backend, responder=responder), pair.suite)
        if progress is not None:
            progress(n + 1)
    gc.collect()
    after = tracemalloc.take_snapshot()
    # tracemalloc's own tables grow with the heap; they are not the SAs' memory.
    rss_after = rss_bytes() - (tracemalloc.get_tracemalloc_memory() - own_before)
    tracemalloc.stop()
    if len(responder.ike_sas()) < sas:
        raise HandshakeFailedError(f"{pair.suite}: responder kept too few SAs")
    stats = after.compare_to(before, "lineno")
    grown = sum(s.size_diff for s in stats)
    top = [
        (
            f"{_short(s.traceback[0].filename)}:{s.traceback[0].lineno}",
            s.size_diff // sas,
        )
        for s in stats[:8]
        if s.size_diff > 0
    ]
    rss = rss_per_sa(rss_after - rss_before, sas)
    return MemoryResult(sas, grown / sas, rss, top)


def _short(filename: str) -> str:
    marker = os.sep + "pqike" + os.sep
    return "pqike/" + filename.split(marker, 1)[1] if marker in filename else filename
