# SPDX-License-Identifier: Apache-2.0
"""INFORMATIONAL exchanges: liveness, Child SA delete, IKE SA delete (both sides)."""

from __future__ import annotations

import pytest

from pqike.crypto import Backend
from pqike.ikev2.events import (
    ChildDeleted,
    ChildEstablished,
    ExchangeCompleted,
    IkeDeleted,
    IkeEstablished,
)

from .helpers import Channel, initiator_and_responder, roundtrip
from .test_handshake import establish


def test_liveness_check(backend: Backend) -> None:
    i, r = establish(backend)
    i.ep.send_liveness(i.of(IkeEstablished)[0].sa, 10.0)
    roundtrip(i, r, now=10.0)
    last = i.of(ExchangeCompleted)[-1]
    assert (last.exchange, last.message_id) == ("INFORMATIONAL", 3)
    assert r.of(ExchangeCompleted)[-1].exchange == "INFORMATIONAL"


def test_delete_child_sa(backend: Backend) -> None:
    i, r = establish(backend)
    sa = i.of(IkeEstablished)[0].sa
    child = i.of(ChildEstablished)[0].child
    i.ep.delete_child(sa, child, 10.0)
    roundtrip(i, r, now=10.0)
    assert [e.child for e in i.of(ChildDeleted)] == [child]
    assert [e.child for e in r.of(ChildDeleted)] == [r.of(ChildEstablished)[0].child]
    assert len(i.ep.ike_sas()) == len(r.ep.ike_sas()) == 1
    assert not i.ep.ike_sas()[0].children
    assert not r.ep.ike_sas()[0].children


def test_delete_ike_sa_from_initiator(backend: Backend) -> None:
    i, r = establish(backend)
    i.ep.delete_ike(i.of(IkeEstablished)[0].sa, 10.0)
    roundtrip(i, r, now=10.0, channel=Channel(loss=0.3, seed=4))
    assert i.of(IkeDeleted)
    assert r.of(IkeDeleted)
    assert i.of(ChildDeleted)
    assert r.of(ChildDeleted)
    assert i.ep.ike_sas() == r.ep.ike_sas() == []


def test_delete_ike_sa_from_responder(backend: Backend) -> None:
    i, r = establish(backend)
    r.ep.delete_ike(r.of(IkeEstablished)[0].sa, 10.0)
    roundtrip(i, r, now=10.0)
    assert i.of(IkeDeleted)
    assert r.of(IkeDeleted)
    assert i.ep.ike_sas() == r.ep.ike_sas() == []
    last = r.of(ExchangeCompleted)[-1]
    assert (last.exchange, last.is_initiator, last.message_id) == (
        "INFORMATIONAL",
        True,
        0,
    )


def test_dpd_liveness_after_silence_and_dead_peer_detected(backend: Backend) -> None:
    from dataclasses import replace

    i, r = initiator_and_responder(backend)
    conn = replace(i.ep.config.connections["conn"], dpd_delay=30.0)
    i.ep.config = replace(i.ep.config, connections={"conn": conn})
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r, until=lambda: bool(i.of(IkeEstablished)))
    assert i.ep.get_timer() == pytest.approx(30.0, abs=1.0)
    roundtrip(i, r, until=lambda: len(i.of(ExchangeCompleted)) == 4)
    assert i.of(ExchangeCompleted)[-1].exchange == "INFORMATIONAL"
    # the peer goes away: liveness fails, the SA is deleted
    roundtrip(i, r, channel=Channel(loss=1.0), now=100.0)
    assert i.of(IkeDeleted)
    assert i.ep.ike_sas() == []
