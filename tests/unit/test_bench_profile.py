# SPDX-License-Identifier: Apache-2.0
"""``python -m pqike.bench.profile --counts``: load-independent counts per handshake."""

from __future__ import annotations

import pytest

from pqike.bench import profile


def test_counts_are_per_handshake_and_stable() -> None:
    # The same handshake runs the same code whatever the machine is doing: the
    # per-handshake counts of 4 and of 8 handshakes agree closely (random SPIs,
    # nonces and keys change values, not paths). Not 2: the bounded codec memos are
    # emptied when full (each Child SA proposal's octets differ by their SPI), and
    # after earlier tests one refill (~30 calls) can land in the run: 2 % of two
    # handshakes, half that of four.
    fewer = profile.count_handshakes("x25519", "rust", 4)
    more = profile.count_handshakes("x25519", "rust", 8)
    assert fewer.handshakes == 4
    assert more.handshakes == 8
    for a, b in (
        (fewer.python_calls, more.python_calls),
        (fewer.c_calls, more.c_calls),
        (fewer.opcodes, more.opcodes),
    ):
        assert a > 0
        assert abs(a - b) <= 0.02 * a
    assert sum(more.opcodes_by_area.values()) == pytest.approx(more.opcodes)
    assert more.opcodes_by_area["engine"] > 0
    assert more.opcodes_by_area["codec"] > 0


def test_hybrid_suite_costs_more_than_x25519_alone() -> None:
    # One IKE_INTERMEDIATE exchange more (with a fragmented request): more work.
    x25519 = profile.count_handshakes("x25519", "rust", 2)
    hybrid = profile.count_handshakes("x25519+mlkem768", "rust", 2)
    assert hybrid.opcodes > 1.15 * x25519.opcodes
    assert hybrid.python_calls > x25519.python_calls


def test_counts_command_prints_the_areas(capsys: pytest.CaptureFixture[str]) -> None:
    assert profile.main(["--counts", "--count", "2", "--suite", "x25519"]) == 0
    out = capsys.readouterr().out
    assert "bytecode instructions" in out
    assert "engine" in out
    assert "codec" in out


def test_count_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        profile.main(["--counts", "--count", "0"])
