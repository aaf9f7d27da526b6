# SPDX-License-Identifier: Apache-2.0
"""A responder process on UDP 127.0.0.1 under concurrent initiators in another process.

One case per suite, backend and concurrency; each is a single run of
``pqike.bench.loopback.run_loopback`` (``pqike bench --parts loopback`` is the same
measurement with a table). The handshake rate, p50/p99 setup latency, responder CPU
per handshake and responder RSS per live SA go into ``extra_info`` of the JSON that
``--benchmark-json`` writes; pytest-benchmark's own timing is the run's wall time.

With ``--benchmark-disable`` (the default) every case runs a handful of handshakes
as a smoke test; ``pytest benches/bench_loopback.py --benchmark-enable`` runs
``COUNT`` handshakes per case.
"""

from __future__ import annotations

from typing import Any

import pytest

from pqike.bench.loopback import run_loopback
from pqike.bench.suites import SUITES
from pqike.crypto import available_backends

COUNT = 1000
SMOKE_COUNT = 4
DURATION = 10.0


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("backend", ["rust", "reference"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_loopback(benchmark: Any, suite: str, backend: str, concurrency: int) -> None:
    if backend not in available_backends():
        pytest.skip(f"{backend} backend unavailable")
    benchmark.group = f"loopback {suite}"
    count = SMOKE_COUNT if benchmark.disabled else COUNT
    result = benchmark.pedantic(
        run_loopback,
        args=(suite, backend, concurrency, count, DURATION),
        rounds=1,
        iterations=1,
    )
    row = result.as_dict()
    benchmark.extra_info.update(row)
    assert row["failed"] == 0
    assert row["responder_children"] == row["handshakes"] >= min(count, concurrency)
