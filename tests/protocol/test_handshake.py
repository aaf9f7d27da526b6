# SPDX-License-Identifier: Apache-2.0
"""Full handshakes between two in-memory endpoints (IKE_SA_INIT .. IKE_AUTH + ESP)."""

from __future__ import annotations

import pytest
from pqike.crypto import Backend
from pqike.ikev2.events import (
    ChildEstablished,
    EspReceived,
    ExchangeCompleted,
    IkeEstablished,
)

from .helpers import Peer, initiator_and_responder, roundtrip


def establish(backend: Backend, **options: object) -> tuple[Peer, Peer]:
    """Run a handshake and check both sides report IKE and Child SA up."""
    i, r = initiator_and_responder(backend, **options)  # type: ignore[arg-type]
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert i.of(IkeEstablished), i.events
    assert r.of(IkeEstablished), r.events
    assert i.of(ChildEstablished), i.events
    assert r.of(ChildEstablished), r.events
    return i, r


def exchanges(peer: Peer) -> list[str]:
    return [e.exchange for e in peer.of(ExchangeCompleted)]


def esp_both_ways(i: Peer, r: Peer) -> None:
    ci = i.of(ChildEstablished)[0].child
    cr = r.of(ChildEstablished)[0].child
    i.ep.send_esp(ci, b"ping from initiator")
    r.ep.send_esp(cr, b"pong from responder", 41)
    roundtrip(i, r)
    assert [(e.payload, e.next_header) for e in r.of(EspReceived)] == [
        (b"ping from initiator", 4)
    ]
    assert [(e.payload, e.next_header) for e in i.of(EspReceived)] == [
        (b"pong from responder", 41)
    ]


def test_hybrid_x25519_mlkem768_establishes_with_esp(backend: Backend) -> None:
    i, r = establish(backend)
    assert exchanges(i) == ["IKE_SA_INIT", "IKE_INTERMEDIATE", "IKE_AUTH"]
    suite = i.of(IkeEstablished)[0].suite
    assert (suite.ke, suite.addke) == ("CURVE25519", ("ML_KEM_768",))
    assert suite == r.of(IkeEstablished)[0].suite
    esp_both_ways(i, r)


@pytest.mark.parametrize(
    "ike",
    [
        "aes256gcm16-prfsha384-x25519",
        "aes128gcm16-prfsha256-ecp256",
        "aes256gcm16-prfsha384-mlkem768",
    ],
)
def test_single_ke_without_addke(backend: Backend, ike: str) -> None:
    i, r = establish(backend, ike=ike, fragment_size=9000)
    assert exchanges(i) == ["IKE_SA_INIT", "IKE_AUTH"]
    assert i.of(IkeEstablished)[0].suite.addke == ()
    esp_both_ways(i, r)
