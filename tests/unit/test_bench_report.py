# SPDX-License-Identifier: Apache-2.0
"""pqike.bench.report: the text tables of a report."""

from __future__ import annotations

from typing import Any

from pqike.bench.report import format_tables

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
