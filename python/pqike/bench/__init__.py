# SPDX-License-Identifier: Apache-2.0
"""Handshake benchmarks behind ``pqike bench`` and ``benches/bench_handshake.py``.

* :mod:`pqike.bench.inprocess`: both endpoints in one process, datagrams in memory;
  the crypto-only replay of the same handshake (:mod:`pqike.bench.trace`); memory
  per established SA.
* :mod:`pqike.bench.loopback`: a responder process on UDP 127.0.0.1 under initiators
  in other processes.
* :mod:`pqike.bench.runner`: runs both for suites x backends; :mod:`pqike.bench.report`
  prints tables, progress, JSON and the plot.

Results are ratios and rates for the record, never pass/fail on speed.
"""

from __future__ import annotations

__all__: list[str] = []
