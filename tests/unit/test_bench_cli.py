# SPDX-License-Identifier: Apache-2.0
"""``pqike bench --quick``: the table and JSON have their shape and every handshake
established. Speed is not checked."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pqike.cli.main import main

SUITE = "x25519+mlkem768"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """One quick run on one suite, both backends, two concurrency levels."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(
            [
                "bench",
                "--quick",
                "--suites",
                SUITE,
                "--count",
                "3",
                "--concurrency",
                "1,2",
                "--no-progress",
                "--json",
                str(out),
            ]
        )
    assert status == 0
    return stdout.getvalue(), json.loads(out.read_text())


def test_bench_quick_json_has_every_part_for_both_backends(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, report = quick_run
    backends = ["rust", "reference"]
    assert [r["backend"] for r in report["inprocess"]] == backends
    assert [r["backend"] for r in report["memory"]] == backends
    assert [(r["backend"], r["concurrency"]) for r in report["loopback"]] == [
        (b, c) for b in backends for c in (1, 2)
    ]
    assert set(report["ratios"]) == {"pqike_vs_crypto_only", "rust_vs_reference"}
    assert report["meta"]["suites"] == [SUITE]
    pinned = report["meta"]["pinned"]
    assert all(r["pinned"] is (pinned is not None) for r in report["loopback"])
    if pinned is not None:  # the default with two or more usable CPUs
        assert len(pinned["responder_cpus"]) == 1
        assert pinned["responder_cpus"][0] not in pinned["initiator_cpus"]


def test_bench_quick_every_handshake_established(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, report = quick_run
    for row in report["inprocess"]:
        assert row["handshakes"]["count"] == 3
        assert row["crypto_only"]["count"] == 3
        assert [e[0] for e in row["exchanges"]] == [
            "IKE_SA_INIT",
            "IKE_INTERMEDIATE",
            "IKE_AUTH",
        ]
        assert row["crypto_calls"]["Backend.keymat_derive"] == 2
    for row in report["loopback"]:
        assert row["failed"] == 0
        assert row["handshakes"] == 3
        assert row["responder_children"] == 3
        assert row["responder_live_sas"] == 3
        assert row["responder_cpu_ms_per_handshake"] > 0


def test_bench_quick_table_lists_each_measurement(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    text, _ = quick_run
    assert "In-process handshakes" in text
    assert "Memory per IKE SA" in text
    assert "UDP loopback responder" in text
    assert ("responder pinned to CPU" in text) or ("not pinned to CPUs" in text)
    assert text.count(SUITE) == 2 + 2 + 4


def test_bench_unknown_suite_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--quick", "--suites", "nosuch"]) == 2
    assert "unknown suite 'nosuch'" in capsys.readouterr().err


def test_bench_concurrency_above_the_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It used to start and fail with "cannot bind 127.0.0.1:45596: Address already
    # in use" once the ephemeral ports (or the descriptors) ran out.
    with pytest.raises(SystemExit) as info:
        main(["bench", "--parts", "loopback", "--concurrency", "1,100000"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert (
        "--concurrency: at most 1000 initiators (the responder's half_open_limit" in err
    )
    assert "got 100000" in err
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "each 1..1000" in " ".join(capsys.readouterr().out.split())


def test_bench_pin_without_two_cpus_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert main(["bench", "--quick", "--parts", "loopback", "--pin"]) == 2
    assert "pinning needs two usable CPUs" in capsys.readouterr().err


def test_bench_plot_without_loopback_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = [
        "bench",
        "--quick",
        "--parts",
        "inprocess",
        "--plot",
        str(tmp_path / "p.png"),
    ]
    assert main(args) == 2
    assert "--plot needs the loopback part" in capsys.readouterr().err


def test_bench_plot_without_matplotlib_names_the_install(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def no_matplotlib(name: str, *args: Any) -> Any:
        return None if name == "matplotlib" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", no_matplotlib)
    assert main(["bench", "--quick", "--plot", str(tmp_path / "p.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_bench_quick_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "rate.png"
    args = ["bench", "--quick", "--suites", "x25519", "--backends", "rust"]
    args += ["--parts", "loopback", "--no-progress", "--plot", str(out)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
