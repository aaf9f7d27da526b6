# SPDX-License-Identifier: Apache-2.0
"""Where handshake wall time goes, from a sampling profiler: ``python -m
pqike.bench.sampled``.

cProfile and the ``--counts`` of :mod:`pqike.bench.profile` weigh every Python call
or bytecode instruction alike; neither says what share of the *wall time* the codec
or the engine takes, next to the Rust calls. A sampling profiler that also sees
native frames does, without slowing the process it samples. Two steps::

    python -m pqike.bench.sampled --run 20      # handshakes in a loop for 20 s
    py-spy record -r 2000 --native --full-filenames -f raw -o samples.txt \\
        -- python -m pqike.bench.sampled --run 20
    python -m pqike.bench.sampled samples.txt   # the table

(py-spy is not a dependency of pqike; install it into any environment.)

Each sample is one call stack. Samples outside the handshakes (imports, building
the endpoints, which ``pqike bench`` does not time either) are set aside. The rest
are put in one area each, first match wins:

* ``crypto``: native frames of ``pqike._native`` (or of hashlib) below the last
  Python frame, i.e. time inside a crypto call;
* ``randomness``: ``os.urandom``; py-spy stops the process to read native stacks,
  which over-samples system calls, so this share is too high (an A/B with a
  user-space generator showed ~12 calls of ~0.3 us per handshake);
* ``gc``: the cyclic garbage collector;
* ``codec``: any frame of ``pqike/ikev2/codec/`` on the stack, so the records,
  memos and struct calls the codec makes count as codec (what a codec written in
  another language would save, at most);
* otherwise the area of the innermost Python frame
  (:func:`pqike.bench.profile.area_of`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Sample", "Shares", "classify", "main", "parse_raw", "shares"]

_WITHIN = ("pump (", "IkeEndpoint.initiate (")
"""Frames that mark a sample as handshake work (the bench's in-memory driver and
the initiator's first message)."""
_OUTSIDE = ("IkeEndpoint.__init__ (", "_find_and_load (")
"""Frames that mark it as set-up (endpoints are built before the timing starts)."""


@dataclass(frozen=True)
class Sample:
    """One collapsed stack (outermost frame first) and how often it was seen."""

    frames: tuple[str, ...]
    count: int


def parse_raw(lines: Iterable[str]) -> list[Sample]:
    """Read py-spy's ``-f raw`` output (``frame;frame;... count`` per line).

    Raises:
        ValueError: a non-empty line without a trailing count.
    """
    samples = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError(f"line {number}: expected 'frames count'")
        samples.append(Sample(tuple(stack.split(";")), int(count)))
    return samples


def _is_python(frame: str) -> bool:
    # "function (/path/file.py:123)"; native frames name a library instead
    return ".py:" in frame or "(<string>:" in frame


def _file_of(frame: str) -> str:
    inner = frame[frame.rfind("(") + 1 : -1]
    return inner.rpartition(":")[0]


def classify(frames: Sequence[str]) -> str:
    """The area of one sample (see the module docstring); ``"outside"`` for
    samples that are not handshake work."""
    from pqike.bench.profile import area_of  # cProfile tooling; not needed to parse

    if any(f.startswith(_OUTSIDE) for f in frames) or not any(
        f.startswith(_WITHIN) for f in frames
    ):
        return "outside"
    python = [i for i, f in enumerate(frames) if _is_python(f)]
    native = frames[python[-1] + 1 :] if python else frames
    if any("_native" in f or "_hashlib" in f for f in native):
        return "crypto"
    if any(f.startswith("os_urandom") for f in native):
        return "randomness"
    if any(f.startswith("gc_collect") for f in native):
        return "gc"
    files = [_file_of(frames[i]) for i in python]
    if any("pqike/ikev2/codec/" in path for path in files):
        return "codec"
    leaf = frames[python[-1]]
    return area_of(_file_of(leaf), leaf.partition(" (")[0])


@dataclass
class Shares:
    """Samples per area, handshake work only."""

    by_area: Counter[str]
    outside: int

    @property
    def total(self) -> int:
        return sum(self.by_area.values())

    def share(self, area: str) -> float:
        return self.by_area[area] / self.total if self.total else 0.0


def shares(samples: Iterable[Sample]) -> Shares:
    """Add up the samples by area."""
    by_area: Counter[str] = Counter()
    outside = 0
    for sample in samples:
        area = classify(sample.frames)
        if area == "outside":
            outside += sample.count
        else:
            by_area[area] += sample.count
    return Shares(by_area, outside)


def _run(seconds: float, suite: str, backend_name: str) -> None:
    from pqike.bench.inprocess import Pair
    from pqike.bench.profile import run_handshakes

    pair = Pair.for_suite(suite)  # one configuration, as a real endpoint has
    run_handshakes(pair, backend_name, 20)  # imports and memos before the loop
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run_handshakes(pair, backend_name, 50)
        done += 50
    elapsed = time.perf_counter() - start
    print(f"{done} handshakes in {elapsed:.1f} s ({done / elapsed:,.0f}/s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pqike.bench.sampled",
        description="Handshake wall time by area, from py-spy raw samples.",
    )
    parser.add_argument("samples", nargs="?", help="py-spy -f raw output")
    parser.add_argument(
        "--run", type=float, metavar="SECONDS", help="run handshakes to be sampled"
    )
    parser.add_argument("--suite", default="x25519+mlkem768")
    parser.add_argument("--backend", default="rust", choices=("rust", "reference"))
    args = parser.parse_args(argv)
    if (args.run is None) == (args.samples is None):
        parser.error("give either a samples file or --run SECONDS")
    if args.run is not None:
        if not args.run > 0:
            parser.error("--run must be a positive number of seconds")
        _run(args.run, args.suite, args.backend)
        return 0
    try:
        with open(args.samples, encoding="utf-8", errors="replace") as f:
            result = shares(parse_raw(f))
    except (OSError, ValueError) as exc:
        print(f"{args.samples}: {exc}", file=sys.stderr)
        return 1
    if not result.total:
        print("no handshake samples (was it recorded with --native?)", file=sys.stderr)
        return 1
    print(
        f"{result.total} handshake samples ({result.outside} outside the handshakes "
        "set aside)"
    )
    for area, count in result.by_area.most_common():
        print(f"  {area:36s} {count:8d} {100 * result.share(area):6.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
