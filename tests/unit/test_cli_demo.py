# SPDX-License-Identifier: Apache-2.0
"""``pqike demo`` as a subprocess, and the CLI's argument and error handling."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pqike.cli.main import COMMANDS, build_parser, main
from pqike.crypto import available_backends

ROOT = Path(__file__).resolve().parents[2]


def pqike(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pqike.cli.main ARGS`` with this checkout on the path."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run(
        [sys.executable, "-m", "pqike.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _backend() -> str:
    names = available_backends()
    if not names:
        pytest.skip("no crypto backend can be loaded")
    return names[0]


def test_demo_prints_exchanges_suite_and_esp() -> None:
    result = pqike("--backend", _backend(), "demo", "--port-base", "0")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "IKE proposal: aes256gcm16-prfsha384-x25519-ke1_mlkem768" in out
    lines = out.splitlines()
    exchanges = [line.split()[0] for line in lines if " request " in line]
    assert exchanges[:3] == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
    assert "suite: AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519/ADDKE1=ML_KEM_768" in out
    assert "IKE SA established in " in out
    # SPIs as strongSwan prints them: 8 hex digits, _i inbound, _o outbound.
    child = re.search(r"^Child SA net established: .*, SPIs (\S+) (\S+)$", out, re.M)
    assert child is not None, out
    assert re.fullmatch("[0-9a-f]{8}_i", child.group(1)), child.group(0)
    assert re.fullmatch("[0-9a-f]{8}_o", child.group(2)), child.group(0)
    assert "responder: 5/5 received and authenticated" in out
    assert "initiator: 5/5 echo replies received and authenticated" in out
    assert "IKE SA deleted" in out


def test_demo_packet_count_option() -> None:
    result = pqike(
        "--backend", _backend(), "demo", "--port-base", "0", "--packets", "2"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "initiator: 2/2 echo replies" in result.stdout


def test_demo_1000_packets_are_paced_and_all_answered() -> None:
    # Sent in one burst, only ~256 fitted into the responder's socket buffer.
    result = pqike(
        "--backend", _backend(), "demo", "--port-base", "0", "--packets", "1000"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "responder: 1000/1000 received" in result.stdout
    assert "initiator: 1000/1000 echo replies" in result.stdout


def test_demo_reports_missing_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pqike.ikev2.endpoint", None)
    monkeypatch.delitem(sys.modules, "pqike.cli.demo_session", raising=False)
    assert main(["demo", "--port-base", "0"]) == 2
    err = capsys.readouterr().err
    assert "pqike demo: engine not available:" in err


def test_demo_rejects_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--size", "5000"]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["demo", "--port-base", "65533"]) == 2
    assert "--port-base" in capsys.readouterr().err


def test_every_command_has_help() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for name in COMMANDS:
        assert name in help_text
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--log-level", "loud", "demo"])
    assert info.value.code == 2


def test_config_error_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'listen = ["127.0.0.1"]\n[connections.x]\nlocal_id = "a"\nremote_id = "b"\n'
        'psk = "k"\nike_proposals = ["aes256gcm16-x25519-prfsha384-ke1_mlkem1000"]\n'
    )
    assert main(["initiate", "-c", str(path), "x"]) == 2
    err = capsys.readouterr().err
    assert "connections.x.ike_proposals[0]" in err
    assert "'ke1_mlkem1000'" in err


def test_initiate_unknown_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["initiate", "-c", str(ROOT / "examples/initiator.toml"), "nope"]) == 2
    assert "no connection 'nope'" in capsys.readouterr().err


def test_decode_prints_header_and_payloads(capsys: pytest.CaptureFixture[str]) -> None:
    from pqike.ikev2.codec import IkeHeader, Message, NoncePayload, encode_message

    header = IkeHeader(b"\x01" * 8, bytes(8), 34, 0x08, 0)
    datagram = encode_message(Message(header, (NoncePayload(b"\xab" * 32),)))
    assert main(["decode", "0000 0000" + datagram.hex()]) == 0
    out = capsys.readouterr().out
    assert "non-ESP marker" in out
    assert "IKE_SA_INIT(34) request from the initiator, message ID 0" in out
    assert "0101010101010101 / 0000000000000000" in out
    assert "NoncePayload(" in out
    assert "abab" in out


def test_decode_names_notify_types(capsys: pytest.CaptureFixture[str]) -> None:
    from pqike.ikev2.codec import IkeHeader, Message, NotifyPayload, encode_message

    header = IkeHeader(b"\x01" * 8, bytes(8), 34, 0x20, 0)
    notifies = (NotifyPayload(17, b"\x00\x1f"), NotifyPayload(16388, b"\x07" * 20))
    unassigned = NotifyPayload(40000)
    datagram = encode_message(Message(header, (*notifies, unassigned)))
    assert main(["decode", datagram.hex()]) == 0
    out = capsys.readouterr().out
    assert "NotifyPayload(notify_type=INVALID_KE_PAYLOAD(17), data=001f" in out
    assert "notify_type=NAT_DETECTION_SOURCE_IP(16388)" in out
    assert "notify_type=40000," in out


def test_decode_rejects_garbage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "zz"]) == 2
    assert main(["decode", "00" * 10]) == 1
    assert "not an IKE message" in capsys.readouterr().err


def test_demo_reports_ports_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    _backend()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert main(["demo", "--port-base", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot bind 127.0.0.1:{port}" in err
    assert "--port-base 0" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["initiate", "-c", "x.toml", "x", "--ping", "70000"],
        ["initiate", "-c", "x.toml", "x", "--ping=-5"],
        ["initiate", "-c", "x.toml", "x", "--ping", "many"],
        ["initiate", "-c", "x.toml", "x", "--timeout", "-1"],
        ["initiate", "-c", "x.toml", "x", "--timeout", "0"],
        ["initiate", "-c", "x.toml", "x", "--timeout", "nan"],
        ["initiate", "-c", "x.toml", "x", "--timeout", "inf"],
        ["demo", "--packets", "65536"],
        ["demo", "--packets=-1"],
        ["demo", "--timeout", "nan"],
    ],
)
def test_counts_and_timeouts_out_of_range_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "must be" in err or "is not" in err


def test_counts_accept_the_16_bit_range() -> None:
    parser = build_parser()
    args = parser.parse_args(["initiate", "-c", "x.toml", "x", "--ping", "65535"])
    assert args.ping == 65535
    assert parser.parse_args(["demo", "--packets", "0"]).packets == 0
