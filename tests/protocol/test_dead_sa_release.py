# SPDX-License-Identifier: Apache-2.0
"""Secrets are let go as soon as their work is done.

* An established SA keeps no key-exchange object (ML-KEM decapsulation key, DH
  private key) once the IKE_INTERMEDIATE round derived its keys.
* A dead SA lingers DEAD_LINGER seconds to answer retransmitted requests; it does
  that from the response cache, so its keys, nonces and handshake state go at once,
  and it still answers a retransmitted Delete or IKE_SA_INIT the same way.
"""

from __future__ import annotations

from pqike.crypto import Backend
from pqike.ikev2.endpoint import IkeEndpoint
from pqike.ikev2.events import ConnectionFailed, IkeDeleted, IkeEstablished
from pqike.ikev2.sa import HALF_OPEN_TIMEOUT, IkeSa, SaState

from .helpers import Peer, initiator_and_responder, roundtrip


def _only_sa(ep: IkeEndpoint) -> IkeSa:
    (sa,) = ep.sas.values()
    return sa


Datagram = tuple[bytes, tuple[str, int], tuple[str, int]]


def _send(sender: Peer, receiver: Peer) -> list[Datagram]:
    """Deliver what ``sender`` queued to ``receiver``; the datagrams, each as
    ``(data, sender's address, receiver's address)``."""
    out = sender.ep.datagrams_to_send(0.0)
    for data, local, remote in out:
        receiver.ep.receive_datagram(data, remote, local, 0.0)
    return out


def _released(sa: IkeSa) -> None:
    assert sa.state is SaState.DEAD
    assert sa.keymat is None
    assert not sa._ciphers
    assert sa.multi_ke.kx is None
    assert sa.multi_ke.rounds == []
    assert (sa.ni, sa.nr, sa.init_response) == (b"", b"", b"")
    assert (sa.int_auth_i, sa.int_auth_r) == (b"", b"")
    assert len(sa.manager.reassembler) == 0


def _exchange(i: Peer, r: Peer) -> tuple[list[Datagram], list[Datagram]]:
    """Move datagrams both ways until both are quiet; what each side sent."""
    sent_i: list[Datagram] = []
    sent_r: list[Datagram] = []
    while True:
        moved = _send(i, r)
        sent_i += moved
        answered = _send(r, i)
        sent_r += answered
        if not moved and not answered:
            return sent_i, sent_r


def test_established_hybrid_sa_keeps_no_key_exchange(backend: Backend) -> None:
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    for peer in (i, r):
        peer.drain()
        assert peer.of(IkeEstablished)
        sa = _only_sa(peer.ep)
        assert sa.state is SaState.ESTABLISHED
        assert sa.intermediate_rounds == 1
        assert sa.multi_ke.kx is None


def test_deleted_sa_drops_its_keys_and_still_answers_a_retransmitted_delete(
    backend: Backend,
) -> None:
    i, r = initiator_and_responder(backend)
    i.ep.initiate("conn", 0.0)
    roundtrip(i, r)
    i.drain()
    r.drain()
    handle = _only_sa(i.ep).handle
    i.ep.delete_ike(handle, 0.0)
    request = i.ep.datagrams_to_send(0.0)
    assert len(request) == 1
    data, local, remote = request[0]
    r.ep.receive_datagram(data, remote, local, 0.0)
    answer = r.ep.datagrams_to_send(0.0)
    assert len(answer) == 1
    r.drain()
    assert r.of(IkeDeleted)
    _released(_only_sa(r.ep))  # lingering, without its secrets

    r.ep.receive_datagram(data, remote, local, 1.0)  # the Delete again
    assert [d for d, _, _ in r.ep.datagrams_to_send(1.0)] == [answer[0][0]]
    # ... and the initiator, which did get the answer, ends its SA as well
    resp, r_local, r_remote = answer[0]
    i.ep.receive_datagram(resp, r_remote, r_local, 1.0)
    i.drain()
    assert i.of(IkeDeleted)
    _released(_only_sa(i.ep))


def test_failed_ike_sa_init_still_recognises_its_retransmission(
    backend: Backend,
) -> None:
    i, r = initiator_and_responder(
        backend,
        ike="aes256gcm16-prfsha384-x25519",
        responder_ike="aes128gcm16-prfsha256-ecp256",
    )
    i.ep.initiate("conn", 0.0)
    ((request, _, _),) = _send(i, r)
    answer = r.ep.datagrams_to_send(0.0)  # NO_PROPOSAL_CHOSEN
    assert len(answer) == 1
    sa = _only_sa(r.ep)
    assert sa.state is SaState.DEAD
    assert sa.init_request == request  # kept: it identifies a retransmission
    data, local, remote = answer[0]
    r.ep.receive_datagram(request, local, remote, 1.0)  # from the same peer
    assert [d for d, _, _ in r.ep.datagrams_to_send(1.0)] == [data]
    assert list(r.ep.sas.values()) == [sa]  # no second SA for the retransmission
    i.ep.receive_datagram(data, remote, local, 1.0)
    i.drain()
    assert i.of(ConnectionFailed)


def test_sa_failed_at_ike_auth_drops_its_keys_and_answers_the_retransmission(
    backend: Backend,
) -> None:
    i, r = initiator_and_responder(backend, responder_psk=b"another-psk-0123456789")
    i.ep.initiate("conn", 0.0)
    sent_i, sent_r = _exchange(i, r)  # ... IKE_AUTH: AUTHENTICATION_FAILED
    r.drain()
    assert r.of(ConnectionFailed)
    sa = _only_sa(r.ep)
    _released(sa)  # it had keys: they are gone
    ike_auth, local, remote = sent_i[-1]
    r.ep.receive_datagram(ike_auth, remote, local, 1.0)  # the IKE_AUTH again
    assert [d for d, _, _ in r.ep.datagrams_to_send(1.0)] == [sent_r[-1][0]]


def test_half_open_timeout_drops_fragments_held_for_reassembly(
    backend: Backend,
) -> None:
    i, r = initiator_and_responder(backend)  # its IKE_INTERMEDIATE request: 2 frags
    i.ep.initiate("conn", 0.0)
    _send(i, r)  # IKE_SA_INIT request
    _send(r, i)  # response; the initiator queues IKE_INTERMEDIATE in 2 fragments
    fragments = i.ep.datagrams_to_send(0.0)
    assert len(fragments) == 2
    data, local, remote = fragments[0]
    r.ep.receive_datagram(data, remote, local, 0.0)
    sa = _only_sa(r.ep)
    assert len(sa.manager.reassembler) == 1  # verified, decrypted, kept
    r.ep.handle_timer(HALF_OPEN_TIMEOUT + 1.0)
    _released(sa)
