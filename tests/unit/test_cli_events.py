# SPDX-License-Identifier: Apache-2.0
"""How ``pqike initiate``/``respond`` print SA events: Child SAs by their SPI in 8 hex
digits (as strongSwan), and the transport-mode warning once."""

from __future__ import annotations

import logging
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from pqike.cli.common import EventLog, Peer, format_spi
from pqike.cli.peer_session import _Printer, describe
from pqike.config import defaults
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    ChildRekeyed,
    ConnectionFailed,
    ExchangeCompleted,
    IkeEstablished,
)

SA: Any = 1


def _child(mode: str = "tunnel") -> ChildEstablished:
    return ChildEstablished(
        sa=SA,
        child=0xC1234567,
        spi_in=0xC1234567,
        spi_out=0xABCD,
        mode=mode,
        encryption="AES_GCM_16_256",
        name="net",
    )


def test_format_spi_is_eight_hex_digits() -> None:
    assert [format_spi(s) for s in (0xC1234567, 0xABCD, 1, 0xFFFFFFFF)] == [
        "c1234567",
        "0000abcd",
        "00000001",
        "ffffffff",
    ]


def test_child_events_show_hex_spis() -> None:
    """Not the decimal SPI ('#3240379751'): the same 8 hex digits everywhere."""
    assert describe(_child(), esn=False) == (
        "Child SA 'net' (c1234567) of IKE SA #1 up: tunnel mode, ESP AES_GCM_16_256, "
        "ESN off, SPIs c1234567_i 0000abcd_o"
    )
    deleted = ChildDeleted(SA, 0xC1234567, "deleted by peer")
    assert describe(deleted) == "Child SA c1234567 deleted: deleted by peer"
    rekeyed = ChildRekeyed(SA, 0xC1234567, 0x0A0B0C0D)
    assert describe(rekeyed) == "Child SA c1234567 rekeyed as 0a0b0c0d"


def test_sa_lines_show_the_peer_address_and_notify_name() -> None:
    established = IkeEstablished(SA, "SUITE", b"\x01" * 8, b"\x02" * 8, False, "lab")
    assert describe(established, remote="[::1]:4500") == (
        "IKE SA #1 'lab' established as responder with [::1]:4500: SUITE "
        "(SPIs 0101010101010101/0202020202020202)"
    )
    failed = ConnectionFailed(SA, "authentication failed", 24)
    assert describe(failed, remote="127.0.0.1:500") == (
        "IKE SA #1 with 127.0.0.1:500 failed: authentication failed "
        "(notify AUTHENTICATION_FAILED(24))"
    )
    assert describe(ConnectionFailed(SA, "odd", 40000)) == (
        "IKE SA #1 failed: odd (notify 40000)"
    )


def test_printer_notes_the_peer_address_for_a_failure_after_the_sa_is_gone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The engine may forget a failed SA before its ConnectionFailed is printed."""
    sa = SimpleNamespace(remote=("192.0.2.7", 4500))
    peer = Peer(
        endpoint=SimpleNamespace(sas={SA: sa}),
        transport=None,
        log=EventLog(),
        config=defaults("responder"),
    )
    printer = _Printer([peer], quiet_unauthenticated=False)
    printer(ExchangeCompleted(SA, "IKE_SA_INIT", 240, 240, is_initiator=False))
    peer.endpoint.sas.clear()
    printer(ConnectionFailed(SA, "authentication failed", 24))
    out = capsys.readouterr().out
    assert "IKE SA #1 with 192.0.2.7:4500 failed: authentication failed" in out
    assert printer.remotes == {}


def test_transport_mode_warning_is_printed_once(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The warning went to stdout and, as a WARNING log record, to stderr too."""
    config = defaults("initiator")
    conn = config.connections["demo"]
    child = replace(conn.children[0], mode="transport")
    config = replace(config, connections={"demo": replace(conn, children=(child,))})
    peer = Peer(
        endpoint=SimpleNamespace(sas={}),
        transport=None,
        log=EventLog(),
        config=config,
    )
    printer = _Printer([peer], quiet_unauthenticated=False)
    caplog.set_level(logging.DEBUG)
    printer(IkeEstablished(SA, "suite", is_initiator=True, conn_name="demo"))
    printer(_child("tunnel"))
    out = capsys.readouterr()
    assert out.out.count("asked for transport mode") == 1
    assert (
        "warning: Child SA 'net' asked for transport mode but the peer set it up "
        "in tunnel mode"
    ) in out.out
    assert "transport mode" not in out.err
    assert not [r for r in caplog.records if "transport mode" in r.getMessage()]
