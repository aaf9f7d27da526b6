# SPDX-License-Identifier: Apache-2.0
"""``pqike bench``: handshake benchmarks, Rust backend beside the reference backend.

Measures, for each suite and backend:

  in-process   full handshakes per second with both endpoints in this process
               (datagrams passed in memory), and the crypto-only rate of the same
               handshake (its recorded crypto calls replayed alone); their ratio is
               the share of time spent in cryptography
  memory       Python heap (tracemalloc) and RSS per IKE SA with one Child SA, kept
               alive in one in-process responder
  loopback     a responder process on UDP 127.0.0.1 under concurrent initiators in
               other processes (responder pinned to one CPU, initiators to the
               others, unless --no-pin): handshakes/s, p50/p99 setup latency, CPU
               per handshake and CPU share of both sides, responder RSS per SA

Results are rates and ratios for the record; nothing passes or fails on speed. The
exit status is 1 only if a handshake failed to establish.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pqike.bench.loopback import MAX_CONCURRENCY
from pqike.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE

__all__ = ["register", "run"]

_DEFAULT_CONCURRENCY = "1,2,4,8"


def _ints(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need integers >= 1: {text!r}")
    return values


def _concurrency(text: str) -> list[int]:
    values = _ints(text)
    if max(values) > MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_CONCURRENCY} initiators (the responder's half_open_limit: "
            f"it drops IKE_SA_INIT beyond that many handshakes in flight), got "
            f"{max(values)}"
        )
    return values


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        "bench",
        help="handshake benchmarks (in-process, crypto-only, loopback, memory)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suites",
        default="all",
        help="comma-separated suite names or IKE proposals (default all: x25519, "
        "x25519+mlkem768, ecp256+mlkem768, x25519+mlkem768+mlkem1024, mlkem768)",
    )
    parser.add_argument(
        "--backends",
        type=_names,
        default=["rust", "reference"],
        help="comma-separated crypto backends (default rust,reference)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        help="handshakes per measurement (default 500; --quick 1)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="at most this many seconds per measurement (default 10; --quick 5)",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        help=f"concurrent loopback initiators, e.g. 1,2,4; each 1..{MAX_CONCURRENCY} "
        f"(default {_DEFAULT_CONCURRENCY}; --quick 1)",
    )
    parser.add_argument(
        "--initiator-processes",
        type=int,
        default=1,
        help="processes the loopback initiators are spread over (default 1)",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="loopback: pin the responder process to one CPU and the initiator "
        "processes to the others (default: on with two or more usable CPUs)",
    )
    parser.add_argument(
        "--memory-sas",
        type=int,
        default=None,
        help="SAs kept alive for the in-process memory measurement (default 500; "
        "--quick 2)",
    )
    parser.add_argument(
        "--parts",
        type=_names,
        default=None,
        help="comma-separated subset of inprocess,memory,loopback (default all)",
    )
    parser.add_argument("--json", metavar="FILE", help="write all results as JSON")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="plot loopback handshake rate against concurrency (needs matplotlib)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one round of each measurement (a smoke test, not a measurement)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr"
    )
    parser.set_defaults(func=run)


def _plan(args: argparse.Namespace) -> Any:
    from pqike.bench.runner import PARTS, Plan
    from pqike.bench.suites import parse_suites

    parts = args.parts or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(
            f"--parts: unknown {', '.join(unknown)} (known: {', '.join(PARTS)})"
        )
    bad = sorted(set(args.backends) - {"rust", "reference"})
    if bad:
        raise ValueError(f"--backends: unknown {', '.join(bad)} (rust, reference)")
    quick = args.quick
    count = args.count if args.count is not None else (1 if quick else 500)
    memory = args.memory_sas if args.memory_sas is not None else (2 if quick else 500)
    if count < 1 or memory < 1 or args.initiator_processes < 1:
        raise ValueError("--count, --memory-sas and --initiator-processes must be >= 1")
    plan = Plan(
        suites=parse_suites(args.suites),
        backends=args.backends,
        count=count,
        duration=args.duration or (5.0 if quick else 10.0),
        concurrency=args.concurrency or ([1] if quick else _ints(_DEFAULT_CONCURRENCY)),
        memory_sas=memory,
        processes=args.initiator_processes,
        parts=parts,
        pin=args.pin,
    )
    plan.pinning()  # ValueError now rather than after the in-process part
    return plan


def _all_established(report: dict[str, Any]) -> bool:
    return all(r["failed"] == 0 for r in report["loopback"])


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks; 0 unless a handshake failed or an argument is bad."""
    try:
        plan = _plan(args)
    except ValueError as exc:
        print(f"pqike bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot and "loopback" not in plan.parts:
        print("pqike bench: --plot needs the loopback part", file=sys.stderr)
        return EXIT_USAGE
    try:
        from pqike.bench import report as present
        from pqike.bench.inprocess import HandshakeFailedError
        from pqike.bench.runner import run as run_plan
    except ImportError as exc:
        print(f"pqike bench: engine not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot:
        try:
            present.check_plot_available()
        except present.PlotUnavailableError as exc:
            print(f"pqike bench: {exc}", file=sys.stderr)
            return EXIT_USAGE
    progress = None if args.no_progress else present.ProgressBar(plan.steps())
    try:
        report = run_plan(plan, progress)
    except ImportError as exc:
        print(f"pqike bench: backend not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (HandshakeFailedError, RuntimeError, TimeoutError) as exc:
        print(f"pqike bench: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(present.format_tables(report), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
            out.write("\n")
    if args.plot:
        try:
            present.plot(report, args.plot)
        except present.PlotUnavailableError as exc:
            print(f"pqike bench: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_OK if _all_established(report) else EXIT_FAILED
