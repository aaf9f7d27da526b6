# SPDX-License-Identifier: Apache-2.0
"""Profile in-process handshakes: ``python -m pqike.bench.profile [options]``.

Runs ``--count`` handshakes of one suite (both ends in this process, datagrams in
memory, as ``pqike bench`` does) under cProfile and prints:

* where the time goes by area: Rust calls (``pqike._native``), the crypto facade,
  codec, engine (sa/manager/tasks/endpoint), dataclass and enum machinery, logging,
  other Python;
* the functions with the most own time, and the most cumulative time;
* Rust crossings per handshake (calls into ``pqike._native``).

``--pyinstrument`` uses pyinstrument instead (if installed) and prints its tree.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Sequence

from pqike.bench.inprocess import Pair, pump
from pqike.bench.suites import CONN_NAME
from pqike.crypto import get_backend
from pqike.ikev2.endpoint import IkeEndpoint

__all__ = ["area_of", "main"]

_AREAS: tuple[tuple[str, str], ...] = (
    ("pqike/ikev2/codec/", "codec"),
    ("pqike/ikev2/", "engine"),
    ("pqike/crypto/", "crypto facade"),
    ("pqike/bench/", "bench driver"),
    ("dataclasses", "dataclasses"),
    ("enum.py", "enum"),
    ("logging/", "logging"),
)


def area_of(filename: str, name: str) -> str:
    """The area a profiled function belongs to (see the module docstring)."""
    if filename == "~":
        return "rust (pqike._native)" if "_native" in name else "builtins"
    path = filename.replace(os.sep, "/")
    for marker, area in _AREAS:
        if marker in path:
            return area
    return "other python"


def _handshakes(suite: str, backend_name: str, count: int) -> None:
    pair = Pair.for_suite(suite)
    backend = get_backend(backend_name)
    for _ in range(count):
        i = IkeEndpoint(pair.initiator, backend, os.urandom)
        r = IkeEndpoint(pair.responder, backend, os.urandom)
        i.initiate(CONN_NAME, 0.0)
        pump(i, r)


def _print_areas(stats: pstats.Stats, count: int) -> None:
    own: dict[str, float] = defaultdict(float)
    native_calls = 0
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, nc, tt, _ct, _callers) in raw.items():
        area = area_of(filename, name)
        own[area] += tt
        if area.startswith("rust"):
            native_calls += nc
    total = sum(own.values())
    print(f"own time by area ({count} handshakes, {total * 1000 / count:.3f} ms each):")
    for area, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        share = seconds / total if total else 0.0
        print(f"  {area:<22} {seconds * 1e6 / count:9.1f} us/handshake  {share:6.1%}")
    print(f"Rust crossings: {native_calls / count:.1f} per handshake (both ends)")


def main(argv: Sequence[str] | None = None) -> int:
    """Profile and print; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pqike.bench.profile")
    parser.add_argument("--suite", default="x25519+mlkem768")
    parser.add_argument("--backend", default="rust", choices=("rust", "reference"))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--save", metavar="FILE", help="write the pstats file")
    args = parser.parse_args(argv)
    _handshakes(args.suite, args.backend, 5)  # warm-up
    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("--pyinstrument needs: pip install pyinstrument", file=sys.stderr)
            return 2
        profiler = Profiler(interval=0.0002)
        profiler.start()
        _handshakes(args.suite, args.backend, args.count)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return 0
    start = time.perf_counter()
    _handshakes(args.suite, args.backend, args.count)
    plain = time.perf_counter() - start
    print(
        f"{args.suite} {args.backend}: {args.count / plain:.0f} handshakes/s "
        "without the profiler"
    )
    profile = cProfile.Profile()
    profile.enable()
    _handshakes(args.suite, args.backend, args.count)
    profile.disable()
    stats = pstats.Stats(profile)
    if args.save:
        stats.dump_stats(args.save)
    _print_areas(stats, args.count)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
