# SPDX-License-Identifier: Apache-2.0
"""CLI helpers: the toy ICMP echo host, the event log and free-port picking."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pqike.cli import common
from pqike.cli.common import (
    EventLog,
    echo_reply,
    echo_request,
    free_udp_ports,
    parse_echo,
)
from pqike.cli.main import main


def test_echo_request_is_a_valid_ipv4_icmp_packet() -> None:
    packet = echo_request("10.1.0.1", "10.2.0.1", 7, 3, b"hello")
    assert len(packet) == 20 + 8 + 5
    assert packet[0] == 0x45
    assert packet[9] == 1
    assert int.from_bytes(packet[2:4], "big") == len(packet)
    echo = parse_echo(packet)
    assert echo is not None
    assert (echo.src, echo.dst, echo.is_request) == ("10.1.0.1", "10.2.0.1", True)
    assert (echo.ident, echo.seq, echo.data) == (7, 3, b"hello")


def test_echo_reply_swaps_addresses_and_keeps_the_payload() -> None:
    reply = echo_reply(echo_request("10.1.0.1", "10.2.0.1", 7, 3, b"x" * 56))
    assert reply is not None
    echo = parse_echo(reply)
    assert echo is not None
    assert (echo.src, echo.dst, echo.is_request) == ("10.2.0.1", "10.1.0.1", False)
    assert (echo.ident, echo.seq, echo.data) == (7, 3, b"x" * 56)
    assert echo_reply(reply) is None  # replies are not answered


def test_parse_echo_rejects_damaged_or_other_packets() -> None:
    packet = bytearray(echo_request("10.1.0.1", "10.2.0.1", 1, 1, b"abc"))
    assert parse_echo(b"") is None
    assert parse_echo(bytes(packet[:27])) is None
    flipped = bytearray(packet)
    flipped[-1] ^= 1
    assert parse_echo(bytes(flipped)) is None  # ICMP checksum
    flipped = bytearray(packet)
    flipped[8] ^= 1
    assert parse_echo(bytes(flipped)) is None  # IP header checksum
    udp = bytearray(packet)
    udp[9] = 17
    assert parse_echo(bytes(udp)) is None


@given(st.binary(max_size=200))
def test_parse_echo_never_raises(data: bytes) -> None:
    parse_echo(data)
    echo_reply(data)


def test_event_log_waits_and_times_out() -> None:
    async def test() -> None:
        log = EventLog()
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, log, "first")
        assert await log.wait_for(lambda lg: "first" in lg.events, 5)
        assert not await log.wait_for(lambda lg: "never" in lg.events, 0.05)
        assert log.of(str) == ["first"]

    asyncio.run(test())


def test_event_log_that_keeps_nothing_still_reports_and_wakes() -> None:
    # A long-running responder's log: memory must not grow per handshake.
    async def test() -> None:
        seen: list[object] = []
        log = EventLog(on_event=seen.append, keep=False)
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, log, "first")
        assert await log.wait_for(lambda _: bool(seen), 5)
        assert seen == ["first"]
        assert log.events == []

    asyncio.run(test())


def test_free_udp_ports_are_distinct_and_bindable() -> None:
    ports = free_udp_ports(4)
    assert len(set(ports)) == 4
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", ports[0]))


def test_missing_cryptography_suggests_the_reference_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def get_backend(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'cryptography'", name="cryptography")

    monkeypatch.setattr("pqike.crypto.get_backend", get_backend)
    with pytest.raises(ImportError) as info:
        common._backend("reference")
    assert "pip install 'pqike[reference]'" in str(info.value)


def _config(tmp_path: Path, conn: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        'listen = ["127.0.0.1"]\nport = 1\nnatt_port = 2\n[connections.c]\n'
        'local_id = "a.test"\nremote_id = "b.test"\npsk = "k"\n' + conn
    )
    return path


@pytest.mark.parametrize("remote", ['remote_addrs = ["%any"]\n', ""])
def test_initiate_without_a_peer_address_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], remote: str
) -> None:
    assert main(["initiate", "-c", str(_config(tmp_path, remote)), "c"]) == 2
    err = capsys.readouterr().err
    assert "configuration error: connections.c.remote_addrs:" in err
    assert "Traceback" not in err


def test_keylog_warning_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pqike.config import load

    config = load(_config(tmp_path, 'keylog = "keys.log"\n'))
    config = type(config)(
        listen=(("127.0.0.1", 0),),
        connections=config.connections,
        port=free_udp_ports(1)[0],
        natt_port=0,
    )

    async def start() -> None:
        peer = await common.start_peer(config, "rust")
        await peer.transport.close()

    with caplog.at_level(logging.WARNING, logger="pqike.cli"):
        asyncio.run(start())
    assert f"keylog is on for connection 'c': IKE keys are written to {tmp_path}" in (
        caplog.text
    )


def test_backend_gap_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--backend reference with ML-KEM-512: exit 2 naming the field and the reason
    (it used to fail the handshake with "unsupported transform type 4 id 0")."""
    pytest.importorskip("cryptography")
    conn = (
        'remote_addrs = ["127.0.0.1"]\n'
        'ike_proposals = ["aes256gcm16-prfsha384-x25519-ke1_mlkem512"]\n'
    )
    path = _config(tmp_path, conn)
    assert main(["--backend", "reference", "initiate", "-c", str(path), "c"]) == 2
    err = capsys.readouterr().err
    assert (
        "configuration error (with --backend reference): "
        "connections.c.ike_proposals[0]: ke1_mlkem512 cannot be used "
        "(reference backend: pyca/cryptography has no mlkem512)"
    ) in err
    assert "Traceback" not in err


def _stop_with_stdout_on_a_pipe(
    monkeypatch: pytest.MonkeyPatch, reader_goes_away: bool
) -> common.SignalStop:
    """A session's stop event with stdout on a pipe whose reader closes it (or not)
    while nothing is written."""
    read_end, write_end = os.pipe()

    async def session() -> common.SignalStop:
        stop = common.stop_on_signals()
        for _ in range(3):  # loop iterations, each polling the pipe
            await asyncio.sleep(0)
        assert not stop.is_set()
        if reader_goes_away:
            os.close(read_end)
            await asyncio.wait_for(stop.wait(), 30)
            # later lines go to /dev/null, without an error
            assert os.path.samestat(os.fstat(write_end), os.stat(os.devnull))
            common.say("nobody reads this")
        return stop

    with open(write_end, "w") as stdout, monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        try:
            return asyncio.run(session())
        finally:
            if not reader_goes_away:
                os.close(read_end)


def test_an_idle_session_notices_that_stdout_s_reader_went_away(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing is printed after the reader goes away (the SA is up, waiting for a
    # signal): the closed pipe alone stops the session, with status 1.
    with caplog.at_level(logging.WARNING, logger="pqike.cli"):
        stop = _stop_with_stdout_on_a_pipe(monkeypatch, reader_goes_away=True)
    assert stop.broken_pipe
    assert stop.signum is None
    assert stop.exit_status == 1
    assert "stdout was closed by its reader" in caplog.text
    assert not common._stdout_watch


def test_stdout_s_pipe_with_its_reader_does_not_stop_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = _stop_with_stdout_on_a_pipe(monkeypatch, reader_goes_away=False)
    assert not stop.is_set()
    assert not stop.broken_pipe


def test_start_peer_asks_for_the_configured_receive_buffer(
    rust_backend: object,
) -> None:
    from dataclasses import replace

    from pqike.config import demo_pair

    ports = free_udp_ports(2)
    responder, _ = demo_pair(responder_ports=(ports[0], ports[1]))

    async def buffers(receive_buffer: int) -> dict[Any, int]:
        peer = await common.start_peer(
            replace(responder, receive_buffer=receive_buffer)
        )
        try:
            return peer.transport.receive_buffers
        finally:
            await peer.transport.close()

    default = asyncio.run(buffers(0))
    asked = 2 * max(default.values())
    assert len(default) == 2
    assert all(size >= asked for size in asyncio.run(buffers(asked)).values())
