# SPDX-License-Identifier: Apache-2.0
"""Small measurement helpers: timing samples, percentiles, process memory."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MIN_RSS_SAS",
    "MIN_SAMPLES",
    "Timing",
    "percentile",
    "ratio",
    "rss_bytes",
    "rss_per_sa",
]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[rank]


@dataclass
class Timing:
    """Durations of repeated operations, in seconds."""

    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def total(self) -> float:
        return sum(self.samples)

    @property
    def rate(self) -> float:
        """Operations per second of busy time."""
        return self.count / self.total if self.total > 0 else float("nan")

    @property
    def rate_p50(self) -> float:
        """1 / median duration: the rate of a typical round, robust against the
        stalls other processes cause on a shared machine."""
        median = self.quantile(0.5)
        return 1.0 / median if median > 0 else float("nan")

    def quantile(self, q: float) -> float:
        return percentile(sorted(self.samples), q)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "seconds": round(self.total, 6),
            "rate": round(self.rate, 2),
            "rate_p50": round(self.rate_p50, 2),
            "p50_ms": round(self.quantile(0.5) * 1000, 4),
            "p99_ms": round(self.quantile(0.99) * 1000, 4),
        }


MIN_SAMPLES = 5
"""Fewest samples (handshakes, replays) on each side of a share or ratio that is
reported: the median of one or two samples is whatever that one round happened to
cost, and two such figures from different moments of a shared machine can make a
share of 305 %."""


def ratio(
    numerator: float, denominator: float, samples: int, digits: int
) -> float | None:
    """``numerator / denominator`` rounded, or None when either side rests on fewer
    than :data:`MIN_SAMPLES` samples (``samples``: the smaller count) or the
    quotient is not a finite number."""
    if samples < MIN_SAMPLES or not denominator:
        return None
    value = numerator / denominator
    return round(value, digits) if math.isfinite(value) else None


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return 0


MIN_RSS_SAS = 100
"""Fewer SAs than this grow the resident set by a handful of pages at most, which the
allocator's reuse of freed memory and its chunked requests to the OS swamp."""


def rss_per_sa(growth: float, sas: int) -> float | None:
    """Resident-set growth per SA, or None when the figure cannot mean anything:
    fewer than :data:`MIN_RSS_SAS` SAs, or no growth at all (the SAs went into memory
    freed earlier, which would print as 0 or a negative size per SA)."""
    if sas < MIN_RSS_SAS or growth <= 0:
        return None
    return growth / sas
