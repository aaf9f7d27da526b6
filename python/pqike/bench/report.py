# SPDX-License-Identifier: Apache-2.0
"""Presenting benchmark results: text tables, a stderr progress bar, the plot."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from pqike.bench.stats import MIN_SAMPLES

__all__ = [
    "PlotUnavailableError",
    "ProgressBar",
    "check_plot_available",
    "figure",
    "format_tables",
    "loopback_notes",
    "plot",
]


class ProgressBar:
    """``[#####-----] 3/12  x25519 rust loopback x4  42%`` on stderr, plain text.

    On a terminal the line is redrawn in place (at most 10 times a second); into a
    file or pipe each step gets one line when it starts.
    """

    def __init__(self, steps: int, stream: TextIO | None = None, width: int = 24):
        self.steps = max(steps, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.step = 0
        self.label = ""
        self.tty = self.stream.isatty()
        self._drawn = 0.0

    def __call__(self, label: str, fraction: float) -> None:
        if label != self.label:
            if self.label:
                self.step += 1
            self.label = label
            if not self.tty and label != "done":
                print(self._line(0.0), file=self.stream, flush=True)
        if self.tty and (time.monotonic() - self._drawn > 0.1 or fraction >= 1.0):
            self._drawn = time.monotonic()
            end = "\n" if label == "done" else ""
            print("\r" + self._line(fraction).ljust(79), end=end, file=self.stream)
            self.stream.flush()

    def _line(self, fraction: float) -> str:
        if self.label == "done":
            return f"[{'#' * self.width}] {self.steps}/{self.steps}  done"
        done = min(self.step + max(0.0, min(fraction, 1.0)), self.steps) / self.steps
        filled = int(done * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        pct = f"  {fraction:4.0%}" if self.tty else ""
        return f"[{bar}] {self.step + 1}/{self.steps}  {self.label}{pct}"


def _table(headers: Sequence[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to width: the first two left-aligned, numbers right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    head = line(headers)
    return [head, "-" * len(head), *(line(r) for r in rows)]


def _num(value: Any, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:,.{digits}f}"


def _kib(octets: float | None) -> str:
    """KiB with one decimal; ``n/a`` where no meaningful figure was measured."""
    return "n/a" if octets is None else _num(octets / 1024, 1)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _share(value: float | None) -> str:
    """A share or ratio; ``n/a`` where too few samples made it meaningless."""
    return "n/a" if value is None else f"{value:.0%}"


def _pinning(meta: dict[str, Any]) -> str:
    """``responder on CPU 0, initiators on CPU 1`` or ``not pinned``."""
    pinned = meta.get("pinned")
    if not pinned:
        return "not pinned to CPUs"
    return (
        f"responder pinned to CPU {_join(pinned['responder_cpus'])}, initiators to "
        f"CPU {_join(pinned['initiator_cpus'])}"
    )


def _join(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus)


def _rust_ratio(report: dict[str, Any], row: dict[str, Any], where: str) -> str:
    """rust/reference on the rust row, ``-`` without a reference row, ``n/a`` with
    too few samples; blank on the other rows."""
    if row["backend"] != "rust":
        return ""
    found = report["ratios"]["rust_vs_reference"]
    key = f"{row['suite']} {where}"
    if key not in found:
        return "-"
    return "n/a" if found[key] is None else f"{found[key]:.2f}x"


def format_tables(report: dict[str, Any]) -> str:
    """Every result table as text (only the parts that were measured)."""
    out: list[str] = []
    meta = report["meta"]
    out.append(
        f"pqike {meta['pqike']} bench, Python {meta['python']}, {meta['cpus']} CPUs, "
        f"load {meta['loadavg_at_start']} at start; ESP {meta['esp']}; rates are "
        "noisy on a shared machine"
    )
    if report["inprocess"]:
        out += [
            "",
            "In-process handshakes (both ends, datagrams in memory; shares and "
            f"ratios resting on fewer than {MIN_SAMPLES} handshakes are n/a)",
        ]
        rows = [
            [
                r["suite"],
                r["backend"],
                _num(r["handshakes"]["count"]),
                _num(r["handshakes"]["rate"]),
                _num(r["handshakes"]["rate_p50"]),
                _num(r["handshakes"]["p99_ms"], 3),
                _num(r["crypto_only"]["rate_p50"]),
                _share(r["crypto_share"]),
                _rust_ratio(report, r, "inprocess"),
            ]
            for r in report["inprocess"]
        ]
        out += _table(
            [
                "suite",
                "backend",
                "n",
                "hs/s",
                "hs/s@p50",
                "p99 ms",
                "crypto/s@p50",
                "pqike/crypto",
                "rust/ref",
            ],
            rows,
        )
    if report["memory"]:
        out += ["", "Memory per IKE SA + 1 Child SA (in-process responder)"]
        rows = [
            [
                r["suite"],
                r["backend"],
                _num(r["sas"]),
                _kib(r["python_bytes_per_sa"]),
                _kib(r["rss_bytes_per_sa"]),
            ]
            for r in report["memory"]
        ]
        out += _table(["suite", "backend", "SAs", "Python KiB/SA", "RSS KiB/SA"], rows)
    if report["loopback"]:
        out += [
            "",
            "UDP loopback responder (initiators in other processes; "
            f"{_pinning(meta)}; CPU = each side's own share of the cores it could"
            " use, core(s) = how busy those cores were with anything, other"
            " processes included; drops = datagrams the kernel dropped on the"
            " sockets, receive buffer full; kept = SAs the responder still holds,"
            " RSS/SA is over those, n/a below 100)",
        ]
        rows = [
            [
                r["suite"],
                r["backend"],
                str(r["concurrency"]),
                f"{r['handshakes']}/{r['handshakes'] + r['failed']}",
                _drops(r),
                _num(r["rate"]),
                _num(r["p50_ms"], 2),
                _num(r["p99_ms"], 2),
                _num(r["responder_cpu_ms_per_handshake"], 3),
                _pct(r["responder_cpu_share"]),
                _pct(r.get("responder_core_busy")),
                _num(r.get("initiator_cpu_ms_per_handshake"), 3),
                _pct(r.get("initiator_cpu_share")),
                _pct(r.get("initiator_cores_busy")),
                str(r["responder_live_sas"]),
                _kib(r["responder_rss_bytes_per_sa"]),
                _rust_ratio(report, r, f"loopback x{r['concurrency']}"),
            ]
            for r in report["loopback"]
        ]
        out += _table(
            [
                "suite",
                "backend",
                "conc",
                "ok",
                "drops",
                "hs/s",
                "p50 ms",
                "p99 ms",
                "resp ms/hs",
                "resp CPU",
                "resp core",
                "init ms/hs",
                "init CPU",
                "init cores",
                "kept",
                "RSS KiB/SA",
                "rust/ref",
            ],
            rows,
        )
        for r in report["loopback"]:
            out += loopback_notes(r)
    return "\n".join(out)


def _drops(row: dict[str, Any]) -> str:
    """Datagrams the kernel dropped on the responder's and initiators' sockets;
    ``-`` where the system does not tell (or an older report)."""
    counts = [row.get("responder_drops"), row.get("initiator_drops")]
    known = [c for c in counts if c is not None]
    return _num(sum(known)) if known else "-"


def loopback_notes(row: dict[str, Any]) -> list[str]:
    """Lines under the loopback table for a row whose handshakes did not all
    complete, or whose datagrams the kernel dropped: how many, why, and what the
    drops cost. Nothing for a clean row."""
    failed, drops = row["failed"], row.get("responder_drops") or 0
    initiator_drops = row.get("initiator_drops") or 0
    if not (failed or drops or initiator_drops):
        return []
    total = row["handshakes"] + failed
    head = f"{row['suite']} {row['backend']} x{row['concurrency']}:"
    out = [""]
    if failed:
        out.append(f"{head} {failed:,} of {total:,} handshakes did not complete:")
        out += [
            f"  {n:,} {reason}" for reason, n in sorted(row.get("failures", {}).items())
        ]
    else:
        out.append(f"{head} every handshake completed, some after retransmissions:")
    if drops:
        granted = row.get("responder_receive_buffer")
        asked = row.get("responder_receive_buffer_asked")
        buffer = f"{_num(granted)} octets"
        if granted is not None and asked is not None and granted < asked:
            buffer += (
                f", of {_num(asked)} asked for: the kernel caps it at twice "
                "net.core.rmem_max, raise that to allow more"
            )
        out.append(
            f"  the responder's sockets dropped {drops:,} datagrams (receive buffer "
            f"full; it holds {buffer})"
        )
    if initiator_drops:
        out.append(
            f"  the initiators' sockets dropped {initiator_drops:,} datagrams "
            "(receive buffer full)"
        )
    if drops or initiator_drops:
        times = ", ".join(f"{t:g} s" for t in row.get("retransmit_after_s", [])[:3])
        out.append(
            "  each dropped request or response waits for the initiator's "
            f"retransmission ({times or 'the retransmission timeout'} after the "
            "first try, ...)"
        )
    return out


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


_NO_MATPLOTLIB = "--plot needs matplotlib; install it with: pip install matplotlib"


def check_plot_available() -> None:
    """Fail before measuring, not after, when ``--plot`` cannot work.

    Raises:
        PlotUnavailableError: matplotlib is missing.
    """
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailableError(_NO_MATPLOTLIB)


def plot(report: dict[str, Any], path: str) -> None:
    """Loopback handshake rate against concurrent initiators, one line per
    suite and backend, saved as PNG to exactly ``path``.

    Raises:
        PlotUnavailableError: matplotlib is missing (``pip install matplotlib``).
        ValueError: there are no loopback results to plot.
        OSError: the file cannot be written.
    """
    plt = _pyplot()
    fig = figure(report)
    try:
        # PNG whatever the name: without format= a name with no extension
        # would become NAME.png, another file than the one checked and named.
        fig.savefig(path, dpi=120, format="png")
    finally:
        plt.close(fig)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(f"{_NO_MATPLOTLIB} ({exc})") from None
    return plt


def figure(report: dict[str, Any]) -> Any:
    """The matplotlib Figure :func:`plot` saves (the rate axis starts at 0).

    Raises:
        PlotUnavailableError: matplotlib is missing.
        ValueError: there are no loopback results to plot.
    """
    plt = _pyplot()
    lines: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in report["loopback"]:
        key = (row["suite"], row["backend"])
        lines.setdefault(key, []).append((row["concurrency"], row["rate"]))
    if not lines:
        raise ValueError("--plot needs loopback results (not skipped by --parts)")
    fig, ax = plt.subplots(figsize=(8, 5))
    for (suite, backend), points in lines.items():
        points.sort()
        style = "-" if backend == "rust" else "--"
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            style,
            marker="o",
            label=f"{suite} ({backend})",
        )
    ax.set_xscale("log", base=2)
    ticks = sorted({row["concurrency"] for row in report["loopback"]})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)  # a rate axis from its lowest point exaggerates changes
    ax.set_xlabel("concurrent initiators")
    ax.set_ylabel("handshakes per second (responder on 127.0.0.1)")
    ax.set_title(f"pqike {report['meta']['pqike']} loopback handshake rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
