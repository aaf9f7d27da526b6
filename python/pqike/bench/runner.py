# SPDX-License-Identifier: Apache-2.0
"""Run the handshake benchmarks for suites x backends and collect one result dict.

The dict is what ``pqike bench --json`` writes (format in ``docs/benchmarks.md``):
``meta``, then ``inprocess``, ``memory`` and ``loopback`` lists of rows, and
``ratios`` (pqike against its own crypto-only replay, rust against reference).
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pqike import __version__
from pqike.bench.inprocess import (
    Pair,
    measure_crypto_only,
    measure_handshakes,
    measure_memory,
    record_trace,
)
from pqike.bench.loopback import Pinning, pinning, run_loopback
from pqike.bench.stats import ratio
from pqike.bench.suites import ESP_PROPOSAL, proposal
from pqike.crypto import get_backend

__all__ = ["PARTS", "Plan", "run"]

PARTS = ("inprocess", "memory", "loopback")


@dataclass(frozen=True)
class Plan:
    """What to measure, and how much of it."""

    suites: Sequence[str]
    backends: Sequence[str]
    count: int
    """Handshakes (and crypto replays) per in-process measurement; handshakes per
    loopback concurrency level."""
    duration: float
    """Upper bound in seconds on each measurement."""
    concurrency: Sequence[int]
    memory_sas: int
    """SAs kept alive in the in-process responder for tracemalloc."""
    processes: int = 1
    """Initiator processes sharing the concurrent initiators (loopback)."""
    parts: Sequence[str] = PARTS
    pin: bool | None = None
    """Loopback: responder on one CPU, initiators on the others; None: pin when two
    or more CPUs are usable."""

    def pinning(self) -> Pinning | None:
        """The loopback CPU split this plan asks for.

        Raises:
            ValueError: ``pin`` is True but this machine cannot pin.
        """
        return pinning(self.pin) if "loopback" in self.parts else None

    def steps(self) -> int:
        """Progress steps: one per measurement."""
        per = 2 * ("inprocess" in self.parts) + ("memory" in self.parts)
        per += len(self.concurrency) * ("loopback" in self.parts)
        return per * len(self.suites) * len(self.backends)


Progress = Callable[[str, float], None]
"""``progress(label, fraction of this step done)``; a new label starts a step."""


def run(plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Measure everything in ``plan``.

    Raises:
        ImportError: a backend cannot be loaded.
        ValueError: the plan asks for pinning that this machine cannot do.
        HandshakeFailedError: an in-process handshake did not establish.
        RuntimeError, TimeoutError: a loopback process failed.
    """
    pinned = plan.pinning()
    report: dict[str, Any] = {
        "meta": _meta(plan, pinned),
        "inprocess": [],
        "memory": [],
        "loopback": [],
    }
    tick = progress or (lambda label, done: None)
    for suite in plan.suites:
        for name in plan.backends:
            backend = get_backend(name)
            pair = Pair.for_suite(suite)
            if "inprocess" in plan.parts:
                report["inprocess"].append(_inprocess(plan, pair, backend, name, tick))
            if "memory" in plan.parts:
                label = f"{suite} {name} memory"
                tick(label, 0.0)
                mem = measure_memory(
                    pair,
                    backend,
                    plan.memory_sas,
                    _fraction(tick, label, plan.memory_sas),
                )
                report["memory"].append(
                    {"suite": suite, "backend": name} | mem.as_dict()
                )
            if "loopback" in plan.parts:
                for n in plan.concurrency:
                    label = f"{suite} {name} loopback x{n}"
                    result = run_loopback(
                        suite,
                        name,
                        n,
                        plan.count,
                        plan.duration,
                        plan.processes,
                        _clock(tick, label, plan.duration),
                        pinned or False,
                    )
                    report["loopback"].append(result.as_dict())
    report["ratios"] = ratios(report)
    tick("done", 1.0)
    return report


def _clock(tick: Progress, label: str, duration: float) -> Callable[[float], None]:
    """A loopback progress callback: elapsed time as a share of ``duration``."""
    tick(label, 0.0)
    start = time.monotonic()
    return lambda now: tick(label, min((now - start) / max(duration, 1e-9), 1.0))


def _fraction(tick: Progress, label: str, total: int) -> Callable[[int], None]:
    return lambda done: tick(label, done / max(total, 1))


def _inprocess(
    plan: Plan, pair: Pair, backend: Any, name: str, tick: Progress
) -> dict[str, Any]:
    label = f"{pair.suite} {name} in-process"
    tick(label, 0.0)
    hs = measure_handshakes(
        pair, backend, plan.count, plan.duration, _fraction(tick, label, plan.count)
    )
    trace, outcome = record_trace(pair, backend)
    label = f"{pair.suite} {name} crypto-only"
    tick(label, 0.0)
    crypto = measure_crypto_only(
        trace, backend, plan.count, plan.duration, _fraction(tick, label, plan.count)
    )
    samples = min(hs.count, crypto.count)
    return {
        "suite": pair.suite,
        "backend": name,
        "proposal": proposal(pair.suite),
        "handshakes": hs.as_dict(),
        "crypto_only": crypto.as_dict(),
        "crypto_share": ratio(hs.rate_p50, crypto.rate_p50, samples, 4),
        "crypto_share_mean": ratio(hs.rate, crypto.rate, samples, 4),
        "crypto_calls": dict(sorted(trace.summary().items())),
        "exchanges": [list(e) for e in outcome.exchanges],
    }


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    """pqike/crypto-only per row, and rust/reference per suite (and concurrency).

    In-process ratios use the median-based rates (``rate_p50``); loopback ratios
    the run's overall rate. A ratio resting on fewer than ``MIN_SAMPLES``
    handshakes (or replays) on either side is None.
    """
    out: dict[str, Any] = {"pqike_vs_crypto_only": {}, "rust_vs_reference": {}}
    rates: dict[tuple[str, str, str], tuple[float, int]] = {}
    for row in report["inprocess"]:
        key = f"{row['suite']} {row['backend']}"
        out["pqike_vs_crypto_only"][key] = row["crypto_share"]
        for where in ("inprocess", "crypto_only"):
            timing = row["handshakes" if where == "inprocess" else where]
            key3 = (where, row["suite"], row["backend"])
            rates[key3] = (timing["rate_p50"], timing["count"])
    for row in report["loopback"]:
        where = f"loopback x{row['concurrency']}"
        rates[(where, row["suite"], row["backend"])] = (row["rate"], row["handshakes"])
    for (where, suite, backend), (rate, n) in rates.items():
        ref = rates.get((where, suite, "reference"))
        if backend == "rust" and ref is not None:
            value = ratio(rate, ref[0], min(n, ref[1]), 3)
            out["rust_vs_reference"][f"{suite} {where}"] = value
    return out


def _meta(plan: Plan, pinned: Pinning | None) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "pqike": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "esp": ESP_PROPOSAL,
        "suites": list(plan.suites),
        "backends": list(plan.backends),
        "count": plan.count,
        "duration": plan.duration,
        "concurrency": list(plan.concurrency),
        "memory_sas": plan.memory_sas,
        "initiator_processes": plan.processes,
        "pinned": {
            "responder_cpus": list(pinned.responder),
            "initiator_cpus": list(pinned.initiators),
        }
        if pinned
        else None,
        "parts": list(plan.parts),
        "native": _native_build(),
    }


def _native_build() -> dict[str, Any] | None:
    """Which compiled extension ran (rebuilds change the Rust numbers a lot)."""
    import importlib.util

    spec = importlib.util.find_spec("pqike._native")
    if spec is None or not spec.origin:
        return None
    stat = os.stat(spec.origin)
    mtime = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC)
    return {
        "file": os.path.basename(spec.origin),
        "bytes": stat.st_size,
        "mtime": mtime.isoformat(timespec="seconds"),
    }
