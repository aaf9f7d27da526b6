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
