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
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pqike.bench.loopback import MAX_CONCURRENCY
from pqike.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, positive_seconds

__all__ = ["register", "run"]

_DEFAULT_CONCURRENCY = "1,2,4,8"
_BACKENDS = ("rust", "reference")
_PARTS = ("inprocess", "memory", "loopback")
"""``pqike.bench.runner.PARTS`` (that module needs the engine; the CLI starts
without it)."""


def _count(text: str) -> int:
    """argparse type of the counts: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _ints(text: str) -> list[int]:
    """Comma-separated integers >= 1, at least one."""
    values = [_count(t) for t in text.split(",") if t.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"need integers >= 1, got {text!r}")
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


def _names(known: tuple[str, ...]) -> Callable[[str], list[str]]:
    """argparse type of a comma-separated subset of ``known``, not empty."""

    def names(text: str) -> list[str]:
        values = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [v for v in values if v not in known]
        if not values or unknown:
            what = f"unknown {', '.join(unknown)}" if unknown else "none given"
            raise argparse.ArgumentTypeError(f"{what} (known: {', '.join(known)})")
        return values

    return names


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
        type=_names(_BACKENDS),
        default=list(_BACKENDS),
        help="comma-separated crypto backends (default rust,reference)",
    )
    parser.add_argument(
        "--count",
        type=_count,
        default=None,
        help="handshakes per measurement (default 500; --quick 1)",
    )
    parser.add_argument(
        "--duration",
        type=positive_seconds,
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
        type=_count,
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
        type=_count,
        default=None,
        help="SAs kept alive for the in-process memory measurement (default 500; "
        "--quick 2)",
    )
    parser.add_argument(
        "--parts",
        type=_names(_PARTS),
        default=None,
        help=f"comma-separated subset of {','.join(_PARTS)} (default all)",
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
    from pqike.bench.runner import Plan
    from pqike.bench.suites import parse_suites

    try:
        suites = parse_suites(args.suites)
    except ValueError as exc:
        raise ValueError(f"--suites: {exc}") from None
    quick = args.quick
    count = args.count if args.count is not None else (1 if quick else 500)
    memory = args.memory_sas if args.memory_sas is not None else (2 if quick else 500)
    duration = args.duration if args.duration is not None else (5.0 if quick else 10.0)
    plan = Plan(
        suites=suites,
        backends=args.backends,
        count=count,
        duration=duration,
        concurrency=args.concurrency or ([1] if quick else _ints(_DEFAULT_CONCURRENCY)),
        memory_sas=memory,
        processes=args.initiator_processes,
        parts=args.parts or list(_PARTS),
        pin=args.pin,
    )
    plan.pinning()  # ValueError now rather than after the in-process part
    return plan


def _all_established(report: dict[str, Any]) -> bool:
    return all(r["failed"] == 0 for r in report["loopback"])


def _unwritable(path: str) -> str | None:
    """Why ``path`` cannot be written (no such directory, a directory, no
    permission), or None. Opened for appending, so an existing file keeps its
    contents; a file created by the check is removed again."""
    existed = os.path.lexists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not existed:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return None


_BACKEND_HINTS = {
    "reference": "use --backends rust, or install pyca/cryptography: "
    "pip install 'pqike[reference]' (or 'pqike[bench]', with matplotlib for --plot)",
    "rust": "build the extension (bash scripts/setup.sh, or pip install .), or use "
    "--backends reference",
}


def _unavailable_backend(names: list[str]) -> str | None:
    """Why one of the backends ``names`` cannot be loaded, with what to do, or None."""
    from pqike.crypto import get_backend

    for name in names:
        try:
            get_backend(name)
        except ImportError as exc:
            return f"backend {name!r} not available: {exc}; {_BACKEND_HINTS[name]}"
    return None


def _check(args: argparse.Namespace, plan: Any) -> str | None:
    """What stops the benchmark from running or from saving its results, found
    before anything is measured; None when nothing does."""
    if args.plot and "loopback" not in plan.parts:
        return "--plot needs the loopback part"
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        why = _unwritable(path) if path else None
        if why is not None:
            return f"{option} {path}: cannot write: {why}"
    return _unavailable_backend(list(plan.backends))


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StoppedError(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while the benchmark ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Raise :class:`_StoppedError` on SIGINT or SIGTERM, so that the part running
    stops its worker processes on the way out (``pqike.bench.loopback``); further
    signals are ignored meanwhile, so the clean-up is not cut short. SIGINT counts
    also where it was ignored at start (``pqike bench &`` in a script)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals
        return

    def stop(signum: int, _frame: object) -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise _StoppedError(signum)

    previous = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _save(args: argparse.Namespace, report: dict[str, Any], present: Any) -> int:
    """Write ``--json`` and ``--plot``; EXIT_OK, or what went wrong said on stderr
    and its exit status (the table is on stdout already)."""
    status = EXIT_OK
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as out:
                out.write(json.dumps(report, indent=2) + "\n")
        except OSError as exc:
            print(
                f"pqike bench: could not write --json {args.json}: "
                f"{exc.strerror or exc} (the results are in the table above)",
                file=sys.stderr,
            )
            status = EXIT_FAILED
    if args.plot:
        try:
            present.plot(report, args.plot)
        except present.PlotUnavailableError as exc:
            print(f"pqike bench: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:
            print(
                f"pqike bench: could not write --plot {args.plot}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            status = EXIT_FAILED
    return status


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks; 0 unless a handshake failed, the results could not be
    written, or an argument is bad (2); 128 + the signal number when stopped."""
    try:
        plan = _plan(args)
    except ValueError as exc:
        print(f"pqike bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from pqike.bench import report as present
        from pqike.bench.inprocess import HandshakeFailedError
        from pqike.bench.runner import run as run_plan
    except ImportError as exc:
        print(f"pqike bench: engine not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = _check(args, plan)
    if problem is None and args.plot:
        try:
            present.check_plot_available()
        except present.PlotUnavailableError as exc:
            problem = str(exc)
    if problem is not None:
        print(f"pqike bench: {problem}", file=sys.stderr)
        return EXIT_USAGE
    progress = None if args.no_progress else present.ProgressBar(plan.steps())
    try:
        with _stopped_by_signals():
            report = run_plan(plan, progress)
    except _StoppedError as exc:
        if progress is not None and progress.tty:
            print(file=sys.stderr)  # end the progress line
        print(
            f"pqike bench: interrupted by signal {exc.signum}; nothing was written",
            file=sys.stderr,
        )
        return 128 + exc.signum
    except (HandshakeFailedError, RuntimeError, TimeoutError) as exc:
        print(f"pqike bench: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(present.format_tables(report), flush=True)
    saved = _save(args, report, present)
    if saved != EXIT_OK:
        return saved
    return EXIT_OK if _all_established(report) else EXIT_FAILED
