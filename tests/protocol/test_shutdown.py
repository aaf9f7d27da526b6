# SPDX-License-Identifier: Apache-2.0
"""Shutting a responder down: no new IKE SA is admitted meanwhile, every
established one is deleted (also one whose IKE_AUTH was already on its way), and
the SAs other peers had started are not disturbed by the refusal."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pqike.bench.inprocess import Pair, pump
from pqike.bench.suites import CONN_NAME
from pqike.cli.common import EventLog, Peer
from pqike.cli.peer_session import _delete_all, _delete_established
from pqike.crypto import get_backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import ChildEstablished, IkeDeleted, IkeEstablished
from pqike.ikev2.sa import SaState

PAIR = Pair.for_suite("x25519")
BACKEND = get_backend("rust")


def _endpoint(initiator: bool) -> IkeEndpoint:
    config = PAIR.initiator if initiator else PAIR.responder
    return IkeEndpoint(config, BACKEND, os.urandom)


def _deliver(sender: IkeEndpoint, receiver: IkeEndpoint) -> int:
    """Move what ``sender`` has queued to ``receiver``; how many datagrams."""
    out = sender.datagrams_to_send(0.0)
    for data, local, remote in out:
        receiver.receive_datagram(data, remote, local, 0.0)
    return len(out)


def _events(ep: IkeEndpoint) -> list[object]:
    events = []
    while (event := ep.next_event()) is not None:
        events.append(event)
    return events


def _established(ep: IkeEndpoint) -> int:
    return sum(sa.state is SaState.ESTABLISHED for sa in ep.ike_sas())


class _Transport:
    """What ``_delete_established`` needs of a UdpTransport: run an action now."""

    def run(self, action: Any) -> Any:
        return action(0.0)


def test_refusing_endpoint_drops_new_requests_finishes_started_ones() -> None:
    responder, first = _endpoint(False), _endpoint(True)
    first.initiate(CONN_NAME, 0.0)
    assert _deliver(first, responder) == 1  # IKE_SA_INIT request: a half-open SA
    responder.accepting = False
    pump(first, responder)  # the started handshake runs to its Child SA
    assert any(isinstance(e, ChildEstablished) for e in _events(first))
    assert _established(responder) == 1

    late = _endpoint(True)
    late.initiate(CONN_NAME, 0.0)
    assert _deliver(late, responder) == 1
    assert len(responder.ike_sas()) == 1  # no SA for the late request
    assert responder.datagrams_to_send(0.0) == []  # and no answer

    responder.accepting = True  # a new attempt of the late initiator is admitted
    late.initiate(CONN_NAME, 0.0)
    pump(late, responder)
    assert any(isinstance(e, ChildEstablished) for e in _events(late))
    assert _established(responder) == 2


def test_an_sa_that_comes_up_during_shutdown_is_deleted_too() -> None:
    responder = _endpoint(False)
    up, arriving = _endpoint(True), _endpoint(True)
    up.initiate(CONN_NAME, 0.0)
    pump(up, responder)
    arriving.initiate(CONN_NAME, 0.0)
    _deliver(arriving, responder)  # IKE_SA_INIT request
    _deliver(responder, arriving)  # response; arriving queues its IKE_AUTH request
    peer = Peer(responder, _Transport(), EventLog(), PAIR.responder)
    asked: set[Any] = set()

    assert _delete_established(peer, asked) == 1  # a Delete for `up`
    assert len(asked) == 1
    assert _delete_established(peer, asked) == 1
    assert len(responder.datagrams_to_send(0.0)) == 1  # not a second Delete

    _deliver(arriving, responder)  # the IKE_AUTH that was on its way: SA up
    assert _established(responder) == 2
    assert _deliver(responder, arriving) == 1  # IKE_AUTH response
    assert any(isinstance(e, IkeEstablished) for e in _events(arriving))
    assert _delete_established(peer, asked) == 2  # ... and a Delete for it too
    assert len(asked) == 2
    delete = responder.datagrams_to_send(0.0)
    assert len(delete) == 1
    data, local, remote = delete[0]
    arriving.receive_datagram(data, remote, local, 0.0)
    assert any(isinstance(e, IkeDeleted) for e in _events(arriving))
    _deliver(arriving, responder)  # the Delete response
    assert _delete_established(peer, asked) == 1  # `up` has not answered yet


def test_shutdown_stops_admitting_new_sas() -> None:
    responder = _endpoint(False)
    peer = Peer(responder, _Transport(), EventLog(), PAIR.responder)
    asyncio.run(_delete_all(peer, timeout=0.01))
    assert responder.accepting is False
