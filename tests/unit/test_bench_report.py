# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.report: the text tables of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pqike.bench.report import figure, format_tables, plot
from pqike.bench.runner import ratios
from pqike.bench.stats import MIN_SAMPLES, Timing, ratio

META = {
    "pqike": "0",
    "python": "3",
    "cpus": 2,
    "loadavg_at_start": [0.0, 0.0, 0.0],
    "esp": "aes256gcm16",
}


def _memory_table(rows: list[dict[str, Any]]) -> list[str]:
    """The data lines of the memory table."""
    report = {"meta": META, "inprocess": [], "memory": rows, "loopback": []}
    return [
        line
        for line in format_tables(report).splitlines()
        if line.startswith(("x25519 ", "mlkem768 "))
    ]


def test_memory_rss_without_a_figure_prints_n_a() -> None:
    """A null RSS per SA (too few SAs, allocator reuse) is 'n/a', not a number."""
    row = {"suite": "x25519", "backend": "rust", "sas": 2, "python_bytes_per_sa": 9216}
    lines = _memory_table([{**row, "rss_bytes_per_sa": None}])
    assert lines[0].split()[-1] == "n/a", lines
    lines = _memory_table([{**row, "sas": 500, "rss_bytes_per_sa": 15155.2}])
    assert lines[0].split()[-1] == "14.8", lines


def _timing(count: int, rate: float) -> dict[str, Any]:
    return Timing([1 / rate] * count).as_dict()


def _inprocess_row(backend: str, count: int, hs: float, crypto: float) -> Any:
    return {
        "suite": "x25519",
        "backend": backend,
        "handshakes": _timing(count, hs),
        "crypto_only": _timing(count, crypto),
        "crypto_share": ratio(hs, crypto, count, 4),
    }


def test_ratio_needs_min_samples_on_both_sides() -> None:
    assert MIN_SAMPLES == 5
    assert ratio(3.05, 1.0, 1, 2) is None  # the 305 % of a one-handshake run
    assert ratio(3.05, 1.0, MIN_SAMPLES - 1, 2) is None
    assert ratio(1.0, 4.0, MIN_SAMPLES, 2) == 0.25
    assert ratio(1.0, 0.0, 100, 2) is None
    assert ratio(float("nan"), 1.0, 100, 2) is None


def test_ratios_from_too_few_samples_are_null_and_print_n_a() -> None:
    for count, share, rust_ref, shown in ((1, None, None, "n/a"), (5, 0.5, 2.0, "")):
        report = {
            "meta": META,
            "inprocess": [
                _inprocess_row("rust", count, 1000.0, 2000.0),
                _inprocess_row("reference", count, 500.0, 1000.0),
            ],
            "memory": [],
            "loopback": [],
        }
        report["ratios"] = ratios(report)
        assert report["inprocess"][0]["crypto_share"] == share
        assert report["ratios"]["pqike_vs_crypto_only"]["x25519 rust"] == share
        assert report["ratios"]["rust_vs_reference"]["x25519 inprocess"] == rust_ref
        rust_line = next(
            line for line in format_tables(report).splitlines() if " rust " in line
        )
        if shown:
            assert rust_line.split()[-2:] == ["n/a", "n/a"], rust_line
        else:
            assert rust_line.split()[-2:] == ["50%", "2.00x"], rust_line


def test_plot_rate_axis_starts_at_zero() -> None:
    pytest.importorskip("matplotlib")
    rows = [
        {"suite": "x25519", "backend": "rust", "concurrency": c, "rate": r}
        for c, r in ((1, 800.0), (2, 900.0), (4, 950.0))
    ]
    report = {"meta": META | {"pqike": "0"}, "loopback": rows}
    fig = figure(report)
    try:
        bottom, top = fig.axes[0].get_ylim()
        assert bottom == 0
        assert top >= 950
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_plot_writes_exactly_the_named_file(tmp_path: Path) -> None:
    """A name without .png used to become NAME.png: not the file that --plot was
    checked for and that the user named."""
    pytest.importorskip("matplotlib")
    rows = [{"suite": "x25519", "backend": "rust", "concurrency": 1, "rate": 800.0}]
    path = tmp_path / "rate"
    plot({"meta": META, "loopback": rows}, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "rate.png").exists()


_ROW_START = ["x25519+mlkem768", "rust", "1000"]


def _loopback_row(**fields: Any) -> dict[str, Any]:
    from pqike.bench.loopback import LoopbackResult

    result = LoopbackResult("x25519+mlkem768", "rust", 1000, 1, **fields)
    result.latencies = [0.5] * result.handshakes
    return result.as_dict()


def test_loopback_rows_say_what_did_not_complete_and_why() -> None:
    from pqike.bench.loopback import TIMED_OUT

    row = _loopback_row(
        handshakes=893,
        failed=107,
        timed_out=100,
        failures={TIMED_OUT: 100, "failed: peer not responding": 7},
        seconds=10.0,
        responder={"buffer_asked": 8192000, "buffer": 425984, "drops": 1724},
        initiator_drops=0,
    )
    report = {"meta": META, "inprocess": [], "memory": [], "loopback": [row]}
    report["ratios"] = ratios(report)
    text = format_tables(report)
    (line,) = [x for x in text.splitlines() if x.split()[:3] == _ROW_START]
    assert line.split()[3:5] == ["893/1000", "1,724"]  # ok, drops
    notes = text.split(line, 1)[1].strip().splitlines()
    assert notes == [
        "x25519+mlkem768 rust x1000: 107 of 1,000 handshakes did not complete:",
        "  7 failed: peer not responding",
        "  100 timed out: no Child SA within 30 s (the bench's limit)",
        "  the responder's sockets dropped 1,724 datagrams (receive buffer full; it "
        "holds 425,984 octets, of 8,192,000 asked for: the kernel caps it at twice "
        "net.core.rmem_max, raise that to allow more)",
        "  each dropped request or response waits for the initiator's retransmission "
        "(4 s, 11.2 s, 24.16 s after the first try, ...)",
    ]


def test_a_clean_loopback_row_has_no_notes() -> None:
    row = _loopback_row(
        handshakes=1000,
        seconds=1.0,
        responder={"buffer_asked": 8192000, "buffer": 8388608, "drops": 0},
        initiator_drops=0,
    )
    report = {"meta": META, "inprocess": [], "memory": [], "loopback": [row]}
    report["ratios"] = ratios(report)
    lines = format_tables(report).splitlines()
    assert lines[-1].split()[:5] == [*_ROW_START, "1000/1000", "0"]
