# SPDX-License-Identifier: Apache-2.0
"""Whole handshakes in one process, and the crypto-only cost of the same handshake.

Each suite is one pytest-benchmark group with four rows: ``handshake`` and
``crypto-only`` for the ``rust`` and the ``reference`` backend. ``handshake`` is
IKE_SA_INIT .. IKE_AUTH with the first Child SA between two fresh ``IkeEndpoint``s,
datagrams passed in memory (building the endpoints is not timed). ``crypto-only``
replays that handshake's recorded crypto calls through ``pqike.crypto`` and nothing
else (``pqike.bench.trace``), so handshake/crypto-only is the engine's overhead.

``pytest benches`` runs every case once (``--benchmark-disable`` is the default);
``pytest benches/bench_handshake.py --benchmark-enable`` measures.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pqike.bench.inprocess import Outcome, Pair, pump, record_trace
from pqike.bench.suites import CONN_NAME, SUITES
from pqike.crypto import Backend, available_backends, get_backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import ChildEstablished

BACKENDS = [pytest.param(name, id=name) for name in ("rust", "reference")]
SUITE_IDS = [pytest.param(name, id=name) for name in SUITES]
ROUNDS = 200


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn (skipped when it cannot be loaded)."""
    name = str(request.param)
    if name not in available_backends():
        pytest.skip(f"{name} backend unavailable")
    return get_backend(name)


def _children(*endpoints: IkeEndpoint) -> int:
    count = 0
    for ep in endpoints:
        while (event := ep.next_event()) is not None:
            count += isinstance(event, ChildEstablished)
    return count


@pytest.mark.parametrize("suite", SUITE_IDS)
def test_handshake(benchmark: Any, backend: Backend, suite: str) -> None:
    """A full handshake between fresh endpoints, both in this process."""
    benchmark.group = f"handshake {suite}"
    pair = Pair.for_suite(suite)
    made: list[IkeEndpoint] = []

    def setup() -> tuple[tuple[IkeEndpoint, IkeEndpoint], dict[str, Any]]:
        i = IkeEndpoint(pair.initiator, backend, os.urandom)
        r = IkeEndpoint(pair.responder, backend, os.urandom)
        made[:] = [i, r]
        return (i, r), {}

    def run(i: IkeEndpoint, r: IkeEndpoint) -> None:
        i.initiate(CONN_NAME, 0.0)
        pump(i, r)

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, warmup_rounds=2)
    assert _children(*made) == 2


@pytest.mark.parametrize("suite", SUITE_IDS)
def test_crypto_only(benchmark: Any, backend: Backend, suite: str) -> None:
    """The same handshake's crypto calls alone, replayed through pqike.crypto."""
    benchmark.group = f"handshake {suite}"
    trace, outcome = record_trace(Pair.for_suite(suite), backend)
    assert isinstance(outcome, Outcome)
    benchmark.extra_info["crypto_calls"] = len(trace.calls)
    benchmark(trace.replay, backend)
