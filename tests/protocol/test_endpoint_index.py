# SPDX-License-Identifier: Apache-2.0
"""The endpoint's SA indexes (by our SPI, by the peer's IKE_SA_INIT) are kept in step
with its SAs, and forgetting one SA removes its own entries by key.

Forgetting used to scan both indexes whole for the entries of the SA at hand, so its
cost grew with the number of SAs the endpoint held (established ones, and deleted
ones lingering 30 s): a loopback soak of ``pqike respond`` at 350 handshakes/s (some
10,500 SAs held, mostly lingering) spent 1.75 ms of CPU per handshake instead of
0.8 ms, half of it in those two scans."""

from __future__ import annotations

from typing import Any, NoReturn

from pqike.crypto import Backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import ConnectionFailed, IkeDeleted, IkeEstablished

from .helpers import Peer, initiator_and_responder, roundtrip
from .test_handshake import _half_open_init

_IKE = "aes256gcm16-prfsha384-x25519"


class _NoScan(dict[Any, Any]):
    """An index that may be read, written and deleted from by key, not walked."""

    def _walk(self, *_: object) -> NoReturn:
        raise AssertionError("an SA index was walked through")

    __iter__ = items = keys = values = _walk


def _guard(*peers: Peer) -> None:
    for peer in peers:
        peer.ep._by_spi = _NoScan(peer.ep._by_spi)
        peer.ep._by_init = _NoScan(peer.ep._by_init)


def _indexed(ep: IkeEndpoint) -> tuple[int, int]:
    return dict.__len__(ep._by_spi), dict.__len__(ep._by_init)


def test_forgetting_sas_reads_only_their_own_index_entries(backend: Backend) -> None:
    i, r = initiator_and_responder(backend, ike=_IKE)
    _guard(i, r)
    handles = [i.ep.initiate("conn", 0.0) for _ in range(3)]
    now = roundtrip(i, r)
    assert len(r.of(IkeEstablished)) == 3
    # the initiator moved to the NAT-T port: the responder's SAs' remote changed
    assert {sa.remote[1] for sa in r.ep.sas.values()} == {4500}
    assert _indexed(r.ep) == (3, 3)
    assert _indexed(i.ep) == (3, 0)

    i.ep.delete_ike(handles[0], now)
    now = roundtrip(i, r, now=now)  # through the 30 s linger: forgotten
    assert len(r.of(IkeDeleted)) == 1
    assert len(r.ep.sas) == len(i.ep.sas) == 2
    assert _indexed(r.ep) == (2, 2)
    assert _indexed(i.ep) == (2, 0)

    for handle in handles[1:]:
        i.ep.delete_ike(handle, now)
    roundtrip(i, r, now=now)
    assert r.ep.sas == i.ep.sas == {}
    assert _indexed(r.ep) == _indexed(i.ep) == (0, 0)


def test_failed_and_half_open_sas_leave_no_index_entries(backend: Backend) -> None:
    i, r = initiator_and_responder(backend, ike=_IKE, responder_psk=b"not the key")
    _guard(i, r)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    assert r.of(ConnectionFailed)
    assert r.ep.sas == i.ep.sas == {}
    assert _indexed(r.ep) == _indexed(i.ep) == (0, 0)

    i, r = initiator_and_responder(backend, ike=_IKE)
    _guard(i, r)
    _half_open_init(i, r, 2)
    assert _indexed(r.ep) == (2, 2)
    r.ep.handle_timer(61.0)  # HALF_OPEN_TIMEOUT, then the linger time
    r.ep.handle_timer(200.0)
    assert r.ep.sas == {}
    assert _indexed(r.ep) == (0, 0)


def test_retry_after_invalid_ke_replaces_the_responder_sa(backend: Backend) -> None:
    i, r = initiator_and_responder(
        backend,
        ike="aes256gcm16-prfsha384-ecp256-x25519",
        responder_ike="aes256gcm16-prfsha384-x25519",
    )
    _guard(i, r)
    handle = i.ep.initiate("conn", 0.0)
    now = roundtrip(i, r)
    assert r.of(IkeEstablished)
    assert len(r.ep.sas) == 1  # the SA of the refused first IKE_SA_INIT is gone
    assert _indexed(r.ep) == (1, 1)
    i.ep.delete_ike(handle, now)
    roundtrip(i, r, now=now)
    assert _indexed(r.ep) == _indexed(i.ep) == (0, 0)
