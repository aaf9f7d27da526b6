# SPDX-License-Identifier: Apache-2.0
"""INVALID_KE_PAYLOAD and COOKIE retries, loss/duplication/reordering, wrong PSK."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pqike.config import Identity
from pqike.crypto import Backend
from pqike.ikev2.codec.message import decode_message
from pqike.ikev2.codec.payloads import KePayload, NotifyPayload
from pqike.ikev2.constants import NON_ESP_MARKER, NotifyType
from pqike.ikev2.events import (
    ConnectionFailed,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
)

from .helpers import R_ADDR, Channel, initiator_and_responder, roundtrip
from .test_handshake import esp_both_ways, exchanges


def _ike(data: bytes) -> bytes:
    return data[4:] if data.startswith(NON_ESP_MARKER) else data


def test_invalid_ke_payload_retry_with_named_method(backend: Backend) -> None:
    # initiator prefers ecp256 but also offers x25519; responder only takes x25519
    i, r = initiator_and_responder(
        backend,
        ike="aes256gcm16-prfsha384-ecp256-x25519-ke1_mlkem768",
        responder_ike="aes256gcm16-prfsha384-x25519-ke1_mlkem768",
    )
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    assert i.of(IkeEstablished)
    assert r.of(IkeEstablished)
    assert i.of(IkeEstablished)[0].suite.ke == "CURVE25519"
    inits = [
        decode_message(d) for s, d in channel.log if s == "i" and d[:4] != bytes(4)
    ]
    assert [m.find(KePayload).method for m in inits] == [19, 31]  # type: ignore[union-attr]
    first_reply = decode_message(next(d for s, d in channel.log if s == "r"))
    invalid = first_reply.notify(NotifyType.INVALID_KE_PAYLOAD)
    assert invalid is not None
    assert invalid.data == (31).to_bytes(2, "big")
    esp_both_ways(i, r)


def test_cookie_requested_and_sent_first(backend: Backend) -> None:
    i, r = initiator_and_responder(backend, cookie_threshold=0)
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    assert i.of(IkeEstablished)
    assert r.of(IkeEstablished)
    sent = [decode_message(_ike(d)) for s, d in channel.log if s == "i"][:2]
    cookie = decode_message(next(d for s, d in channel.log if s == "r"))
    assert cookie.payloads == (cookie.notify(NotifyType.COOKIE),)
    assert cookie.header.spi_r == bytes(8)
    first = sent[1].payloads[0]
    assert isinstance(first, NotifyPayload)
    assert first.notify_type == NotifyType.COOKIE
    assert first.data == cookie.payloads[0].data
    assert sent[0].find(NotifyPayload) != first
    assert len(r.ep.ike_sas()) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_loss_duplication_reordering_still_establish(
    backend: Backend, seed: int
) -> None:
    i, r = initiator_and_responder(backend)
    channel = Channel(loss=0.3, duplicate=0.3, reorder=True, seed=seed)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel, max_steps=2000)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events
    assert len(i.ep.ike_sas()) == len(r.ep.ike_sas()) == 1
    # the responder answered retransmissions from its cache: every exchange once
    assert exchanges(r) == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
    esp_both_ways(i, r)


def test_wrong_psk_authentication_failed_no_sa_either_side(backend: Backend) -> None:
    i, r = initiator_and_responder(backend, responder_psk=b"a different secret")
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    failed = i.of(ConnectionFailed)
    assert failed
    assert failed[0].notify == NotifyType.AUTHENTICATION_FAILED
    assert failed[0].remote[0] == R_ADDR  # the event names the peer
    assert r.of(ConnectionFailed)[0].notify == NotifyType.AUTHENTICATION_FAILED
    assert not i.of(IkeEstablished)
    assert not r.of(IkeEstablished)
    assert i.ep.ike_sas() == []
    assert r.ep.ike_sas() == []


def test_retransmits_exhausted_reports_failure(backend: Backend) -> None:
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=Channel(loss=1.0))
    assert "not responding" in i.of(ConnectionFailed)[0].reason
    assert i.ep.ike_sas() == []


def test_exchange_sizes_reported(backend: Backend) -> None:
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    sizes = {
        e.exchange: (e.request_size, e.response_size) for e in i.of(ExchangeCompleted)
    }
    assert sizes["IKE_INTERMEDIATE"][0] > 1184
    assert sizes["IKE_INTERMEDIATE"][1] > 1088
    assert sizes == {
        e.exchange: (e.request_size, e.response_size) for e in r.of(ExchangeCompleted)
    }


def test_initiator_rejects_responder_auth_and_tells_it(backend: Backend) -> None:
    """The initiator expects another responder ID: it fails with
    AUTHENTICATION_FAILED and its INFORMATIONAL makes the responder drop its SA."""
    i, r = initiator_and_responder(backend)
    conn = i.ep.config.connections["conn"]
    wrong = replace(conn, remote_id=Identity.parse("fqdn:someone.else"))
    i.ep.config = replace(i.ep.config, connections={"conn": wrong})
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(ConnectionFailed)[0].notify == NotifyType.AUTHENTICATION_FAILED
    assert r.of(IkeEstablished)  # the responder had accepted the initiator
    assert r.of(IkeDeleted)
    assert i.ep.ike_sas() == []
    assert r.ep.ike_sas() == []


def test_cookie_then_invalid_ke_keeps_the_cookie(backend: Backend) -> None:
    i, r = initiator_and_responder(
        backend,
        ike="aes256gcm16-prfsha384-ecp256-x25519-ke1_mlkem768",
        responder_ike="aes256gcm16-prfsha384-x25519-ke1_mlkem768",
        cookie_threshold=0,
    )
    channel = Channel()
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, channel=channel)
    assert i.of(IkeEstablished)
    inits = [
        decode_message(d) for s, d in channel.log if s == "i" and d[:4] != bytes(4)
    ]
    firsts = [m.payloads[0] for m in inits]
    assert len(inits) == 3  # plain, with cookie, with cookie and the named KE
    assert all(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.COOKIE
        for p in firsts[1:]
    )
    assert inits[2].find(KePayload).method == 31  # type: ignore[union-attr]


def test_zero_initiator_spi_is_dropped(backend: Backend) -> None:
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    data = bytes(8) + i.ep.datagrams_to_send(0.0)[0][0][8:]
    r.ep.receive_datagram(data, ("192.0.2.2", 500), ("192.0.2.1", 500), 0.0)
    assert r.ep.datagrams_to_send(0.0) == []
    assert r.ep.ike_sas() == []


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_cookie_and_invalid_ke_under_duplication_and_reordering(
    backend: Backend, seed: int
) -> None:
    i, r = initiator_and_responder(
        backend,
        ike="aes256gcm16-prfsha384-ecp256-x25519-ke1_mlkem768",
        responder_ike="aes256gcm16-prfsha384-x25519-ke1_mlkem768",
        cookie_threshold=0,
    )
    i.ep.initiate("conn", 0.0)
    channel = Channel(loss=0.2, duplicate=0.5, reorder=True, seed=seed)
    roundtrip(i, r, channel=channel, max_steps=3000)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events


def test_retransmitted_fragmented_request_answered_once_from_cache(
    backend: Backend,
) -> None:
    """RFC 7383 §2.6.1: only fragment 1 of a retransmitted request triggers the
    resend of the cached response; the work is not redone."""
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    for _ in range(2):  # IKE_SA_INIT there and back
        for ep_from, ep_to in ((i, r), (r, i)):
            for data, local, remote in ep_from.ep.datagrams_to_send(0.0):
                ep_to.ep.receive_datagram(data, remote, local, 0.0)
        if i.ep.ike_sas()[0].manager.next_mid == 2:
            break
    fragments = i.ep.datagrams_to_send(0.0)
    assert len(fragments) == 2  # the ML-KEM-768 KEi in two SKF fragments
    answers = []
    for _ in range(2):
        for data, local, remote in fragments:
            r.ep.receive_datagram(data, remote, local, 0.0)
            answers.append(len(r.ep.datagrams_to_send(0.0)))
    assert answers == [0, 1, 1, 0]
    r.drain()
    assert [e.exchange for e in r.of(ExchangeCompleted)].count("IKE_INTERMEDIATE") == 1
