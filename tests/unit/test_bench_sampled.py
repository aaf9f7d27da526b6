# SPDX-License-Identifier: Apache-2.0
"""``python -m pqike.bench.sampled``: wall-time shares from py-spy raw samples.

The stacks below have the shape of real ``py-spy record --native --full-filenames
-f raw`` lines (outermost frame first, ``;``-separated, the count last)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pqike.bench import sampled

_P = "/site/pqike"
_LOOP = (
    f"_run (/{_P}/bench/sampled.py:148);_handshakes ({_P}/bench/profile.py:75);"
    f"pump ({_P}/bench/inprocess.py:98);"
    f"IkeEndpoint.receive_datagram ({_P}/ikev2/endpoint.py:205);"
    f"IkeSa.receive_message ({_P}/ikev2/sa.py:612)"
)
_NATIVE = "(/site/pqike/_native.abi3.so)"
_LIBPY = "(/usr/lib/libpython3.11.so.1.0)"

LINES = {
    # a Rust call under the engine: crypto, however deep the Python above it
    "crypto": f"{_LOOP};IkeMultiKe._process_i ({_P}/ikev2/tasks/ike_multi_ke.py:152);"
    f"pqike_core::kex::MlKemDk::decapsulate::h1 {_NATIVE};libcrux::x::h2 {_NATIVE}",
    # the AEAD called by the codec is crypto too, not codec
    "crypto-in-codec": f"{_LOOP};seal_payloads ({_P}/ikev2/codec/protected.py:120);"
    f"_native::aead::PyIkeCipher::seal::h3 {_NATIVE}",
    # a record built and a memo read by the codec count as codec
    "codec": f"{_LOOP};decode_payloads ({_P}/ikev2/codec/message.py:200);"
    f"__init__ (<string>:2);IdentityMemo.get ({_P}/_memo.py:56)",
    "engine": f"{_LOOP};IkeSa._kick ({_P}/ikev2/sa.py:539);"
    f"_PyEval_EvalFrameDefault {_LIBPY}",
    "gc": f"{_LOOP};IkeSa._kick ({_P}/ikev2/sa.py:539);gc_collect_main {_LIBPY}",
    "random": f"{_LOOP};initiator_ke ({_P}/ikev2/tasks/common.py:176);"
    f"os_urandom {_LIBPY}",
    # set-up: building endpoints is not timed by pqike bench, imports neither
    "endpoint": f"_run (/{_P}/bench/sampled.py:148);"
    f"_handshakes ({_P}/bench/profile.py:72);"
    f"IkeEndpoint.__init__ ({_P}/ikev2/endpoint.py:94);os_urandom {_LIBPY}",
    "import": "<module> (/site/x.py:1);_find_and_load (<frozen importlib>:1176)",
}


@pytest.mark.parametrize(
    ("line", "area"),
    [
        ("crypto", "crypto"),
        ("crypto-in-codec", "crypto"),
        ("codec", "codec"),
        ("engine", "engine"),
        ("gc", "gc"),
        ("random", "randomness"),
        ("endpoint", "outside"),
        ("import", "outside"),
    ],
)
def test_each_stack_lands_in_its_area(line: str, area: str) -> None:
    (sample,) = sampled.parse_raw([LINES[line] + " 7\n"])
    assert sample.count == 7
    assert sampled.classify(sample.frames) == area


def test_shares_add_up_over_handshake_samples_only() -> None:
    lines = [f"{LINES[k]} {n}" for k, n in (("crypto", 30), ("codec", 20))]
    lines += [f"{LINES['engine']} 50", f"{LINES['import']} 1000", ""]
    result = sampled.shares(sampled.parse_raw(lines))
    assert result.outside == 1000
    assert result.total == 100
    assert result.share("crypto") == pytest.approx(0.30)
    assert result.share("codec") == pytest.approx(0.20)
    assert result.share("engine") == pytest.approx(0.50)


def test_a_line_without_count_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        sampled.parse_raw([LINES["engine"] + " 3", LINES["engine"]])


def test_command_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "samples.txt"
    raw.write_text(f"{LINES['crypto']} 3\n{LINES['codec']} 1\n{LINES['import']} 9\n")
    assert sampled.main([str(raw)]) == 0
    out = capsys.readouterr().out
    assert "4 handshake samples (9 outside" in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["crypto"].endswith("75.0 %")
    assert rows["codec"].endswith("25.0 %")


def test_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(f"{LINES['import']} 9\n")
    assert sampled.main([str(empty)]) == 1
    assert "no handshake samples" in capsys.readouterr().err
    assert sampled.main([str(tmp_path / "missing.txt")]) == 1
    with pytest.raises(SystemExit):
        sampled.main([])
    with pytest.raises(SystemExit):
        sampled.main(["--run", "0"])


def test_run_does_handshakes(capsys: pytest.CaptureFixture[str]) -> None:
    assert sampled.main(["--run", "0.01", "--suite", "x25519"]) == 0
    assert "handshakes in" in capsys.readouterr().out
