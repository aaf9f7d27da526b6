# SPDX-License-Identifier: Apache-2.0
"""``pqike bench --quick``: the table and JSON have their shape and every handshake
established. Speed is not checked."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
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


def test_bench_quick_shares_from_too_few_samples_are_n_a(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    """Three handshakes per measurement: too few for a median-based share."""
    text, report = quick_run
    for row in report["inprocess"]:
        assert row["crypto_share"] is None
        assert row["crypto_share_mean"] is None
    assert set(report["ratios"]["pqike_vs_crypto_only"].values()) == {None}
    assert set(report["ratios"]["rust_vs_reference"].values()) == {None}
    rust = next(line for line in text.splitlines() if f"{SUITE}  rust " in line)
    assert rust.split()[-2:] == ["n/a", "n/a"], rust


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


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--duration", "nan"),
        ("--duration", "inf"),
        ("--duration", "-1"),
        ("--duration", "0"),
        ("--count", "0"),
        ("--count", "many"),
        ("--memory-sas", "0"),
        ("--initiator-processes", "0"),
        ("--concurrency", "0"),
        ("--concurrency", ""),
        ("--concurrency", "1,x"),
        ("--backends", ""),
        ("--backends", "rust,nosuch"),
        ("--parts", ""),
        ("--parts", "loopback,nosuch"),
    ],
)
def test_bench_bad_numbers_and_names_are_usage_errors_naming_the_option(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # --duration nan crashed, -1 was taken, 0 meant 10 s; --backends "" ran
    # nothing and --parts "" everything, both with exit 0.
    with pytest.raises(SystemExit) as info:
        main(["bench", "--quick", f"{option}={value}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err
    assert "Traceback" not in err


def test_bench_unwritable_outputs_are_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text("earlier results\n")
    new = tmp_path / "new.json"
    for output, path, why in [
        ("--json", "/nonexistent/dir/x.json", "No such file or directory"),
        ("--plot", str(tmp_path), "Is a directory"),
    ]:
        other = "--plot" if output == "--json" else "--json"
        other_path = str(new if output == "--json" else kept)
        args = ["bench", "--quick", "--parts", "loopback", "--no-progress"]
        assert main([*args, other, other_path, output, path]) == 2
        out, err = capsys.readouterr()
        assert f"pqike bench: {output} {path}: cannot write: {why}" in err
        assert out == ""  # nothing was measured
    assert kept.read_text() == "earlier results\n"
    assert not new.exists()  # the check created it, and removed it again


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    ("option", "part", "table"),
    [
        ("--json", "inprocess", "In-process handshakes"),
        ("--plot", "loopback", "UDP loopback responder"),
    ],
)
def test_bench_write_error_at_the_end_keeps_the_table(
    option: str, part: str, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """/dev/full opens for writing (the check passes) and fails every write."""
    if option == "--plot":
        pytest.importorskip("matplotlib")
    args = ["bench", "--quick", "--suites", "x25519", "--backends", "rust"]
    args += ["--parts", part, "--no-progress", option, "/dev/full"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert table in out
    assert f"could not write {option} /dev/full: No space left on device" in err


def test_bench_without_cryptography_names_the_way_out() -> None:
    """A venv without pyca/cryptography: the reference backend cannot load."""
    root = Path(__file__).resolve().parents[2]
    no_cryptography = (
        "import sys; sys.modules['cryptography'] = None; "
        "from pqike.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", no_cryptography, "bench", "--quick", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(root / "python")),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "backend 'reference' not available" in result.stderr
    assert "use --backends rust" in result.stderr
    assert "pip install 'pqike[reference]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # refused before measuring the rust backend
