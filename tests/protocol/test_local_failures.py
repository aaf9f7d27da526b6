# SPDX-License-Identifier: Apache-2.0
"""Our own failures while answering a valid request (encoding the response,
installing our side) fail that SA locally, with its reason, and never pass for a
dropped peer datagram: the SA is forgotten, the peer is not left with an SA we do
not have, and the endpoint's other SAs keep working."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pqike.crypto import Backend
from pqike.ikev2.codec.header import IkeHeader
from pqike.ikev2.codec.message import decode_message
from pqike.ikev2.constants import NON_ESP_MARKER, ExchangeType
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    ConnectionFailed,
    IkeDeleted,
    IkeEstablished,
)
from pqike.ikev2.manager import Encoded, Manager

from .helpers import PSK, Channel, initiator_and_responder, roundtrip
from .test_malformed import OTHER_ADDR, _inject, _setup, _still_serving

_ORIGINAL_ENCODE = Manager.encode


def _failing_encode(
    when: Callable[[Manager, IkeHeader, Sequence[Any]], bool], error: Exception
) -> Any:
    """Manager.encode that raises ``error`` for the messages ``when`` picks."""

    def encode(
        self: Manager, header: IkeHeader, payloads: Sequence[Any], *a: Any, **k: Any
    ) -> Encoded:
        if when(self, header, payloads):
            raise error
        return _ORIGINAL_ENCODE(self, header, payloads, *a, **k)

    return encode


def _ike_auth_request(channel: Channel) -> bytes:
    """The initiator's (NAT-T framed) IKE_AUTH request as sent."""
    for sender, data in channel.log:
        if sender != "i" or data[:4] != NON_ESP_MARKER:
            continue
        header = decode_message(data[4:]).header
        if header.exchange_type == ExchangeType.IKE_AUTH and not header.is_response:
            return data
    raise AssertionError("no IKE_AUTH request")


def test_responder_esp_spi_zero_refuses_only_the_child(backend: Backend) -> None:
    # The backend refuses our own inbound SPI 0 (RFC 4303 §2.1) mid-IKE_AUTH: only
    # the child is refused; both sides keep the same IKE SA.
    i, r = initiator_and_responder(backend)
    r.ep._ctx.alloc_esp_spi = lambda: 0
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events
    assert not i.of(ConnectionFailed)
    assert not r.of(ConnectionFailed)
    assert not i.of(ChildEstablished)
    assert not r.of(ChildEstablished)
    refused = [e.reason for e in i.of(ChildDeleted)]
    assert any("NO_PROPOSAL_CHOSEN" in reason for reason in refused), refused
    (sa_i,) = i.ep.ike_sas()
    (sa_r,) = r.ep.ike_sas()
    assert (sa_i.spi_i, sa_i.spi_r) == (sa_r.spi_i, sa_r.spi_r)
    assert not r.ep._esp_in
    assert not sa_r.children
    # a retransmitted IKE_AUTH request gets the cached answer, not INVALID_SYNTAX
    request = _ike_auth_request(channel)
    cached = sa_r.manager.cached
    assert cached is not None
    answers = _inject(r, request, src=i.addr, natt=True)
    assert answers == [NON_ESP_MARKER + d for d in cached.encoded.datagrams]
    assert r.ep.ike_sas() == [sa_r]


def test_encoder_failure_in_ike_auth_response_fails_only_that_sa(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    i, r, other = _setup(backend)
    established_before = list(r.of(IkeEstablished))
    overflow = struct.error("'H' format requires 0 <= number <= 65535")
    monkeypatch.setattr(
        Manager,
        "encode",
        _failing_encode(
            lambda m, h, p: h.exchange_type == ExchangeType.IKE_AUTH and h.is_response,
            overflow,
        ),
    )
    caplog.set_level(logging.WARNING, logger="pqike")
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel, until=lambda: bool(r.of(ConnectionFailed)))
    (failed,) = r.of(ConnectionFailed)
    assert "local error while building IKE_AUTH response" in failed.reason
    assert "struct.error" in failed.reason
    assert failed.notify is None
    # the response never left: nothing of that SA remains on the responder
    assert r.of(IkeEstablished) == established_before
    assert [sa.remote[0] for sa in r.ep.sas.values()] == [OTHER_ADDR]
    assert all(sa.remote[0] == OTHER_ADDR for sa in r.ep._by_spi.values())
    assert all(sa.remote[0] == OTHER_ADDR for sa, _ in r.ep._esp_in.values())
    assert not r.ep._by_init or all(
        sa.remote[0] == OTHER_ADDR for sa in r.ep._by_init.values()
    )
    warnings = [
        rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING
    ]
    assert any("local error while building IKE_AUTH response" in w for w in warnings)
    assert not any(PSK.decode() in w for w in warnings)
    # its retransmitted requests are dropped (no INVALID_SYNTAX); the initiator
    # gives up on its own
    request = _ike_auth_request(channel)
    assert _inject(r, request, src=i.addr, natt=True) == []
    monkeypatch.setattr(Manager, "encode", _ORIGINAL_ENCODE)
    roundtrip(i, r, now=1.0)
    assert i.of(ConnectionFailed), i.events
    assert not i.of(IkeEstablished)
    _still_serving(r, other)


def test_encoder_failure_on_established_sa_deletes_it(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A response we cannot encode on an established SA: that SA is deleted locally
    # (IkeDeleted) and the peer is told with a Delete; the other peer is unaffected.
    i, r, other = _setup(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(IkeEstablished)
    sa_r = next(sa for sa in r.ep.ike_sas() if sa.remote[0] == i.addr)
    monkeypatch.setattr(
        Manager,
        "encode",
        _failing_encode(
            lambda m, h, p: m is sa_r.manager and h.is_response and not p,
            OverflowError("length does not fit"),
        ),
    )
    i.ep.send_liveness(i.of(IkeEstablished)[0].sa, 10.0)
    roundtrip(i, r, now=10.0)
    deleted = [e for e in r.of(IkeDeleted) if e.sa == sa_r.handle]
    assert deleted
    assert "local error while building INFORMATIONAL" in deleted[0].reason
    assert sa_r.handle not in r.ep.sas
    assert i.of(IkeDeleted), i.events  # the Delete reached the initiator
    monkeypatch.setattr(Manager, "encode", _ORIGINAL_ENCODE)
    _still_serving(r, other)


def test_a_bug_in_a_timer_fails_that_sa_only(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    i, r, other = _setup(backend)
    i.ep.initiate("conn", 0.0)
    i.ep.datagrams_to_send(0.0)  # the IKE_SA_INIT request is lost
    (sa,) = i.ep.ike_sas()

    def broken(now: float) -> tuple[bytes, ...] | None:
        raise KeyError("bug")

    monkeypatch.setattr(sa.manager, "retransmit_due", broken)
    i.ep.handle_timer(100.0)  # must not raise
    i.drain()
    (failed,) = i.of(ConnectionFailed)
    assert "local error" in failed.reason
    assert "KeyError" in failed.reason
    assert not i.ep.sas
    _still_serving(r, other)


class _NoEspBackend:
    """A backend whose ESP SA construction fails (as for an SPI it refuses)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def esp_sa(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("ESP SPI refused by the backend")


def test_initiator_child_install_failure_keeps_the_ike_sa(backend: Backend) -> None:
    # The initiator cannot install its side of the IKE_AUTH child: the IKE SA stays
    # up on both sides and the responder's half of the child is deleted.
    i, r = initiator_and_responder(backend)
    i.ep.backend = _NoEspBackend(backend)  # type: ignore[assignment]
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(IkeEstablished)
    assert r.of(IkeEstablished)
    assert not i.of(ConnectionFailed)
    assert not i.of(IkeDeleted)
    assert not r.of(IkeDeleted)
    assert any("cannot install ESP SA" in e.reason for e in i.of(ChildDeleted))
    assert r.of(ChildEstablished), r.events
    assert r.of(ChildDeleted), r.events
    (sa_i,) = i.ep.ike_sas()
    (sa_r,) = r.ep.ike_sas()
    assert not sa_i.children
    assert not sa_r.children
    assert not i.ep._esp_in
    assert not r.ep._esp_in
