# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.inprocess: the measurements establish what they claim to."""

from __future__ import annotations

import json

import pytest

from pqike.bench.inprocess import (
    Pair,
    measure_crypto_only,
    measure_handshakes,
    measure_loaded_responder,
    measure_memory,
    record_trace,
)
from pqike.bench.stats import MIN_RSS_SAS, Timing, percentile, rss_per_sa
from pqike.crypto import Backend


def test_measure_handshakes_counts_each_established_handshake(backend: Backend) -> None:
    timing = measure_handshakes(Pair.for_suite("x25519"), backend, 3)
    assert timing.count == 3
    assert timing.rate > 0
    assert timing.rate_p50 > 0


def test_crypto_only_replays_the_recorded_handshake(backend: Backend) -> None:
    trace, _ = record_trace(Pair.for_suite("mlkem768"), backend)
    assert measure_crypto_only(trace, backend, 2).count == 2


def test_loaded_responder_keeps_its_sas(backend: Backend) -> None:
    timing = measure_loaded_responder(Pair.for_suite("x25519"), backend, 3, 2)
    assert timing.count == 2


def test_memory_counts_the_sas_kept(backend: Backend) -> None:
    result = measure_memory(Pair.for_suite("x25519+mlkem768"), backend, 3)
    assert result.sas == 3
    assert result.python_bytes_per_sa > 0
    assert set(result.as_dict()) >= {"sas", "python_bytes_per_sa", "rss_bytes_per_sa"}


def test_duration_stops_early_but_runs_at_least_once(backend: Backend) -> None:
    timing = measure_handshakes(Pair.for_suite("x25519"), backend, 1000, duration=0.0)
    assert timing.count == 1


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0, 2.0, 3.0], 0.5, 2.0), ([1.0, 2.0, 3.0], 0.99, 3.0), ([5.0], 0.0, 5.0)],
)
def test_percentile_nearest_rank(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == expected


def test_empty_timing_has_no_rate() -> None:
    assert Timing().rate != Timing().rate  # NaN


def test_rss_per_sa_only_when_meaningful() -> None:
    """Too few SAs, or no growth (allocator reuse), give None rather than a number
    such as -3.2 KiB per SA."""
    assert rss_per_sa(1_500_000, MIN_RSS_SAS) == 1_500_000 / MIN_RSS_SAS
    assert rss_per_sa(1_500_000, MIN_RSS_SAS - 1) is None
    assert rss_per_sa(0, 500) is None
    assert rss_per_sa(-4096, 500) is None


def test_memory_of_a_few_sas_has_no_rss_figure(backend: Backend) -> None:
    """`pqike bench --quick` keeps 2 SAs: RSS per SA is null in the JSON."""
    result = measure_memory(Pair.for_suite("x25519"), backend, 2)
    assert result.rss_bytes_per_sa is None
    assert json.loads(json.dumps(result.as_dict()))["rss_bytes_per_sa"] is None
